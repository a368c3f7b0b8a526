"""A schedule as phases joined end to end, and the LR at any step: the one mechanism.

A :class:`Plan` starts at ``start_lr`` at step 0 and runs through its :class:`Phase` s in order.
Phase ``k`` begins at step ``s_k`` (the sum of the lengths before it) and lasts ``n_k`` steps:

.. math::

    \\eta(t) = \\begin{cases}
        a_k & t = s_k \\\\
        \\text{shape}_k(x, a_k, b_k) & s_k < t < s_k + n_k, \\quad x = (t - s_k) / n_k \\\\
        b_{last} & t \\ge \\sum_k n_k
    \\end{cases}

where ``b_k`` is the phase's declared ``end_lr`` and ``a_k`` its start: the previous phase's end
(so each phase ends exactly at its ``end_lr`` at its boundary step, pinned, never computed), or a
declared ``start_lr`` (a restart: the boundary step trains at it, as torch's
``CosineAnnealingWarmRestarts`` does). Joining checks what optax's ``join_schedules`` does not:
every length is a whole number of steps, every LR lies in ``[0, peak]``, a multiplicative shape
never touches 0, and the LR never rises unless the phase says ``rewarm``.

Warmup, a stable hold, every decay (step kinds included), a WSD cooldown, a re-warm, restarts and
the re-planned rest of a resumed run are all phases. A plan of a param group whose base LR is not
the peak is the same plan scaled (:meth:`Plan.scaled`): every LR ``v`` becomes ``base * (v / peak)``.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bounded_lr_resolver.checks import check_count, check_floor
from bounded_lr_resolver.errors import bad_type, bad_value
from bounded_lr_resolver.shapes import SHAPES, Shape, derive_gamma, shape_names

__all__ = ["Part", "Phase", "Plan", "milestone"]

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


def _prepared(where: str, name: str, phase: Phase, start: float, peak: float) -> dict[str, Any]:
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
        additive = [s for s in shape_names(multiplicative=False) if s != "constant"]
        raise bad_value(
            where,
            f"{name}.end_lr" if end <= 0.0 else f"{name} start",
            f"> 0 for shape {shape.name!r}, whose LRs are ratios of its ends",
            {"start": start, "end_lr": end},
            f"Shapes that can start or end at 0: {additive}",
        )
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


def _value(
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


class Plan:
    """A validated sequence of phases from ``start_lr`` at step 0; the LR at any step.

    Args:
        start_lr: the LR at step 0, in ``[0, peak]``.
        phases: the phases, in order.
        peak: the highest LR allowed (a schedule's ``initial_lr``); a group whose base LR differs
            follows :meth:`scaled`.
        where: the name used in error messages.

    Examples:
        >>> plan = Plan(0.0, [Phase("linear", 10, 0.1, rewarm=True), Phase("cosine", 90, 0.0)], peak=0.1)
        >>> plan.lr_at(0), plan.lr_at(5), plan.lr_at(10), plan.lr_at(100), plan.total
        (0.0, 0.05, 0.1, 0.0, 100)
    """

    __slots__ = ("_begins", "_values", "final", "parts", "peak", "start_lr", "total", "where")

    def __init__(
        self,
        start_lr: float,
        phases: Any,
        peak: float,
        where: str = "Plan",
        *,
        _prepared_params: list[dict[str, Any]] | None = None,
    ) -> None:
        phases = tuple(phases)
        if not phases:
            raise bad_value(where, "phases", "a non-empty list", {"phases": []})
        if not 0.0 <= start_lr <= peak:  # also NaN; a warmup's start may be subnormal
            raise bad_value(where, "start_lr", "in [0, peak]", {"start_lr": start_lr, "peak": peak})
        parts: list[Part] = []
        values: list[Callable[[int], float]] = []
        begin, at = 0, float(start_lr)
        for index, phase in enumerate(phases):
            name = f"phases[{index}]"
            start = at if phase.start_lr is None else float(phase.start_lr)
            if _prepared_params is not None:
                params = _prepared_params[index]
            else:
                if phase.start_lr is not None:
                    check_floor(where, f"{name}.start_lr", phase.start_lr)
                    if not start <= peak:
                        rule = "<= initial_lr (the peak)"
                        raise bad_value(
                            where, f"{name}.start_lr", rule, {f"{name}.start_lr": start, "peak": peak}
                        )
                    if start > at and not phase.rewarm:
                        raise bad_value(
                            where,
                            f"{name}.start_lr",
                            "<= the LR the phase before ends at, unless the phase says rewarm: true (a "
                            "restart)",
                            {f"{name}.start_lr": start, "LR before": at},
                            "Add rewarm: true to restart at a higher LR",
                        )
                params = _prepared(where, name, phase, start, peak)
            shape = SHAPES[phase.shape]
            parts.append(Part(begin, phase, start, phase.end_lr, params))
            values.append(_value(shape, start, phase.end_lr, phase.length, phase.offset, params))
            begin += phase.steps
            at = phase.end_lr if phase.span is None or phase.steps == phase.span else values[-1](phase.steps)
        self.start_lr = float(start_lr)
        self.peak = float(peak)
        self.where = where
        self.parts: tuple[Part, ...] = tuple(parts)
        self.total = begin
        self.final = parts[-1].end
        self._begins = [part.begin for part in parts]
        self._values = values

    @property
    def phases(self) -> tuple[Phase, ...]:
        """The phases, in order."""
        return tuple(part.phase for part in self.parts)

    def lr_at(self, step: int) -> float:
        """The LR after ``step`` scheduler steps (the LR training step ``step`` uses); held after the end."""
        if step >= self.total:
            return self.final
        if step < 0:
            raise bad_value(self.where, "step", "a scheduler step count >= 0", {"step": step})
        begins = self._begins
        index = bisect.bisect_right(begins, step) - 1 if len(begins) > 1 else 0
        i = step - begins[index]
        return self.parts[index].start if i == 0 else self._values[index](i)

    def part_at(self, step: int) -> Part:
        """The phase that step ``step`` falls in (the last one past the end)."""
        return self.parts[max(0, bisect.bisect_right(self._begins, min(step, self.total - 1)) - 1)]

    def scaled(self, base: float) -> Plan:
        """The same plan for a group whose base LR is ``base``: every LR ``v`` becomes ``base * (v / "
        "peak)``."""
        if base == self.peak:
            return self

        def scale(value: float) -> float:
            return base if value == self.peak else base * (value / self.peak)

        phases = [
            Phase(
                part.phase.shape,
                part.phase.steps,
                scale(part.end),
                part.phase.params,
                None if part.phase.start_lr is None else scale(part.start),
                part.phase.rewarm,
                part.phase.offset,
                part.phase.span,
            )
            for part in self.parts
        ]
        return Plan(
            scale(self.start_lr),
            phases,
            base,
            self.where,
            _prepared_params=[dict(part.params) for part in self.parts],
        )

    def resumed(self, step: int, rest: Plan) -> Plan:
        """This plan up to ``step``, then ``rest`` (counted from ``step``, starting at the LR at ``step``).

        Every step up to and including ``step`` keeps its LR bitwise: the phase ``step`` falls in is
        cut short there (keeping the curve it was on), and ``rest`` starts at this plan's LR at ``step``.
        """
        at = self.lr_at(step)
        kept: list[Phase] = []
        params: list[dict[str, Any]] = []
        for part in self.parts:
            if part.begin >= step:
                break
            phase = part.phase
            if part.stop > step:  # cut short: it keeps the curve it was on
                phase = Phase(
                    phase.shape, step - part.begin, phase.end_lr, phase.params, phase.start_lr,
                    phase.rewarm, phase.offset, phase.length,
                )  # fmt: skip
            kept.append(phase)
            params.append(dict(part.params))
        if step > self.total:  # resumed past the end: the final LR held up to the resume
            kept.append(Phase("constant", step - self.total, self.final))
            params.append({})
        first = rest.parts[0].phase
        tail = [
            Phase(
                first.shape,
                first.steps,
                first.end_lr,
                first.params,
                at,
                first.rewarm,
                first.offset,
                first.span,
            ),
            *(part.phase for part in rest.parts[1:]),
        ]
        return Plan(
            self.start_lr,
            [*kept, *tail],
            max(self.peak, rest.peak),
            self.where,
            _prepared_params=[*params, *(dict(part.params) for part in rest.parts)],
        )

    def decays_by(self, step: int, since: int = 0) -> int:
        """How many decays the step phases made in steps ``since + 1 .. step`` (a shape counts none)."""
        made = 0
        for part in self.parts:
            if SHAPES[part.phase.shape].stepwise and part.start != part.end:
                made += _decays(part, step - part.begin) - _decays(part, since - part.begin)
        return made

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{part.phase.shape}[{part.begin}:{part.stop}] -> {part.end!r}" for part in self.parts
        )
        return f"Plan(start_lr={self.start_lr!r}, {shown})"


def _decays(part: Part, j: int) -> int:
    """Decays a step phase has made ``j`` steps into it (its last, ``n_updates``, at its end)."""
    if j <= 0:
        return 0
    p = part.params
    made: int = min(p["n_updates"], ((min(j, part.phase.steps) + 1) * p["plateaus"] - 1) // part.phase.length)
    return made
