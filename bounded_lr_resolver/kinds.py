"""The kinds a schedule takes, derived from the shape registry, and the rules of their bounds.

``kind`` is a step kind (a decay by gamma: :data:`STEP_KINDS`), a shape of the registry
(:data:`SHAPE_KINDS`), ``wsd`` or ``phases``. Before anything is derived, a kind's bounds follow
these rules: which final LRs it allows (a step kind multiplies, so never 0: :func:`check_step_final`;
never above the start: :func:`check_range`), and how many decays fit in how many steps (warmup
first, ``P`` plateaus of at least one step, an even step size for ``kind="step"``).
:mod:`bounded_lr_resolver.bounds` derives the values from them.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

from typing import Final

from bounded_lr_resolver.checks import check_lr
from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.shapes import SHAPES, ZERO_SHAPES, zero_refused

__all__ = [
    "CONTINUOUS_KINDS",
    "FINAL_LR_AT",
    "KINDS",
    "SHAPE_KINDS",
    "STEP_KINDS",
    "ZERO_KINDS",
    "check_decays",
    "check_divisible",
    "check_range",
    "check_step_final",
    "check_warmup",
    "plateaus_of",
]

STEP_KINDS: Final = ("step", "multistep", "exponential")
"""Decays by a factor gamma: every ``step_size`` steps, at ``n_updates`` milestones, or every step."""

SHAPE_KINDS: Final = tuple(
    name for name, shape in SHAPES.items() if not shape.stepwise and name not in STEP_KINDS
)
"""Warmup, then one phase of that shape from initial_lr to final_lr (every shape of the registry
but the step phase; the continuous ``exponential`` shape is a phase shape and a wsd cooldown,
since ``kind="exponential"`` is torch's ExponentialLR)."""

CONTINUOUS_KINDS: Final = (*SHAPE_KINDS, "wsd", "phases")
"""Follow shapes on every step: one shape, warmup-stable-decay, or declared phases."""

KINDS: Final = STEP_KINDS + CONTINUOUS_KINDS
"""Every ``kind`` a schedule (and ``build_scheduler``, and the ``bounded_lr`` group) takes."""

ZERO_KINDS: Final = (*(k for k in SHAPE_KINDS if k in ZERO_SHAPES), "wsd", "phases")
"""The kinds whose LR can decay to exactly 0 (additive shapes: a ratio of 0 is undefined)."""

FINAL_LR_AT: Final = ("max_steps", "last_step")
"""When the LR equals ``final_lr``: after ``max_steps`` scheduler steps, or already at the last
training step ``max_steps - 1``."""


def check_step_final(where: str, name: str, value: object, kind: str | None = None) -> float:
    """``final_lr`` of a step decay: a learning rate > 0 (gamma of a decay to 0 would be 0)."""
    if not isinstance(value, bool) and isinstance(value, (int, float)) and value == 0:
        subject = f"kind={kind!r}" if kind else "a step decay"
        raise zero_refused(where, name, {name: value}, subject, "kind", ZERO_KINDS)
    return check_lr(where, name, value)


def check_range(where: str, initial_lr: float, final_lr: float, low: str = "(0") -> None:
    """``final_lr <= initial_lr`` (``low``: how the allowed interval opens, ``(0`` or ``[0``)."""
    if final_lr > initial_lr:
        raise bad_value(
            where,
            "final_lr",
            f"in {low}, initial_lr]",
            {"final_lr": final_lr, "initial_lr": initial_lr},
            "A bounded decay ends at or below where it starts; were the two swapped?",
        )


def plateaus_of(n_updates: int, final_lr_at: str) -> int:
    """``P``: ``n_updates``, or ``n_updates + 1`` with ``final_lr_at="last_step"``."""
    return n_updates + 1 if final_lr_at == "last_step" else n_updates


def check_warmup(where: str, max_steps: int, warmup_steps: int) -> None:
    """Warmup must leave at least one step after it."""
    if warmup_steps >= max_steps:
        raise bad_value(
            where,
            "warmup_steps",
            "in [0, max_steps)",
            {"warmup_steps": warmup_steps, "max_steps": max_steps},
            "Warmup must leave steps for the decay",
        )


def check_decays(where: str, max_steps: int, n_updates: int, warmup_steps: int, final_lr_at: str) -> int:
    """Validate warmup and n_updates against max_steps; return the number of decay steps."""
    check_warmup(where, max_steps, warmup_steps)
    span = max_steps - warmup_steps
    if plateaus_of(n_updates, final_lr_at) > span:
        limit = "max_steps - warmup_steps" if warmup_steps else "max_steps"
        if final_lr_at == "last_step":
            limit += " - 1 (final_lr_at='last_step' keeps one step before the first decay)"
        raise bad_value(
            where,
            "n_updates",
            f"<= {limit}",
            {"n_updates": n_updates, "max_steps": max_steps, "warmup_steps": warmup_steps},
            "There cannot be more decays than steps",
        )
    return span


def check_divisible(where: str, max_steps: int, n_updates: int, warmup_steps: int, final_lr_at: str) -> int:
    """``kind="step"``: the decay steps must be a multiple of ``P``; return the step size."""
    span = max_steps - warmup_steps
    plateaus = plateaus_of(n_updates, final_lr_at)
    if span % plateaus:
        what = "max_steps - warmup_steps" if warmup_steps else "max_steps"
        divisor = "n_updates + 1" if final_lr_at == "last_step" else "n_updates"
        raise bad_value(
            where,
            what,
            f"a multiple of {divisor} for an evenly stepped decay",
            {"max_steps": max_steps, "n_updates": n_updates, "warmup_steps": warmup_steps},
            "Use kind='multistep' (resolver blr.milestones, config bounded_lr/multistep),"
            " which spreads exactly n_updates decays over any number of steps",
        )
    return span // plateaus
