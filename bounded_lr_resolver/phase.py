"""One phase: what it declares, how it is checked against where it starts and the peak, and its LR.

A :class:`Phase` is ``steps`` steps of one shape ending exactly at ``end_lr``. :func:`check_phase`
applies every rule a phase has on its own (a known shape, whole lengths, ``end_lr`` in ``[0,
peak]``, no 0 for a multiplicative shape, a ``constant`` that holds, no undeclared rise, its shape's
parameters) and derives its parameters (a step phase's ``gamma``); :func:`phase_lr` is its LR ``i``
steps into it, clamped between its ends. :class:`~bounded_lr_resolver.phases.Plan` joins phases.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bounded_lr_resolver.checks import check_count
from bounded_lr_resolver.decays import derive_gamma
from bounded_lr_resolver.errors import bad_type, bad_value
from bounded_lr_resolver.shapes import SHAPES, ZERO_SHAPES, Shape, zero_refused

__all__ = ["Part", "Phase", "check_phase", "milestone", "phase_lr"]

_NO_PARAMS: Final[tuple[tuple[str, Any], ...]] = ()


def milestone(j: int, span: int, plateaus: int) -> int:
    """The step (counted in its phase) of a step phase's ``j``-th decay: ``floor(j * span / plateaus)``."""
    return (j * span) // plateaus


@dataclass(frozen=True)
class Phase:
    """One phase: ``steps`` steps of ``shape`` ending at ``end_lr``.

    ``start_lr`` declares a restart (the phase starts there instead of where the previous one
    ended); ``rewarm`` allows the LR to rise. ``span`` and ``offset`` describe a phase that follows
    only part of a curve: ``span`` steps long (a phase cut short by a resume keeps the curve it was
    on) and starting at progress ``offset`` (the rest of an additive shape, re-planned on resume).
    """

    shape: str
    steps: int
    end_lr: float
    params: tuple[tuple[str, Any], ...] = _NO_PARAMS
    start_lr: float | None = None
    rewarm: bool = False
    offset: float = 0.0
    span: int | None = None

    @property
    def length(self) -> int:
        """The curve's length in steps (``span``, or ``steps`` for a whole phase)."""
        return self.steps if self.span is None else self.span

    def param(self, name: str, default: Any = None) -> Any:
        """The value of the shape parameter ``name`` (``default`` if not given)."""
        return dict(self.params).get(name, default)

    def as_dict(self) -> dict[str, Any]:
        """The phase as plain data (checkpoints, records), leaving out what has its default."""
        data: dict[str, Any] = {"shape": self.shape, "steps": self.steps, "end_lr": self.end_lr}
        data.update(self.params)
        if self.start_lr is not None:
            data["start_lr"] = self.start_lr
        if self.rewarm:
            data["rewarm"] = True
        if self.offset:
            data["offset"] = self.offset
        if self.span is not None:
            data["span"] = self.span
        return data


@dataclass(frozen=True)
class Part:
    """A phase as joined: where it begins, its two ends and its parameters (derived ones included)."""

    begin: int
    phase: Phase
    start: float
    end: float
    params: Mapping[str, Any]

    @property
    def stop(self) -> int:
        """The step after its last: where the next phase begins."""
        return self.begin + self.phase.steps

    @property
    def holds(self) -> bool:
        """Whether the LR holds through it: a ``constant`` phase (a stable run's hold)."""
        return self.phase.shape == "constant" and not self.phase.rewarm and self.start == self.end


def check_phase(where: str, name: str, phase: Phase, start: float, peak: float) -> dict[str, Any]:
    """Check one phase against its start and the peak; return its parameters with the derived ones."""
    shape = SHAPES.get(phase.shape)
    if shape is None:
        raise bad_value(where, f"{name}.shape", f"one of {list(SHAPES)}", {f"{name}.shape": phase.shape})
    check_count(where, f"{name}.steps", phase.steps)
    length = check_count(where, f"{name}.span", phase.length)
    if length < phase.steps:
        raise bad_value(where, f"{name}.span", ">= steps", {f"{name}.span": length, "steps": phase.steps})
    end = phase.end_lr
    if not 0.0 <= end <= peak:
        raise bad_value(
            where,
            f"{name}.end_lr",
            "in [0, initial_lr] (the peak)",
            {f"{name}.end_lr": end, "initial_lr": peak},
        )
    if not 0.0 <= phase.offset < 1.0:  # also NaN
        raise bad_value(where, f"{name}.offset", "in [0, 1)", {f"{name}.offset": phase.offset})
    if shape.multiplicative and (start <= 0.0 or end <= 0.0):
        field = f"{name}.end_lr" if end <= 0.0 else f"{name} start"
        got: dict[str, object] = {"start": start, "end_lr": end}
        raise zero_refused(where, field, got, f"shape={shape.name!r}", "shape", ZERO_SHAPES)
    if shape.name == "constant" and end != start:
        raise bad_value(
            where,
            f"{name}.end_lr",
            "the LR it starts at, for shape 'constant' (or left out)",
            {f"{name}.end_lr": end, "start": start},
            "Use shape 'linear' or another decay to change the LR",
        )
    if end > start and (shape.stepwise or not shape.monotone or not phase.rewarm):
        hint = (
            "A step phase only decays"
            if shape.stepwise or not shape.monotone
            else "Add rewarm: true to this phase"
        )
        raise bad_value(
            where,
            f"{name}.end_lr",
            "<= the LR it starts at, as the LR never rises after warmup unless the phase says rewarm: true",
            {f"{name}.end_lr": end, "start": start},
            hint,
        )
    return _params(where, name, shape, phase, start, end)


def _params(where: str, name: str, shape: Shape, phase: Phase, start: float, end: float) -> dict[str, Any]:
    given = dict(phase.params)
    known = {param.name: param for param in shape.params}
    unknown = sorted(set(given) - set(known))
    if unknown:
        rule = (
            f"among {sorted(known)} for shape {shape.name!r}" if known else f"none for shape {shape.name!r}"
        )
        raise bad_value(where, f"{name} parameters", rule, {f"{name} parameters": unknown})
    values: dict[str, Any] = {}
    for param in shape.params:
        value = given.get(param.name, param.default)
        if value is ...:
            raise bad_type(where, f"{name}.{param.name}", f"{param.doc} (shape {shape.name!r})", None)
        values[param.name] = None if value is None else param.check(where, value, f"{name}.{param.name}")
    if shape.stepwise:
        count, length = values["n_updates"], phase.length
        plateaus = count if values["plateaus"] is None else values["plateaus"]
        if not count <= plateaus <= length:
            raise bad_value(
                where,
                f"{name}.n_updates",
                "<= the phase's steps (and plateaus in [n_updates, steps])",
                {f"{name}.n_updates": count, "plateaus": plateaus, "steps": length},
                "There cannot be more decays than steps",
            )
        values["plateaus"] = plateaus
        values["gamma"] = derive_gamma(where, start, end, count) if end < start else 1.0
    return values


def phase_lr(
    shape: Shape, a: float, b: float, length: int, offset: float, params: Any
) -> Callable[[int], float]:
    """The phase's LR at ``i`` steps into it, for ``0 < i < steps``: its shape, clamped between its ends."""
    curve, low, high = shape.curve, min(a, b), max(a, b)
    if shape.at is not None:
        return shape.at(length, a, b, params)
    if shape.on_steps:
        if not shape.monotone:
            return lambda i: min(high, max(low, curve(i, length, a, b, params)))
        return lambda i: curve(i, length, a, b, params)
    if offset:  # the rest of an additive curve from progress ``offset``, rescaled to start at ``a``
        unit = curve(offset, 1.0, 0.0, params)
        if unit > 0.0:
            rest = 1.0 - offset

            def stretched(i: int) -> float:
                lr = b + (a - b) * (curve(offset + rest * (i / length), 1.0, 0.0, params) / unit)
                return high if lr > high else low if lr < low else lr

            return stretched

    def value(i: int) -> float:
        lr = curve(i / length, a, b, params)
        return high if lr > high else low if lr < low else lr

    return value
