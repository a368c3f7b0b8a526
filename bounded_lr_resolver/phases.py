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
from collections.abc import Callable
from typing import Any

from bounded_lr_resolver.checks import check_floor
from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.phase import Part, Phase, check_phase, milestone, phase_lr
from bounded_lr_resolver.shapes import SHAPES

__all__ = ["Part", "Phase", "Plan", "milestone"]  # Part, Phase, milestone: one phase, from .phase


class Plan:
    """A validated sequence of phases from ``start_lr`` at step 0; the LR at any step.

    Args:
        start_lr: the LR at step 0, in ``[0, peak]``.
        phases: the phases, in order.
        peak: the highest LR allowed (a schedule's ``initial_lr``); a group whose base LR differs
            follows :meth:`scaled`.
        where: the name used in error messages.
        label: what the messages call the list (``phases[2].end_lr``; a branch's ``cooldown``).

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
        label: str = "phases",
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
            name = f"{label}[{index}]"
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
                params = check_phase(where, name, phase, start, peak)
            shape = SHAPES[phase.shape]
            parts.append(Part(begin, phase, start, phase.end_lr, params))
            values.append(phase_lr(shape, start, phase.end_lr, phase.length, phase.offset, params))
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
