"""bounded-lr-resolver: declare an LR range, get exact, validated LR schedulers (step decay and shapes).

Public API (imported lazily, so ``import bounded_lr_resolver`` stays cheap and torch is only
loaded when the scheduler is used; a base install has no torch, numpy or matplotlib, and what needs
them raises :class:`~bounded_lr_resolver.errors.MissingExtraError` naming the extra):

- :func:`build_scheduler` and :class:`BoundedLR` (torch),
- :func:`lightning_scheduler` (Lightning's ``lr_scheduler`` dict over the trainer's horizon),
- :func:`register_resolvers` and the resolver functions (OmegaConf),
- :class:`Schedule` (a declaration as phases), :class:`Phase`, :class:`Plan`, :data:`SHAPES`,
  :func:`gamma`, :func:`step_size`, :func:`milestones` (pure math),
- :func:`lr_curve` (vectorized closed form, numpy),
- :func:`instantiate_trusted` (Hydra's ``instantiate`` with an execution whitelist where supported),
- the error types in :mod:`bounded_lr_resolver.errors`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "SHAPES",
    "BoundedLR",
    "BoundedLRError",
    "BoundsError",
    "BoundsTypeError",
    "MissingExtraError",
    "Phase",
    "Plan",
    "ResolverConflictError",
    "ResumeMismatchError",
    "Schedule",
    "build_scheduler",
    "check_same_across_ranks",
    "gamma",
    "instantiate_trusted",
    "lightning_scheduler",
    "lr_curve",
    "lr_decay_steps",
    "lr_gamma",
    "lr_logspace",
    "lr_milestones",
    "lr_ratio",
    "lr_step",
    "lr_values",
    "milestones",
    "register_resolvers",
    "step_size",
    "trust_our_callbacks",
]

_HOME = {
    "BoundedLR": "scheduler",
    "build_scheduler": "factory",
    "register_resolvers": "resolvers",
    "lr_gamma": "resolvers",
    "lr_step": "resolvers",
    "lr_milestones": "resolvers",
    "lr_values": "resolvers",
    "lr_decay_steps": "resolvers",
    "lr_logspace": "resolvers",
    "lr_ratio": "resolvers",
    "Schedule": "schedule",
    "Phase": "phases",
    "Plan": "phases",
    "SHAPES": "shapes",
    "gamma": "bounds",
    "step_size": "bounds",
    "milestones": "bounds",
    "lr_curve": "curve",
    "instantiate_trusted": "trusted",
    "lightning_scheduler": "lightning",
    "check_same_across_ranks": "distributed",
    "trust_our_callbacks": "trusted",
    "BoundedLRError": "errors",
    "BoundsError": "errors",
    "BoundsTypeError": "errors",
    "MissingExtraError": "errors",
    "ResolverConflictError": "errors",
    "ResumeMismatchError": "errors",
}

if TYPE_CHECKING:
    from bounded_lr_resolver.bounds import gamma, milestones, step_size
    from bounded_lr_resolver.curve import lr_curve
    from bounded_lr_resolver.distributed import check_same_across_ranks
    from bounded_lr_resolver.errors import (
        BoundedLRError,
        BoundsError,
        BoundsTypeError,
        MissingExtraError,
        ResolverConflictError,
        ResumeMismatchError,
    )
    from bounded_lr_resolver.factory import build_scheduler
    from bounded_lr_resolver.lightning import lightning_scheduler
    from bounded_lr_resolver.phases import Phase, Plan
    from bounded_lr_resolver.resolvers import (
        lr_decay_steps,
        lr_gamma,
        lr_logspace,
        lr_milestones,
        lr_ratio,
        lr_step,
        lr_values,
        register_resolvers,
    )
    from bounded_lr_resolver.schedule import Schedule
    from bounded_lr_resolver.scheduler import BoundedLR
    from bounded_lr_resolver.shapes import SHAPES
    from bounded_lr_resolver.trusted import instantiate_trusted, trust_our_callbacks


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bounded_lr_resolver' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bounded_lr_resolver.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
