"""Typed schemas of the shipped ``scheduler`` configs, registered in Hydra's ConfigStore.

Each YAML option in ``conf/scheduler/`` starts from its schema
(``defaults: [/bounded_lr_schema/<kind>@_here_]``), so a wrong type on the command line
(``scheduler.final_lr=abc``, ``scheduler.n_updates=1.5``) fails at compose time with OmegaConf's
type error naming the key, before anything runs. A test checks that each YAML file and its schema
have the same keys and defaults.

This module is imported by the Hydra plugin, so it imports nothing heavier than Hydra itself.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

__all__ = [
    "SCHEMA_GROUP",
    "BoundedExponentialConf",
    "BoundedMultiStepConf",
    "BoundedSchedulerConf",
    "BoundedStepConf",
    "register_schemas",
]

SCHEMA_GROUP = "bounded_lr_schema"
"""The ConfigStore group holding the schemas (``step``, ``multistep``, ``exponential``)."""

_GAMMA = "${lr_gamma:${.initial_lr},${.final_lr},${.n_updates}}"
_DERIVED_ARGS = "${.max_steps},${.n_updates},${.warmup_steps},${.final_lr_at}"


@dataclass
class BoundedSchedulerConf:
    """Fields every bounded scheduler config has (the keyword arguments of build_scheduler)."""

    _target_: str = "bounded_lr_resolver.build_scheduler"  # the factory Hydra calls
    _partial_: bool = True  # instantiate() returns a callable taking optimizer=
    kind: str = "step"  # step | multistep | exponential
    initial_lr: float = 0.1  # LR at the start of the decay (the optimizer's lr)
    final_lr: float = 1e-4  # LR the decay ends at, in (0, initial_lr]
    max_steps: int = 1_000_000  # training length in scheduler steps (one step() per optimizer.step())
    n_updates: int = 10_000  # number of decays
    final_lr_at: str = "max_steps"  # max_steps | last_step: which step first has final_lr
    warmup_steps: int = 0  # linear warmup steps before the decay
    warmup_start_factor: float = 0.0  # warmup starts at initial_lr * warmup_start_factor
    gamma: float = _GAMMA  # type: ignore[assignment]  # derived: (final_lr / initial_lr) ** (1 / n_updates)


@dataclass
class BoundedStepConf(BoundedSchedulerConf):
    """kind=step: decays every step_size steps (torch StepLR shape)."""

    step_size: int = f"${{lr_step:{_DERIVED_ARGS}}}"  # type: ignore[assignment]  # derived step size


@dataclass
class BoundedMultiStepConf(BoundedSchedulerConf):
    """kind=multistep: exactly n_updates evenly spread milestones (torch MultiStepLR shape)."""

    kind: str = "multistep"  # step | multistep | exponential
    milestones: list[int] = field(  # derived decay steps
        default_factory=lambda: f"${{lr_milestones:{_DERIVED_ARGS}}}"  # type: ignore[arg-type, return-value]
    )


@dataclass
class BoundedExponentialConf(BoundedSchedulerConf):
    """kind=exponential: decays on every step (torch ExponentialLR shape)."""

    kind: str = "exponential"  # step | multistep | exponential
    n_updates: int = "${.max_steps}"  # type: ignore[assignment]  # decays on every step


def register_schemas() -> None:
    """Store the schemas as ``bounded_lr_schema/{step,multistep,exponential}`` (safe to repeat)."""
    store = ConfigStore.instance()
    # Hydra 1.4 warns when a name is stored again without replace=; 1.3 has no such parameter.
    # Plugin rescans (launcher workers, Singleton.set_state) store them again, so replace.
    again: dict[str, Any] = (
        {"replace": True} if "replace" in inspect.signature(store.store).parameters else {}
    )
    for name, node in (
        ("step", BoundedStepConf),
        ("multistep", BoundedMultiStepConf),
        ("exponential", BoundedExponentialConf),
    ):
        store.store(group=SCHEMA_GROUP, name=name, node=node, provider="bounded-lr-resolver", **again)
