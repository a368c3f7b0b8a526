"""Lengths in the units users think in: ``"3ep"``, ``"0.1dur"``, ``"2Btok"`` -> an exact number of steps.

A length field (``max_steps``, ``warmup_steps``, ``decay_steps``, a phase's ``steps``) takes a
whole number of scheduler steps, or a duration string, in Composer's notation:

- ``"<number>ep"``: epochs, times ``steps_per_epoch`` (optimizer steps per epoch: after gradient
  accumulation, per process; Lightning's ``trainer.estimated_stepping_batches / max_epochs``);
- ``"<number>dur"``: a fraction of the whole run, ``max_steps`` (not of ``max_steps`` itself);
- ``"<number>tok"``: tokens, divided by ``tokens_per_step`` (tokens per optimizer step, summed over
  every process and accumulated micro-batch: ``global batch size x sequence length``).

The number is decimal, optionally with ``K``, ``M``, ``B`` or ``T`` (``"2Btok"``), and is taken
exactly (``"0.1dur"`` of 300 steps is 30, not ``30.000000000000004``). A length that is not a whole
number of steps is refused, naming the field, the value and the nearest lengths that work: the
config can be fixed. Against a horizon known only at run time (``max_steps``, ``steps_per_epoch``
or ``tokens_per_step`` given by the trainer when the scheduler is built, ``Context.at_run_time``)
nobody can choose a horizon that divides evenly, so the length is rounded down to whole steps
(as Composer and Hugging Face's ``warmup_ratio`` round) and the record says so.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from bounded_lr_resolver.checks import check_count
from bounded_lr_resolver.errors import bad_type, bad_value

__all__ = [
    "LENGTH_FIELDS",
    "UNITS",
    "Context",
    "exact_steps",
    "is_duration",
    "lengths_of",
    "steps_of",
    "unit_of",
]

UNITS: Final = {"ep": "epochs", "dur": "a fraction of max_steps", "tok": "tokens"}
"""The duration units and what they count."""

_SCALE: Final = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMBT]?)\s*(ep|dur|tok)\s*")


@dataclass(frozen=True)
class Context:
    """What durations are counted against: the run's length and the sizes of an epoch and a step."""

    max_steps: int | None = None
    steps_per_epoch: int | None = None
    tokens_per_step: int | None = None
    at_run_time: bool = False  # what a duration counts against was given at run time: round down


def is_duration(value: object) -> bool:
    """Whether ``value`` is a duration string (``"3ep"``, ``"0.1dur"``, ``"2Btok"``)."""
    return isinstance(value, str) and _DURATION.fullmatch(value) is not None


def unit_of(value: object) -> str | None:
    """A duration's unit (``"ep"``, ``"dur"``, ``"tok"``), or None for steps or anything else."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    return None if match is None else match.group(3)


LENGTH_FIELDS: Final = ("max_steps", "warmup_steps", "decay_steps")
"""A declaration's own length fields; a phase's and a cooldown phase's ``steps`` are lengths too."""


def lengths_of(declaration: Mapping[str, object]) -> list[object]:
    """Every length a declaration gives (as given): its length fields, and each phase's and cooldown
    phase's ``steps``."""
    found = [declaration.get(name) for name in LENGTH_FIELDS]
    for key in ("phases", "cooldown"):
        entries = declaration.get(key)
        entries = [entries] if isinstance(entries, Mapping) else entries
        if isinstance(entries, (list, tuple)):
            found += [entry.get("steps") for entry in entries if isinstance(entry, Mapping)]
    return found


def _decimal(fraction: Fraction) -> str | None:
    """``fraction`` as an exact decimal string, or None if it has no finite decimal form."""
    denominator = fraction.denominator
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    if denominator != 1:
        return None
    digits = 0
    while (fraction * 10**digits).denominator != 1:
        digits += 1
    text = f"{fraction.numerator / fraction.denominator:.{digits}f}" if digits < 17 else None
    return text if text is not None and Fraction(text) == fraction else None


def _suggest(exact: Fraction, unit: str, per_step: Fraction) -> str:
    """The two whole step counts around ``exact``, each as this unit's duration where it is one."""
    options = []
    for steps in sorted({max(1, math.floor(exact)), math.ceil(exact)}):
        shown = _decimal(steps / per_step)
        options.append(f"{steps} steps" + (f" ({shown}{unit})" if shown is not None else ""))
    return "Use " + " or ".join(options)


def steps_of(where: str, name: str, value: object, context: Context, *, minimum: int = 1) -> int:
    """The whole number of steps ``value`` (an int or a duration string) stands for, or our error.

    Examples:
        >>> steps_of("build_scheduler", "warmup_steps", "0.1dur", Context(max_steps=300))
        30
        >>> steps_of("build_scheduler", "max_steps", "3ep", Context(steps_per_epoch=100))
        300
        >>> run = Context(max_steps=300)
        >>> steps_of("build_scheduler", "warmup_steps", "0.333dur", run)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bounded_lr_resolver.errors.BoundsError: build_scheduler: warmup_steps must be a whole number ...
        >>> steps_of("build_scheduler", "warmup_steps", "0.05dur", Context(4321, at_run_time=True))
        216
    """
    if not isinstance(value, str):
        return check_count(where, name, value, minimum=minimum)
    match = _DURATION.fullmatch(value)
    if match is None:
        if re.fullmatch(r"\s*\d+\s*", value):
            return check_count(where, name, value, minimum=minimum)  # text that is a number: its hint
        raise bad_type(
            where,
            name,
            "a whole number of steps or a duration: '<number>ep', '<number>dur' or '<number>tok'",
            value,
            "e.g. 3ep (needs steps_per_epoch), 0.1dur (a tenth of max_steps), 2Btok (needs tokens_per_step)",
        )
    number, scale, unit = match.groups()
    amount = Fraction(number) * _SCALE[scale]
    per_step, needs = _per_step(unit, context)
    if per_step is None:
        if unit == "dur" and name == "max_steps":
            raise bad_value(where, name, "steps, epochs or tokens (not a fraction of itself)", {name: value})
        raise bad_value(
            where,
            name,
            f"a duration whose unit can be counted here ('{unit}' counts {UNITS[unit]}: it needs {needs})",
            {name: value, needs: None},
            f"Give {needs} in the same config node or call, or give {name} in steps",
        )
    exact = amount * per_step
    if exact.denominator != 1 and context.at_run_time:
        exact = Fraction(math.floor(exact))  # 216.05 steps of a run-time horizon: 216
    if exact.denominator != 1:
        shown: dict[str, object] = {name: value, needs: getattr(context, needs), "steps": float(exact)}
        raise bad_value(
            where,
            name,
            "a whole number of steps",
            shown,
            _suggest(exact, unit, per_step),
        )
    return check_count(where, name, int(exact), minimum=minimum)


def exact_steps(value: object, context: Context) -> Fraction | None:
    """The exact (possibly fractional) number of steps a duration stands for, or None if it is none.

    >>> exact_steps("0.05dur", Context(4321))
    Fraction(4321, 20)
    """
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    number, scale, unit = match.groups()
    per_step, _ = _per_step(unit, context)
    return None if per_step is None else Fraction(number) * _SCALE[scale] * per_step


def _per_step(unit: str, context: Context) -> tuple[Fraction | None, str]:
    """Steps per unit (None if the context does not say), and the context field it comes from."""

    if unit == "ep":
        spe = context.steps_per_epoch
        return (None if spe is None else Fraction(spe)), "steps_per_epoch"
    if unit == "tok":
        tps = context.tokens_per_step
        return (None if tps is None else Fraction(1, tps)), "tokens_per_step"
    steps = context.max_steps
    return (None if steps is None else Fraction(steps)), "max_steps"
