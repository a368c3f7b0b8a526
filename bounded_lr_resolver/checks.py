"""The validation primitives every entry point shares: a learning rate, a count, a choice, a factor.

Each returns the value normalized (an int, a float) or raises this package's error naming the
function, the argument, the value and the rule (:mod:`bounded_lr_resolver.errors`). No numpy, no
torch, no omegaconf: the Hydra plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import math
import operator
import sys
from typing import Final

from bounded_lr_resolver.errors import bad_type, bad_value

__all__ = [
    "MAX_COUNT",
    "check_base_lr",
    "check_choice",
    "check_count",
    "check_factor",
    "check_floor",
    "check_lr",
    "check_positive",
    "hint_for",
]

MAX_COUNT: Final = 2**53
"""Largest step or update count: every whole float up to here is exact in float64."""

MIN_LR: Final = sys.float_info.min
"""The smallest normal float64: a positive learning rate below it loses precision."""


def hint_for(value: object) -> str | None:
    """What to do about a value of the wrong type (text that is a number, a missing value)."""
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


def _number(where: str, name: str, value: object, rule: str, kind: str = "a number (int or float)") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(where, name, kind, value, hint_for(value))
    try:
        return float(value)
    except OverflowError:  # an int beyond float64, e.g. 10**400
        raise bad_value(where, name, rule, {name: value}) from None


def check_lr(where: str, name: str, value: object) -> float:
    """Return ``value`` as a float if it is a usable positive learning rate, else raise.

    A learning rate is an int or float (not a bool or text), finite, and a normal positive
    float64 (at least ``2.2250738585072014e-308``).

    >>> check_lr("lr_gamma", "final_lr", 1e-4)
    0.0001
    >>> check_lr("lr_gamma", "initial_lr", 0)
    Traceback (most recent call last):
    ...
    bounded_lr_resolver.errors.BoundsError: lr_gamma: initial_lr must be a finite number > 0, got initial_lr=0
    """
    number = _number(where, name, value, "a finite number > 0")
    if not math.isfinite(number) or number <= 0:
        raise bad_value(where, name, "a finite number > 0", {name: value})
    if number < MIN_LR:
        raise bad_value(
            where,
            name,
            f"a normal float64 (>= {MIN_LR!r})",
            {name: value},
            "Subnormal learning rates lose precision",
        )
    return number


def check_floor(where: str, name: str, value: object) -> float:
    """Return ``value`` as a float if it is a learning rate or exactly 0 (a floor to decay to), else raise.

    >>> check_floor("build_scheduler", "final_lr", 0)
    0.0
    >>> check_floor("build_scheduler", "final_lr", -1e-3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bounded_lr_resolver.errors.BoundsError: build_scheduler: final_lr must be 0 or a finite number > 0, ...
    """
    rule = "0 or a finite number > 0"
    number = _number(where, name, value, rule)
    if number == 0.0:
        return 0.0  # also -0.0: the LR written is +0.0
    if not math.isfinite(number) or number < 0:
        raise bad_value(where, name, rule, {name: value})
    if number < MIN_LR:
        raise bad_value(
            where, name, f"0 or a normal float64 (>= {MIN_LR!r})", {name: value}, "Use 0 to decay to zero"
        )
    return number


def check_base_lr(where: str, value: object) -> float | None:
    """Return a param group's ``base_lr`` as a float (``None``: the schedule's initial_lr), else raise.

    A group's base LR is the LR it starts from: 0 (a frozen group) or a normal positive float, the
    rule of :func:`check_floor`; text, a bool, a list, NaN, inf and negatives are refused by name.

    >>> check_base_lr("lr_curve", 0.01), check_base_lr("lr_curve", None)
    (0.01, None)
    >>> check_base_lr("lr_curve", -1)
    Traceback (most recent call last):
    ...
    bounded_lr_resolver.errors.BoundsError: lr_curve: base_lr must be 0 or a finite number > 0, got base_lr=-1
    """
    return None if value is None else check_floor(where, "base_lr", value)


def check_positive(where: str, name: str, value: object) -> float:
    """Return ``value`` as a float if it is finite and > 0 (an exponent, a ratio), else raise."""
    number = _number(where, name, value, "a finite number > 0", "a number > 0")
    if not (0.0 < number < math.inf):  # also rejects NaN
        raise bad_value(where, name, "a finite number > 0", {name: value})
    return number


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
        raise bad_type(where, name, "a whole number", value, hint_for(value))
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


def check_choice(where: str, name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    if not isinstance(value, str) or value not in choices:
        raise bad_value(where, name, f"one of {list(choices)}", {name: value})
    return value


def check_factor(where: str, name: str, value: object) -> float:
    """Return ``value`` as a float if it is a number in ``[0, 1]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(where, name, "a number in [0, 1]", value)
    number = float(value)
    if not 0.0 <= number <= 1.0:  # also rejects NaN
        raise bad_value(where, name, "a number in [0, 1]", {name: value})
    return number
