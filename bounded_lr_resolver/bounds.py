"""The pure core: validate LR bounds and derive what the resolvers give (gamma, step size, milestones...).

This module imports neither torch nor omegaconf (nor numpy): the Hydra plugin imports it in every
Hydra app on the machine, so it must stay cheap. :mod:`bounded_lr_resolver.schedule` (the LR at
any step) builds on these checks and derivations.

The step kinds, in one formula. With ``W = warmup_steps``, ``D = max_steps - W`` decay steps,
``m = n_updates`` decays and ``P`` plateaus (``P = m`` when the LR reaches ``final_lr`` after
``max_steps`` scheduler steps, the seed's and torch's convention; ``P = m + 1`` when the last
training step, ``max_steps - 1``, already trains at ``final_lr``):

.. math::

    \\gamma = (\\eta_f / \\eta_0)^{1/m}, \\qquad
    k(t) = \\min\\left(m, \\left\\lfloor \\frac{(t - W + 1) P - 1}{D} \\right\\rfloor\\right), \\qquad
    \\eta(t) = \\begin{cases}
        \\eta_0 \\left(f + (1 - f) \\tfrac{t}{W}\\right) & t < W \\\\
        \\max(\\eta_f, \\eta_0 \\gamma^{k(t)}) & k(t) < m \\\\
        \\eta_f & k(t) = m
    \\end{cases}

The decays happen at the milestones ``W + floor(i * D / P)`` for ``i = 1..m``. ``kind="step"``
requires ``D`` to be a multiple of ``P`` (milestones every ``D / P`` steps); ``kind="multistep"``
takes any ``D >= P``; ``kind="exponential"`` decays on every step (``m = D``, or ``D - 1`` when
the last training step must train at ``final_lr``).
"""

from __future__ import annotations

import math
import operator
import sys
from typing import Any, Final

from bounded_lr_resolver.errors import bad_type, bad_value

__all__ = [
    "CONTINUOUS_KINDS",
    "FINAL_LR_AT",
    "KINDS",
    "LOW_POWERS",
    "MAX_COUNT",
    "MAX_MILESTONES",
    "STEP_KINDS",
    "check_count",
    "check_lr",
    "decay_steps",
    "decayed",
    "gamma",
    "logspace",
    "lr_ratio",
    "lr_values",
    "milestones",
    "step_size",
]

STEP_KINDS: Final = ("step", "multistep", "exponential")
"""Decays by a factor gamma: every ``step_size`` steps, at ``n_updates`` milestones, or every step."""

CONTINUOUS_KINDS: Final = ("cosine", "linear", "polynomial", "wsd")
"""Follow a shape of the decay's progress on every step (``wsd``: after a hold at ``initial_lr``)."""

KINDS: Final = STEP_KINDS + CONTINUOUS_KINDS
"""Every ``kind`` a schedule (and ``build_scheduler``, and the ``bounded_lr`` group) takes."""

FINAL_LR_AT: Final = ("max_steps", "last_step")
"""When the LR equals ``final_lr``: after ``max_steps`` scheduler steps, or already at the last
training step ``max_steps - 1``."""

MAX_COUNT: Final = 2**53
"""Largest step or update count: every whole float up to here is exact in float64."""

LOW_POWERS: Final = 1024
"""gamma**k is computed as ``gamma**(k - r) * gamma**r`` with ``r = k % 1024`` and the 1024 low
powers tabulated, so that a vectorized curve needs one ``pow`` per 1024 steps, not one per step,
and still equals the scalar form bit for bit (both are the same IEEE multiplication)."""

MAX_MILESTONES: Final = 10_000_000
"""Largest milestone list we materialize (a list of 10**7 ints is ~80 MB)."""

_MIN_LR: Final = sys.float_info.min
_GAMMA_CHECK_RTOL: Final = 1e-9
_MIN_DECAY: Final = 1e-15  # 1 - gamma below ~4.5 float64 ulps cannot give n distinct decays


def check_lr(where: str, name: str, value: object) -> float:
    """Return ``value`` as a float if it is a usable learning rate, else raise.

    A learning rate is an int or float (not a bool or text), finite, and a normal positive
    float64 (at least ``2.2250738585072014e-308``).

    >>> check_lr("lr_gamma", "final_lr", 1e-4)
    0.0001
    >>> check_lr("lr_gamma", "final_lr", 0)
    Traceback (most recent call last):
    ...
    bounded_lr_resolver.errors.BoundsError: lr_gamma: final_lr must be a finite number > 0, got final_lr=0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(where, name, "a number (int or float)", value, _hint_for(value))
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64, e.g. 10**400
        raise bad_value(where, name, "a finite number > 0", {name: value}) from None
    if not math.isfinite(number) or number <= 0:
        raise bad_value(where, name, "a finite number > 0", {name: value})
    if number < _MIN_LR:
        raise bad_value(
            where,
            name,
            f"a normal float64 (>= {_MIN_LR!r})",
            {name: value},
            "Subnormal learning rates lose precision",
        )
    return number


def _hint_for(value: object) -> str | None:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return "Write the number without quotes, e.g. 1e-4"
        return (
            "Write the number without quotes; a number from an environment variable is text: "
            "decode it with ${oc.decode:${oc.env:NAME}}"
        )
    if value is None:
        return "Give the value in the config or on the command line"
    return None


def check_count(where: str, name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is a whole number in ``[minimum, 2**53]``, else raise.

    Whole floats are accepted because the resolver grammar parses ``1e6`` as a float.

    >>> check_count("lr_step", "max_steps", 1e6)
    1000000
    >>> check_count("lr_step", "n_updates", 1.5)
    Traceback (most recent call last):
    ...
    bounded_lr_resolver.errors.BoundsError: lr_step: n_updates must be a whole number, got n_updates=1.5
    """
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise bad_type(where, name, "a whole number", value, _hint_for(value))
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise bad_value(where, name, "a whole number", {name: value})
        count = int(value)
    else:
        try:
            count = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            raise bad_type(where, name, "a whole number", value) from None
    if count < minimum:
        raise bad_value(where, name, f"a whole number >= {minimum}", {name: value})
    if count > MAX_COUNT:
        raise bad_value(where, name, f"<= 2**53 = {MAX_COUNT}", {name: value})
    return count


def _check_choice(where: str, name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise bad_value(where, name, f"one of {list(choices)}", {name: value})
    return value


def _check_factor(where: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(where, name, "a number in [0, 1]", value)
    number = float(value)
    if not 0.0 <= number <= 1.0:  # also rejects NaN
        raise bad_value(where, name, "a number in [0, 1]", {name: value})
    return number


def _check_range(where: str, initial_lr: float, final_lr: float) -> None:
    if final_lr > initial_lr:
        raise bad_value(
            where,
            "final_lr",
            "in (0, initial_lr]",
            {"final_lr": final_lr, "initial_lr": initial_lr},
            "A bounded decay ends at or below where it starts; were the two swapped?",
        )


def _derive_gamma(where: str, initial_lr: float, final_lr: float, n_updates: int) -> float:
    result: float = (final_lr / initial_lr) ** (1.0 / n_updates)
    if result <= 0.0 or not math.isclose(initial_lr * result**n_updates, final_lr, rel_tol=_GAMMA_CHECK_RTOL):
        raise bad_value(
            where,
            "final_lr / initial_lr",
            "reachable as gamma**n_updates in float64",
            {"initial_lr": initial_lr, "final_lr": final_lr, "n_updates": n_updates},
            "The range is too wide for float64; narrow it or use fewer updates",
        )
    if final_lr < initial_lr and result > 1.0 - _MIN_DECAY:
        raise bad_value(
            where,
            "final_lr / initial_lr",
            f"small enough for n_updates distinct decays in float64 (gamma <= 1 - {_MIN_DECAY:g})",
            {"initial_lr": initial_lr, "final_lr": final_lr, "n_updates": n_updates, "gamma": result},
            "Use fewer updates, or final_lr=initial_lr for a constant LR",
        )
    if final_lr < initial_lr:
        # gamma's float64 rounding, raised to the power n_updates, can end the decay early: the LR
        # after n_updates - 1 decays (computed exactly as Schedule.lr_at does) must stay above final_lr
        last = n_updates - 1
        low = last & (LOW_POWERS - 1)
        before_last = initial_lr * (result ** (last - low) * result**low)
        if before_last <= final_lr:
            raise bad_value(
                where,
                "final_lr / initial_lr",
                "wide enough for exactly n_updates decays in float64 (the LR after n_updates - 1 decays "
                "must still be above final_lr)",
                {
                    "initial_lr": initial_lr,
                    "final_lr": final_lr,
                    "n_updates": n_updates,
                    "LR after n_updates - 1 decays": before_last,
                },
                "Use fewer updates or a wider range",
            )
    return min(result, 1.0)


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
    eta_f = check_lr(where, "final_lr", final_lr)
    count = check_count(where, "n_updates", n_updates)
    _check_range(where, eta0, eta_f)
    return _derive_gamma(where, eta0, eta_f, count)


def _plateaus(n_updates: int, final_lr_at: str) -> int:
    return n_updates + 1 if final_lr_at == "last_step" else n_updates


def _check_warmup(where: str, max_steps: int, warmup_steps: int) -> None:
    if warmup_steps >= max_steps:
        raise bad_value(
            where,
            "warmup_steps",
            "in [0, max_steps)",
            {"warmup_steps": warmup_steps, "max_steps": max_steps},
            "Warmup must leave steps for the decay",
        )


def _check_phases(where: str, max_steps: int, n_updates: int, warmup_steps: int, final_lr_at: str) -> int:
    """Validate warmup and n_updates against max_steps; return the number of decay steps."""
    _check_warmup(where, max_steps, warmup_steps)
    decay_steps = max_steps - warmup_steps
    plateaus = _plateaus(n_updates, final_lr_at)
    if plateaus > decay_steps:
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
    return decay_steps


def _check_common(
    where: str, max_steps: object, n_updates: object, warmup_steps: object, final_lr_at: object
) -> tuple[int, int, int, int, str]:
    steps = check_count(where, "max_steps", max_steps)
    count = check_count(where, "n_updates", n_updates)
    warmup = check_count(where, "warmup_steps", warmup_steps, minimum=0)
    at = _check_choice(where, "final_lr_at", final_lr_at, FINAL_LR_AT)
    decay_steps = _check_phases(where, steps, count, warmup, at)
    return steps, count, warmup, decay_steps, at


def _check_divisible(where: str, max_steps: int, n_updates: int, warmup_steps: int, final_lr_at: str) -> int:
    decay_steps = max_steps - warmup_steps
    plateaus = _plateaus(n_updates, final_lr_at)
    if decay_steps % plateaus:
        span = "max_steps - warmup_steps" if warmup_steps else "max_steps"
        divisor = "n_updates + 1" if final_lr_at == "last_step" else "n_updates"
        raise bad_value(
            where,
            span,
            f"a multiple of {divisor} for an evenly stepped decay",
            {"max_steps": max_steps, "n_updates": n_updates, "warmup_steps": warmup_steps},
            "Use kind='multistep' (resolver lr_milestones, config bounded_lr/multistep),"
            " which spreads exactly n_updates decays over any number of steps",
        )
    return decay_steps // plateaus


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
        warmup_steps: steps of linear warmup ``W`` before the decay starts (default 0).
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
    return _check_divisible(where, steps, count, warmup, at)


def milestones(
    max_steps: object,
    n_updates: object,
    warmup_steps: object = 0,
    final_lr_at: object = "max_steps",
    *,
    where: str = "lr_milestones",
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
    steps, count, warmup, decay_steps, at = _check_common(
        where, max_steps, n_updates, warmup_steps, final_lr_at
    )
    if count > MAX_MILESTONES:
        raise bad_value(
            where,
            "n_updates",
            f"<= {MAX_MILESTONES} to build a milestone list",
            {"n_updates": count},
            "Use kind='exponential' or kind='step', which need no list",
        )
    plateaus = _plateaus(count, at)
    del steps
    return [warmup + (i * decay_steps) // plateaus for i in range(1, count + 1)]


def decay_steps(
    max_steps: object,
    warmup_steps: object = 0,
    final_lr_at: object = "max_steps",
    *,
    where: str = "lr_decay_steps",
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
    at = _check_choice(where, "final_lr_at", final_lr_at, FINAL_LR_AT)
    _check_warmup(where, steps, warmup)
    derived = steps - warmup - (1 if at == "last_step" else 0)
    if derived < 1:
        raise bad_value(
            where,
            "max_steps - warmup_steps",
            ">= 2 for kind='exponential' with final_lr_at='last_step'",
            {"max_steps": steps, "warmup_steps": warmup},
        )
    return derived


def logspace(low: object, high: object, num: object, index: object, *, where: str = "lr_logspace") -> float:
    """Return the ``index``-th of ``num`` log-spaced values from ``low`` to ``high``, exact at both ends.

    .. math:: v_i = 10^{\\log_{10} \\ell + (\\log_{10} h - \\log_{10} \\ell) \\, i / (n - 1)}, \\quad
        v_0 = \\ell, \\; v_{n-1} = h

    For a log-spaced sweep, which Hydra's override grammar has no syntax for (hydra#1944):
    ``-m +i='range(20)'`` with ``final_lr: ${lr_logspace:1e-6,1e-3,20,${i}}``.

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
    initial_lr: object, final_lr: object, n_updates: object, *, where: str = "lr_values"
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
    eta0, eta_f = check_lr(where, "initial_lr", initial_lr), check_lr(where, "final_lr", final_lr)
    _check_range(where, eta0, eta_f)
    factor = _derive_gamma(where, eta0, eta_f, count)
    return [max(eta_f, eta0 * decayed(factor, k)) for k in range(count)] + [eta_f]


def decayed(factor: float, k: int) -> float:
    """``factor**k`` as ``factor**(k - r) * factor**r`` with ``r = k % LOW_POWERS`` (see LOW_POWERS)."""
    low = k & (LOW_POWERS - 1)
    power: float = factor ** (k - low) * factor**low
    return power


def lr_ratio(initial_lr: object, final_lr: object, *, where: str = "lr_ratio") -> float:
    """Return ``final_lr / initial_lr``: the relative floor some APIs take instead of ``final_lr``.

    For Keras ``CosineDecay(alpha=...)``, Composer ``alpha_f`` and Hugging Face ``min_lr_rate``.
    Validated like every bound: both are learning rates and ``final_lr <= initial_lr``.

    Examples:
        >>> lr_ratio(0.1, 1e-4)
        0.001
    """
    eta0, eta_f = check_lr(where, "initial_lr", initial_lr), check_lr(where, "final_lr", final_lr)
    _check_range(where, eta0, eta_f)
    return eta_f / eta0


def __getattr__(name: str) -> Any:
    """``bounds.Schedule`` and ``bounds.SCHEDULE_FIELDS``, which lived here before the shapes: kept."""
    if name in ("Schedule", "SCHEDULE_FIELDS"):
        from bounded_lr_resolver import schedule

        return getattr(schedule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
