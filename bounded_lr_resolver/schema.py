"""Typed schemas of the shipped ``bounded_lr`` options, generated from the options and the shape registry.

Each option of :data:`~bounded_lr_resolver.options.OPTIONS` becomes one dataclass: the fields every
option has, the fields of its kind (``n_updates``, ``power``, ``decay_steps``, ``phases``, ...:
the shape registry says which), its derived scalars (``gamma``, ``step_size``: ``${blr.derived:...}``,
computed from the node itself, never a derived list), and the option's own defaults. The plugin
serves them as the group ``bounded_lr`` (``bounded_lr@scheduler: step``), built on first use, so a
wrong type on the command line (``scheduler.final_lr=abc``, ``scheduler.n_updates=1.5``) fails at
compose time with OmegaConf's type error naming the key. There is no YAML copy to drift.

Lengths (``max_steps``, ``warmup_steps``, ``decay_steps``) take steps or durations (``"0.1dur"``),
so they are typed ``Any`` and checked by ``build_scheduler`` (and the preflight) with our message.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from functools import cache
from typing import Any, List, Optional  # noqa: UP035 - OmegaConf 2.3 reads typing's forms only

from omegaconf import DictConfig, OmegaConf

from bounded_lr_resolver.bounds import SHAPE_KINDS, STEP_KINDS
from bounded_lr_resolver.fields import STABLE_KINDS
from bounded_lr_resolver.options import COMMON, OPTIONS
from bounded_lr_resolver.schedule import DECAY_SHAPES, WARMUP_SHAPES
from bounded_lr_resolver.shapes import SHAPES

__all__ = ["FIELD_DOCS", "schema", "schema_node"]

TARGET = "bounded_lr_resolver.build_scheduler"

FIELD_DOCS: dict[str, str] = {
    "_target_": "instantiate() gives a partial: call it with optimizer= (and any bound known only at run "
    "time)",
    "kind": "step | multistep | exponential | a shape | wsd | phases",
    "initial_lr": "the peak LR (where warmup ends), the optimizer's lr (null: taken from the optimizer)",
    "final_lr": "the LR the schedule ends at, exactly (0 decays to zero)",
    "max_steps": "training length in scheduler steps (one step() per optimizer.step()), or 3ep / 2Btok; "
    "null: set at run time (call the partial with max_steps=)",
    "expected_max_steps": "with max_steps: null, the horizon the run expects: checked before a sweep starts",
    "final_lr_at": "max_steps: the LR is final_lr after max_steps steps; last_step: step max_steps-1 "
    "trains at it",
    "warmup_steps": "warmup steps before the phases, or a duration: 0.05dur, 1ep",
    "warmup_start_factor": "warmup starts at initial_lr * warmup_start_factor",
    "warmup_shape": " | ".join(WARMUP_SHAPES),
    "steps_per_epoch": "optimizer steps per epoch, for lengths in ep",
    "tokens_per_step": "tokens per optimizer step (global batch x sequence length), for lengths in tok",
    "on_resume_change": "refuse | replan: resuming a checkpoint saved under other bounds",
    "cooldown": "a stable run's branch: {shape, steps, end_lr} (or a list), after the checkpoint's step",
    "branch_of_branch": "true: a cooldown may also branch from a checkpoint taken inside a branch",
    "n_updates": "number of decays",
    "gamma": "derived: (final_lr / initial_lr) ** (1 / n_updates)",
    "step_size": "derived: steps between decays",
    "decay_steps": "length of the final decay, in [1, max_steps - warmup_steps], or a duration",
    "decay_shape": " | ".join(DECAY_SHAPES),
    "phases": "[{shape, steps, end_lr, rewarm, start_lr, <shape parameters>}, ...]",
    **{param.name: param.doc for shape in SHAPES.values() for param in shape.params},
}
"""One line of doc per field, as ``--cfg job`` readers and the docs show it."""

_TYPES: dict[str, Any] = {
    "_target_": str,
    "kind": str,
    "initial_lr": Optional[float],  # noqa: UP045 - null: the optimizer's lr
    "final_lr": Optional[float],  # noqa: UP045
    "max_steps": Any,
    "final_lr_at": str,
    "warmup_steps": Any,
    "warmup_start_factor": float,
    "warmup_shape": str,
    "steps_per_epoch": Optional[int],  # noqa: UP045
    "tokens_per_step": Optional[int],  # noqa: UP045
    "on_resume_change": str,
    "cooldown": Any,
    "branch_of_branch": bool,
    "expected_max_steps": Optional[int],  # noqa: UP045
    "n_updates": Optional[int],  # noqa: UP045 - derived (exponential), None while max_steps is
    "gamma": Optional[float],  # noqa: UP045 - set at run time
    "step_size": Optional[int],  # noqa: UP045
    "decay_steps": Any,
    "decay_shape": str,
    "phases": List[Any],  # noqa: UP006
}


def _kind_fields(kind: str) -> dict[str, Any]:
    """The fields of ``kind`` beyond the common ones, with their defaults (derived ones interpolated):
    what the kind's own option declares beyond :data:`~bounded_lr_resolver.options.COMMON`, or a
    shape's parameters (from the registry)."""
    own = {key: value for key, value in OPTIONS[kind][2].items() if key not in COMMON}
    if kind in STEP_KINDS:
        values: dict[str, Any] = {
            "n_updates": "${blr.derived:n_updates}" if kind == "exponential" else own["n_updates"]
        }
        values["gamma"] = "${blr.derived:gamma}"
        if kind == "step":
            values["step_size"] = "${blr.derived:step_size}"
        return values
    if kind not in SHAPES:  # wsd, phases
        return own
    assert kind in SHAPE_KINDS
    return {p.name: p.default for p in SHAPES[kind].params if p.kind_level}


def _type(name: str) -> Any:
    """A field's type: the common ones above, a shape parameter's own (optional where it has no default)."""
    if name in _TYPES:
        return _TYPES[name]
    param = next(p for shape in SHAPES.values() for p in shape.params if p.name == name)
    return param.type if param.default not in (None, ...) else Optional[param.type]  # noqa: UP045


@cache
def schema(name: str) -> type:
    """The dataclass of the shipped option ``name`` (a key of "
    ":data:`~bounded_lr_resolver.options.OPTIONS`)."""
    kind, doc, declared = OPTIONS[name]
    own = _kind_fields(kind)
    derived = [key for key in ("gamma", "step_size") if key in own]
    values: dict[str, Any] = {"_target_": TARGET, "kind": kind, **COMMON, **own, **declared}
    values.update(steps_per_epoch=None, tokens_per_step=None, on_resume_change="refuse")
    values.update(expected_max_steps=None)
    if kind in STABLE_KINDS:  # a stable run's option can declare a cooldown branch
        values.update(cooldown=None, branch_of_branch=False)
    first = ["_target_", "kind", "initial_lr", "final_lr", "max_steps"]
    middle = [key for key in own if key not in derived]
    order = [*first, *middle, *(k for k in values if k not in {*first, *middle, *derived}), *derived]
    fields = []
    for key in order:
        default = values[key]
        if default is ...:
            default = None  # a required shape parameter: the option gives a value, or the build names it
        if isinstance(default, list):
            default = dataclasses.field(default_factory=functools.partial(copy.deepcopy, default))
        fields.append((key, _type(key), default))
    cls = dataclasses.make_dataclass(f"Bounded_{name}_Conf", fields)
    cls.__doc__ = f"bounded_lr/{name}: {doc}"
    cls.__module__ = __name__
    return cls


def schema_node(name: str) -> DictConfig:
    """The typed config of ``bounded_lr/<name>``."""
    node: DictConfig = OmegaConf.structured(schema(name))
    return node
