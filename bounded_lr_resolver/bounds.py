"""What the bounds derive for the resolvers: gamma, step size, milestones, values, ratios, log-spacing.

This module imports neither torch nor omegaconf (nor numpy): the Hydra plugin imports it in every
Hydra app on the machine, so it must stay cheap. :mod:`bounded_lr_resolver.schedule` turns a
declaration into phases; the step kinds' phase is :func:`bounded_lr_resolver.shapes.multistep`. The
kinds and the rules of their bounds are :mod:`bounded_lr_resolver.kinds` (re-exported here).

The step kinds, in one formula. With ``W = warmup_steps``, ``D = max_steps - W`` decay steps,
``m = n_updates`` decays and ``P`` plateaus (``P = m`` when the LR reaches ``final_lr`` after
``max_steps`` scheduler steps, the seed's and torch's convention; ``P = m + 1`` when the last
training step, ``max_steps - 1``, already trains at ``final_lr``):

.. math::

    \\gamma = (\\eta_f / \\eta_0)^{1/m}, \\qquad
    k(t) = \\min\\left(m, \\left\\lfloor \\frac{(t - W + 1) P - 1}{D} \\right\\rfloor\\right), \\qquad
    \\eta(t) = \\max(\\eta_f, \\eta_0 \\gamma^{k(t)}) \\quad (t \\ge W)

The decays happen at the milestones ``W + floor(i * D / P)`` for ``i = 1..m``. ``kind="step"``
requires ``D`` to be a multiple of ``P`` (milestones every ``D / P`` steps); ``kind="multistep"``
takes any ``D >= P``; ``kind="exponential"`` decays on every step (``m = D``, or ``D - 1`` when
the last training step must train at ``final_lr``).
"""

from __future__ import annotations

import math
from typing import Final

from bounded_lr_resolver.checks import (
    MAX_COUNT,
    check_choice,
    check_count,
    check_floor,
    check_lr,
)
from bounded_lr_resolver.decays import LOW_POWERS, decayed, derive_gamma
from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.kinds import (
    CONTINUOUS_KINDS,
    FINAL_LR_AT,
    KINDS,
    SHAPE_KINDS,
    STEP_KINDS,
    ZERO_KINDS,
    check_decays,
    check_divisible,
    check_range,
    check_step_final,
    check_warmup,
    plateaus_of,
)
from bounded_lr_resolver.phase import milestone

__all__ = [
    "CONTINUOUS_KINDS",
    "FINAL_LR_AT",
    "KINDS",
    "LOW_POWERS",
    "MAX_COUNT",
    "MAX_MILESTONES",
    "SHAPE_KINDS",
    "STEP_KINDS",
    "ZERO_KINDS",
    "check_count",
    "check_decays",
    "check_divisible",
    "check_lr",
    "check_range",
    "check_step_final",
    "check_warmup",
    "decay_steps",
    "decayed",
    "gamma",
    "logspace",
    "lr_ratio",
    "lr_values",
    "milestones",
    "plateaus_of",
    "step_size",
]

MAX_MILESTONES: Final = 10_000_000
"""Largest milestone list we materialize (a list of 10**7 ints is ~80 MB)."""


def gamma(initial_lr: object, final_lr: object, n_updates: object, *, where: str = "lr_gamma") -> float:
    """Return the per-decay factor that takes ``initial_lr`` to ``final_lr`` in ``n_updates`` decays.

    .. math:: \\gamma = (\\eta_f / \\eta_0)^{1 / m}

    Args:
        initial_lr: the LR before the first decay, ``> 0``.
        final_lr: the LR after the last decay, in ``(0, initial_lr]``.
        n_updates: how many times the LR is multiplied by gamma, a whole number ``>= 1``.
        where: the name used in error messages.

    Returns:
        gamma in ``(0, 1]``.

    Examples:
        >>> round(gamma(0.1, 1e-4, 10_000), 12)
        0.999309463003
    """
    eta0 = check_lr(where, "initial_lr", initial_lr)
    eta_f = check_step_final(where, "final_lr", final_lr)
    count = check_count(where, "n_updates", n_updates)
    check_range(where, eta0, eta_f)
    return derive_gamma(where, eta0, eta_f, count)


def _check_common(
    where: str, max_steps: object, n_updates: object, warmup_steps: object, final_lr_at: object
) -> tuple[int, int, int, int, str]:
    steps = check_count(where, "max_steps", max_steps)
    count = check_count(where, "n_updates", n_updates)
    warmup = check_count(where, "warmup_steps", warmup_steps, minimum=0)
    at = check_choice(where, "final_lr_at", final_lr_at, FINAL_LR_AT)
    span = check_decays(where, steps, count, warmup, at)
    return steps, count, warmup, span, at


def step_size(
    max_steps: object,
    n_updates: object,
    warmup_steps: object = 0,
    final_lr_at: object = "max_steps",
    *,
    where: str = "lr_step",
) -> int:
    """Return the number of steps between decays for an evenly stepped (StepLR) decay.

    .. math:: n = (M - W) / P

    Args:
        max_steps: the training length ``M`` in scheduler steps.
        n_updates: the number of decays ``m``.
        warmup_steps: steps of warmup ``W`` before the decay starts (default 0).
        final_lr_at: ``"max_steps"`` (``P = m``, the seed's and torch's convention) or
            ``"last_step"`` (``P = m + 1``: step ``M - 1`` already trains at ``final_lr``).
        where: the name used in error messages.

    Returns:
        The step size as an int. Raises if ``M - W`` is not a multiple of ``P``.

    Examples:
        >>> step_size(1e6, 1e4)
        100
        >>> step_size(12, 3, 0, "last_step")
        3
    """
    steps, count, warmup, _, at = _check_common(where, max_steps, n_updates, warmup_steps, final_lr_at)
    return check_divisible(where, steps, count, warmup, at)


def milestones(
    max_steps: object,
    n_updates: object,
    warmup_steps: object = 0,
    final_lr_at: object = "max_steps",
    *,
    where: str = "blr.milestones",
) -> list[int]:
    """Return the ``n_updates`` steps at which the LR decays, strictly increasing and evenly spread.

    .. math:: s_i = W + \\lfloor i (M - W) / P \\rfloor, \\quad i = 1, \\dots, m

    The milestones lie in ``(W, M]``; the last one is ``M`` (``final_lr_at="max_steps"``) or
    ``M - 1`` or earlier (``"last_step"``). They equal ``StepLR``'s decays when ``M - W`` is a
    multiple of ``P``, and feed ``torch.optim.lr_scheduler.MultiStepLR`` directly.

    Examples:
        >>> milestones(10, 3)
        [3, 6, 10]
        >>> milestones(12, 3, 0, "last_step")
        [3, 6, 9]
    """
    _, count, warmup, span, at = _check_common(where, max_steps, n_updates, warmup_steps, final_lr_at)
    if count > MAX_MILESTONES:
        raise bad_value(
            where,
            "n_updates",
            f"<= {MAX_MILESTONES} to build a milestone list",
            {"n_updates": count},
            "Use kind='exponential' or kind='step', which need no list",
        )
    plateaus = plateaus_of(count, at)
    return [warmup + milestone(i, span, plateaus) for i in range(1, count + 1)]


def decay_steps(
    max_steps: object,
    warmup_steps: object = 0,
    final_lr_at: object = "max_steps",
    *,
    where: str = "blr.decay_steps",
) -> int:
    """Return how many decays an exponential decay (one per step) makes: its ``n_updates``.

    .. math:: m = M - W \\text{ (or } M - W - 1 \\text{ with final\\_lr\\_at="last\\_step")}

    Examples:
        >>> decay_steps(1000)
        1000
        >>> decay_steps(1000, 100, "last_step")
        899
    """
    steps = check_count(where, "max_steps", max_steps)
    warmup = check_count(where, "warmup_steps", warmup_steps, minimum=0)
    at = check_choice(where, "final_lr_at", final_lr_at, FINAL_LR_AT)
    check_warmup(where, steps, warmup)
    derived = steps - warmup - (1 if at == "last_step" else 0)
    if derived < 1:
        raise bad_value(
            where,
            "max_steps - warmup_steps",
            ">= 2 for kind='exponential' with final_lr_at='last_step'",
            {"max_steps": steps, "warmup_steps": warmup},
        )
    return derived


def logspace(low: object, high: object, num: object, index: object, *, where: str = "blr.logspace") -> float:
    """Return the ``index``-th of ``num`` log-spaced values from ``low`` to ``high``, exact at both ends.

    .. math:: v_i = 10^{\\log_{10} \\ell + (\\log_{10} h - \\log_{10} \\ell) \\, i / (n - 1)}, \\quad
        v_0 = \\ell, \\; v_{n-1} = h

    For a log-spaced sweep, which Hydra's override grammar has no syntax for (hydra#1944):
    ``-m +i='range(20)'`` with ``final_lr: ${blr.logspace:1e-6,1e-3,20,${i}}``.

    Examples:
        >>> [logspace(1e-6, 1e-3, 4, i) for i in range(4)]
        [1e-06, 1e-05, 0.0001, 0.001]
    """
    lo = check_lr(where, "low", low)
    hi = check_lr(where, "high", high)
    count = check_count(where, "num", num, minimum=2)
    position = check_count(where, "index", index, minimum=0)
    if position >= count:
        raise bad_value(where, "index", "in [0, num)", {"index": index, "num": count})
    if position == 0:
        return lo
    if position == count - 1:
        return hi
    start, stop = math.log10(lo), math.log10(hi)  # as numpy.logspace: round decades stay round
    value: float = 10.0 ** (start + (stop - start) * position / (count - 1))
    return value


def lr_values(
    initial_lr: object, final_lr: object, n_updates: object, *, where: str = "blr.values"
) -> list[float]:
    """Return the ``n_updates + 1`` LRs of a step decay, ``initial_lr * gamma**i``, ending at final_lr.

    These are the ``values`` of a piecewise-constant schedule (Keras ``PiecewiseConstantDecay``)
    whose ``boundaries`` are :func:`milestones`. They equal, bit for bit, the LRs a step-kind
    :class:`~bounded_lr_resolver.schedule.Schedule` uses (the same IEEE operations).

    Examples:
        >>> lr_values(0.1, 1e-4, 3)
        [0.1, 0.010000000000000002, 0.0010000000000000005, 0.0001]
    """
    count = check_count(where, "n_updates", n_updates)
    if count > MAX_MILESTONES:
        rule = f"<= {MAX_MILESTONES} to build a list of values"
        raise bad_value(where, "n_updates", rule, {"n_updates": n_updates})
    eta0, eta_f = check_lr(where, "initial_lr", initial_lr), check_step_final(where, "final_lr", final_lr)
    check_range(where, eta0, eta_f)
    factor = derive_gamma(where, eta0, eta_f, count)
    return [max(eta_f, eta0 * decayed(factor, k)) for k in range(count)] + [eta_f]


def lr_ratio(initial_lr: object, final_lr: object, *, where: str = "blr.ratio") -> float:
    """Return ``final_lr / initial_lr``: the relative floor some APIs take instead of ``final_lr``.

    For Keras ``CosineDecay(alpha=...)``, Composer ``alpha_f`` and Hugging Face ``min_lr_rate``.
    Validated like every bound: ``initial_lr`` is a learning rate and ``0 <= final_lr <= initial_lr``
    (a floor of 0 is Keras's ``alpha=0``).

    Examples:
        >>> lr_ratio(0.1, 1e-4), lr_ratio(0.1, 0.0)
        (0.001, 0.0)
    """
    eta0, eta_f = check_lr(where, "initial_lr", initial_lr), check_floor(where, "final_lr", final_lr)
    check_range(where, eta0, eta_f, low="[0")
    return eta_f / eta0
