"""A declared phase list (``kind="phases"``), validated: ``[{shape, steps, end_lr, ...}, ...]`` -> phases.

Each entry is a mapping of ``shape``, ``steps`` (steps or a duration), ``end_lr`` (left out: the
phase ends where it started; for ``inverse_sqrt`` with a ``timescale``: where its curve leads),
``rewarm`` (the LR may rise), ``start_lr`` (a restart) and its shape's parameters. The steps of the
phases add up to ``max_steps - warmup_steps``; ``final_lr``, if given, is the last ``end_lr``.
Every rule of :class:`~bounded_lr_resolver.phases.Plan` is then checked, naming the phase by its
own index (the warmup before it is not one of them).

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

from bounded_lr_resolver.checks import check_count, check_floor
from bounded_lr_resolver.durations import Context, steps_of
from bounded_lr_resolver.errors import bad_type, bad_value
from bounded_lr_resolver.phases import Phase, Plan
from bounded_lr_resolver.shapes import SHAPES

__all__ = ["PHASE_KEYS", "declared_phases"]

PHASE_KEYS: Final = ("shape", "steps", "end_lr", "start_lr", "rewarm")
"""The keys of a declared phase, besides its shape's parameters."""


def declared_phases(
    where: str,
    phases: object,
    *,
    initial_lr: float,
    final_lr: object,
    final_lr_at: str,
    warmup_steps: int,
    context: Context,
) -> tuple[Phase, ...]:
    """The declared phases, validated against the run (``context.max_steps``) and its warmup."""
    if final_lr_at != "max_steps":
        raise bad_value(
            where,
            "final_lr_at",
            "'max_steps' with phases (the phases say where each LR is reached)",
            {"final_lr_at": final_lr_at},
            "Append {shape: constant, steps: 1} to train the last step at the final LR",
        )
    if not isinstance(phases, Sequence) or isinstance(phases, (str, bytes)) or not phases:
        raise bad_type(where, "phases", "a non-empty list of {shape, steps, end_lr, ...} mappings", phases)
    declared: list[Phase] = []
    at = initial_lr
    for index, entry in enumerate(phases):
        declared.append(_phase(where, index, entry, at, context))
        at = declared[-1].end_lr
    max_steps = context.max_steps or 0
    total = warmup_steps + sum(phase.steps for phase in declared)
    if total != max_steps:
        raise bad_value(
            where,
            "phases",
            "steps that add up to max_steps - warmup_steps",
            {
                "sum of phases' steps": total - warmup_steps,
                "max_steps": max_steps,
                "warmup_steps": warmup_steps,
            },
            f"Make them add up to {max_steps - warmup_steps}, or use durations ('0.5dur')",
        )
    last = declared[-1].end_lr
    if final_lr is not None and check_floor(where, "final_lr", final_lr) != last:
        raise bad_value(
            where,
            "final_lr",
            "the last phase's end_lr (or left out)",
            {"final_lr": final_lr, f"phases[{len(declared) - 1}].end_lr": last},
        )
    Plan(initial_lr, declared, initial_lr, where)  # every rule, named by the phases' own index
    return tuple(declared)


def _phase(where: str, index: int, entry: object, at: float, context: Context) -> Phase:
    name = f"phases[{index}]"
    if not isinstance(entry, Mapping):
        raise bad_type(where, name, "a mapping {shape, steps, end_lr, ...}", entry)
    shape = SHAPES.get(str(entry.get("shape")))
    if shape is None:
        raise bad_value(
            where, f"{name}.shape", f"one of {list(SHAPES)}", {f"{name}.shape": entry.get("shape")}
        )
    known = (*PHASE_KEYS, *(p.name for p in shape.params))
    unknown = sorted(str(key) for key in entry if key not in known)
    if unknown:
        raise bad_value(where, f"{name} keys", f"among {list(known)}", {f"{name} keys": unknown})
    steps = steps_of(where, f"{name}.steps", entry.get("steps"), context)
    restart = entry.get("start_lr")
    if index == 0 and restart is not None:
        raise bad_value(
            where,
            f"{name}.start_lr",
            "left out for the first phase (it starts where warmup ends, at initial_lr)",
            {f"{name}.start_lr": restart},
            "A restart is a later phase's start_lr; to start lower, lower initial_lr",
        )
    start = at if restart is None else check_floor(where, f"{name}.start_lr", restart)
    rewarm = entry.get("rewarm", False)
    if not isinstance(rewarm, bool):
        raise bad_type(where, f"{name}.rewarm", "true or false", rewarm)
    values = {p.name: entry[p.name] for p in shape.params if entry.get(p.name) is not None}
    end = entry.get("end_lr")
    timescale = values.get("timescale") if shape.name == "inverse_sqrt" else None
    if end is None and timescale is not None:
        scale = check_count(where, f"{name}.timescale", timescale)
        end = start * math.sqrt(scale / (scale + steps))  # where Hugging Face's curve leads
    elif end is None:
        end = start  # a phase without end_lr ends where it started
    elif timescale is not None:
        raise bad_value(
            where,
            f"{name}.end_lr",
            "left out when timescale is given (the phase ends where its curve leads)",
            {f"{name}.end_lr": end, "timescale": timescale},
        )
    end = check_floor(where, f"{name}.end_lr", end)
    return Phase(shape.name, steps, end, tuple(values.items()), None if restart is None else start, rewarm)
