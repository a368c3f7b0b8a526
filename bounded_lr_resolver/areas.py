"""Two numbers that predict a run's final loss from its LR schedule alone: S1 and S2 (Tissue et al. 2024).

Tissue et al. (arXiv:2408.11029) fit a run's loss as ``L(s) = L0 + A * S1**-alpha - C * S2``, with

.. math::

    S_1 = \\sum_{t=0}^{T-1} \\eta_t, \\qquad
    S_2 = \\sum_{i=w+1}^{T-1} m_i, \\quad m_i = \\lambda m_{i-1} + (\\eta_{i-1} - \\eta_i), \\; m_w = 0

where ``eta_t`` is the LR training step ``t`` uses, ``T`` the steps trained, ``w`` the last warmup
step (a warmup's rise is not annealing; a declared re-warm counts, negatively) and ``lambda`` the
decay of the annealing momentum (0.999 in the paper). S1 is the area under the LR curve: more of
it, more progress. S2 is the annealing area: how much, and how recently, the LR came down. Two
cooldown branches of one stable run differ in both, which is why the sweep report shows them.

Both come from the closed form: every ``eta_t`` is the schedule's own ``lr_at(t)`` (a hold
contributes ``n * eta`` at once) and the sums are :func:`math.fsum` s, so no rounding accumulates
over millions of steps. Unrolled, ``S2`` is ``sum_i d_i * (1 - lambda**(T - i)) / (1 - lambda)``
with ``d_i = eta_{i-1} - eta_i``: one term per step that changes the LR, no recursion.

No numpy, no torch: pure Python over a :class:`~bounded_lr_resolver.phases.Plan`.
"""

from __future__ import annotations

import math
from typing import Final

from bounded_lr_resolver.checks import check_count
from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.phases import Plan

__all__ = ["DEFAULT_DECAY", "areas"]

DEFAULT_DECAY: Final = 0.999
"""``lambda``, the decay of the annealing momentum (Tissue et al.'s value)."""


def areas(plan: Plan, steps: int, *, warmup: int = 0, decay: float = DEFAULT_DECAY) -> tuple[float, float]:
    """``(S1, S2)`` of the first ``steps`` training steps of ``plan`` (see the module docstring).

    Args:
        plan: the LR at every step (a schedule's ``plan``, or a resumed one).
        steps: ``T``, the number of training steps (steps ``0 .. T - 1``).
        warmup: the steps of warmup (their rise is left out of ``S2``).
        decay: ``lambda`` in ``[0, 1)``.

    Examples:
        >>> from bounded_lr_resolver.phases import Phase
        >>> plan = Plan(0.1, [Phase("constant", 6, 0.1), Phase("linear", 4, 0.0)], peak=0.1)
        >>> s1, s2 = areas(plan, 10, decay=0.5)
        >>> s1 == 0.1 * 6 + 0.1 + 0.075 + 0.05 + 0.025
        True
        >>> math.isclose(s2, 0.025 * (1.75 + 1.5 + 1.0), rel_tol=1e-15)  # each drop, then halved per step
        True
    """
    where = "areas"
    steps = check_count(where, "steps", steps)
    if not 0.0 <= decay < 1.0:  # also NaN
        raise bad_value(where, "decay", "in [0, 1)", {"decay": decay})
    forward: list[float] = []
    annealing: list[float] = []
    before = plan.lr_at(0)
    for part in plan.parts:
        begin, stop = part.begin, min(part.stop, steps)
        if begin >= steps:
            break
        if part.phase.shape == "constant" and part.start == part.end:
            forward.append((stop - begin) * part.start)
            if begin > warmup and before != part.start:  # a jump onto the hold (a restart)
                annealing.append(_weight(before - part.start, steps - begin, decay))
            before = part.start
            continue
        for t in range(begin, stop):
            lr = plan.lr_at(t)
            forward.append(lr)
            if t > warmup:
                annealing.append(_weight(before - lr, steps - t, decay))
            before = lr
    if steps > plan.total:  # held at the final LR after the end
        forward.append((steps - plan.total) * plan.final)
        if plan.total > warmup and before != plan.final:
            annealing.append(_weight(before - plan.final, steps - plan.total, decay))
    return math.fsum(forward), math.fsum(annealing)


def _weight(drop: float, remaining: int, decay: float) -> float:
    """A drop at step ``i``'s total weight in S2: ``drop * (1 + lambda + ... + lambda**(T - i - 1))``."""
    if drop == 0.0:
        return 0.0
    return drop * -math.expm1(remaining * math.log(decay)) / (1.0 - decay) if decay else drop
