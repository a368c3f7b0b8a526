"""The ``bounded-lr`` main job's own config: its schema, stored in Hydra's ConfigStore, and every key's rule.

One dataclass per node (:class:`JobConf` at the root, :class:`OptimizerConf`, one per task:
:class:`PreviewTaskConf`, :class:`TrainTaskConf`), with each key's default, comment and rule in
one place; ``conf/config.yaml`` and ``conf/task/*.yaml`` list them in their defaults and hold no
copy. The structure is enforced at compose time (``optimizer.bogus=1`` is refused by Hydra,
naming the key). The values are typed ``Any`` for OmegaConf and checked by :func:`check_job`
against their rules instead: OmegaConf's conversion error (``Value 'abc' of type 'str' could not
be converted to Float``) would answer first, in another format, and say nothing of the range, so
every key of the job gets the same message, ``bounded-lr: optimizer.lr must be a finite number >
0, got optimizer.lr='abc' (str)``, before the job loads torch or writes a file. The scheduler node
is typed by its own schema (:mod:`bounded_lr_resolver.schema`) and validates itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from omegaconf import DictConfig, ListConfig, OmegaConf

from bounded_lr_resolver.checks import check_count, check_lr
from bounded_lr_resolver.derived import declared
from bounded_lr_resolver.errors import BoundedLRError, bad_type, bad_value

__all__ = [
    "JOB",
    "TASKS",
    "JobConf",
    "OptimizerConf",
    "PreviewTaskConf",
    "TrainTaskConf",
    "check_job",
    "register_job_schema",
    "train_task",
]

JOB: Final = "bounded-lr"
_TARGET: Final = "bounded_lr_resolver.build_scheduler"

_Rule = Callable[[str, Any], Any]
"""A key's rule: ``rule(dotted_name, value)`` returns the value normalized or raises our error."""


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise bad_type(JOB, name, "true or false", value)
    return value


def _lr(name: str, value: object) -> float:
    return check_lr(JOB, name, value)


def _group_lrs(name: str, value: object) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, (ListConfig, list)) or len(value) == 0:
        raise bad_type(JOB, name, "a non-empty list of learning rates, or null", value)
    return [check_lr(JOB, f"{name}[{index}]", lr) for index, lr in enumerate(value)]


def _path(name: str, value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise bad_type(JOB, name, "a checkpoint path (or null)", value)
    return value


def _count(minimum: int) -> _Rule:
    def rule(name: str, value: object) -> int:
        return check_count(JOB, name, value, minimum=minimum)

    return rule


def _every(name: str, value: object) -> int | None:
    return None if value is None else check_count(JOB, name, value)


def _momentum(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(JOB, name, "a number in [0, 1)", value)
    if not 0 <= value < 1:  # also refuses NaN
        raise bad_value(JOB, name, "a number in [0, 1)", {name: value})
    return float(value)


def _named(task: str) -> _Rule:
    def rule(name: str, value: object) -> str:
        if value != task:
            raise bad_value(
                JOB,
                name,
                f"{task!r}, the option chosen with task={task}",
                {name: value},
                "Choose the task with task=preview or task=train",
            )
        return task

    return rule


@dataclass
class OptimizerConf:
    """``optimizer``: the SGD optimizer the job builds (``task=train``, or a preview that needs torch)."""

    # the optimizer starts where the schedule starts
    lr: Any = field(default="${scheduler.initial_lr}", metadata={"rule": _lr})
    # preview: true builds lr=torch.tensor(...), as compiled optimizers use
    tensor_lr: Any = field(default=False, metadata={"rule": _flag})
    # preview: e.g. [0.01, 0.1], one param group each (the largest must be initial_lr)
    group_lrs: Any = field(default=None, metadata={"rule": _group_lrs})


@dataclass
class PreviewTaskConf:
    """``task=preview``: the closed-form LR at every step, the bounds check, the CSV and plot."""

    name: Any = field(default="preview", metadata={"rule": _named("preview")})


@dataclass
class TrainTaskConf:
    """``task=train``: a small MLP trained with the schedule on generated data (no download)."""

    name: Any = field(default="train", metadata={"rule": _named("train")})
    samples: Any = field(default=4096, metadata={"rule": _count(1)})  # generated data points
    features: Any = field(default=16, metadata={"rule": _count(1)})
    hidden: Any = field(default=64, metadata={"rule": _count(1)})
    batch_size: Any = field(default=64, metadata={"rule": _count(1)})
    momentum: Any = field(default=0.9, metadata={"rule": _momentum})  # SGD momentum, in [0, 1)
    seed: Any = field(default=0, metadata={"rule": _count(0)})  # data, initial weights, batch order
    progress: Any = field(default=True, metadata={"rule": _flag})  # progress bar with loss and LR
    # write step_<n>.ckpt every n steps (null: only last.ckpt at the end), to resume or branch from
    save_every: Any = field(default=None, metadata={"rule": _every})


@dataclass
class JobConf:
    """The ``bounded-lr`` job's root: ``scheduler`` and ``task`` come from their groups."""

    scheduler: Any = None  # scheduler=<a shipped bounded_lr option>, typed by its own schema
    task: Any = None  # task=preview | train: PreviewTaskConf | TrainTaskConf
    optimizer: OptimizerConf = field(default_factory=OptimizerConf)
    # preview: also step the real scheduler through all max_steps and compare every LR
    verify: Any = field(default=False, metadata={"rule": _flag})
    # a checkpoint: the preview shows the rest of that run under this config, task=train trains it
    # (scheduler.on_resume_change=replan re-plans a changed one, scheduler.cooldown branches it)
    resume_from: Any = field(default=None, metadata={"rule": _path})
    # true: also write schedule.png (loads matplotlib: about half a second more)
    plot: Any = field(default=False, metadata={"rule": _flag})


TASKS: Final[dict[str, type]] = {"preview": PreviewTaskConf, "train": TrainTaskConf}
"""Each ``task`` option's schema, by the option's name."""

_STORED: Final[dict[str, type]] = {
    "bounded_lr_job": JobConf,
    **{f"bounded_lr_job_{name}": schema for name, schema in TASKS.items()},
}
"""What :func:`register_job_schema` stores, by name (root configs, so ``--help`` lists no group)."""


def register_job_schema() -> None:
    """Store the job's schemas in this process's ConfigStore (the main job only; safe to call twice)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for name, schema in _STORED.items():
        store.store(name=name, node=schema)


def _checked(cfg: DictConfig, path: str, schema: type) -> dict[str, Any]:
    """Every ruled key of ``schema`` in the node at ``path`` of ``cfg``, checked and normalized, by field."""
    node = OmegaConf.select(cfg, path) if path else cfg
    assert isinstance(node, DictConfig)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(schema):
        rule: _Rule | None = item.metadata.get("rule")
        if rule is None:
            continue
        name = f"{path}.{item.name}" if path else item.name
        try:
            values[item.name] = rule(name, node[item.name])
        except BoundedLRError:
            if OmegaConf.is_interpolation(node, item.name):
                _check_scheduler(cfg)  # the value comes from there: its own error, at the key it was set
            raise
    return values


def _check_scheduler(cfg: DictConfig) -> None:
    """Check the scheduler node's bounds as ``build_scheduler`` would (raising its error), without torch."""
    node = cfg.get("scheduler")
    if isinstance(node, DictConfig) and node.get("_target_") == _TARGET:
        fields = OmegaConf.to_container(node, resolve=True)
        assert isinstance(fields, dict)
        declared({str(key): value for key, value in fields.items() if not str(key).startswith("_")})


def _task_schema(cfg: DictConfig) -> type:
    task = cfg.get("task")
    schema = OmegaConf.get_type(task) if isinstance(task, DictConfig) else None
    if schema not in TASKS.values():
        raise bad_value(
            JOB, "task", f"one of the options {list(TASKS)} (task=preview or task=train)", {"task": task}
        )
    assert isinstance(schema, type)
    return schema


def check_job(cfg: DictConfig) -> None:
    """Check every key of the job's own config against its rule (the scheduler node checks itself).

    Then what the keys mean together: ``task=train`` trains one float-LR param group, so a key
    that only the preview reads (``optimizer.tensor_lr``, ``optimizer.group_lrs``) is refused there
    rather than ignored; ``resume_from`` must exist.
    """
    job = _checked(cfg, "", JobConf)
    optimizer = _checked(cfg, "optimizer", OptimizerConf)
    schema = _task_schema(cfg)
    _checked(cfg, "task", schema)
    if schema is TrainTaskConf:
        preview_only = {
            "optimizer.tensor_lr": (optimizer["tensor_lr"], False, "the MLP trains with a float LR"),
            "optimizer.group_lrs": (optimizer["group_lrs"], None, "the MLP trains with one param group"),
        }
        for name, (value, default, why) in preview_only.items():
            if value != default:
                raise bad_value(
                    JOB,
                    name,
                    f"{str(default).lower() if default is not None else 'null'} with task=train ({why})",
                    {name: value},
                    f"{name} is for the preview: drop task=train, or drop {name}",
                )
    resume_from = job["resume_from"]
    if resume_from is not None and not Path(resume_from).is_file():
        raise bad_value(JOB, "resume_from", "an existing checkpoint file", {"resume_from": resume_from})


def train_task(cfg: DictConfig) -> TrainTaskConf:
    """``cfg.task`` of ``task=train``, checked, with each value normalized (``samples=4e3`` is 4000)."""
    if _task_schema(cfg) is not TrainTaskConf:
        raise bad_value(JOB, "task.name", "'train' to train", {"task.name": cfg.task.get("name")})
    return TrainTaskConf(**_checked(cfg, "task", TrainTaskConf))
