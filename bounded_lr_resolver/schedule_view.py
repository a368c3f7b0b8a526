"""What a schedule's phases say: its decays, where its decay starts and ends, any group's LR, its bounds.

:class:`ScheduleView` is the read side of :class:`~bounded_lr_resolver.schedule.Schedule`: given the
validated fields and the :class:`~bounded_lr_resolver.phases.Plan` a declaration stands for, it
answers from the plan alone (a step kind's ``gamma``, ``count``, ``milestones()``, the first and
last decay step, a param group's plan and LR at any step) and gives the declared fields back as
plain data (:meth:`ScheduleView.bounds`: checkpoints, summaries, CSV).

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

from typing import Any

from bounded_lr_resolver import bounds as b
from bounded_lr_resolver.checks import check_base_lr
from bounded_lr_resolver.decays import low_powers
from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.fields import SHAPE_PARAMS
from bounded_lr_resolver.kinds import STEP_KINDS
from bounded_lr_resolver.phase import Part, Phase, milestone
from bounded_lr_resolver.phases import Plan
from bounded_lr_resolver.shapes import SHAPES

__all__ = ["ScheduleView"]


class ScheduleView:
    """The queries of a :class:`~bounded_lr_resolver.schedule.Schedule` (which sets these fields)."""

    where: str
    kind: str
    initial_lr: float
    final_lr: float
    max_steps: int
    final_lr_at: str
    warmup_steps: int
    warmup_start_factor: float
    warmup_shape: str
    n_updates: int | None
    decay_steps: int | None
    decay_shape: str | None
    params: dict[str, Any]
    phases: tuple[Phase, ...]
    cooldown: tuple[dict[str, Any], ...]
    open_ended: bool
    plan: Plan
    _gamma: float
    _plateaus: int
    _scaled: dict[float, Plan]

    def __getattr__(self, name: str) -> Any:
        """A shape parameter (``power``, ``T_0``, ...) of this schedule, or None where it has none."""
        if name in SHAPE_PARAMS:
            return self.__dict__.get("params", {}).get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def stepwise(self) -> bool:
        """Whether the LR decays by gamma at ``n_updates`` steps (step, multistep, exponential)."""
        return self.kind in STEP_KINDS

    @property
    def gamma(self) -> float:
        """The per-decay factor ``(final_lr / initial_lr) ** (1 / n_updates)`` (NaN for a shape)."""
        return self._gamma

    @property
    def low_powers(self) -> tuple[float, ...]:
        """``gamma**r`` for ``r < LOW_POWERS`` of a step kind (empty for a shape)."""
        return low_powers(self._gamma) if self.stepwise else ()

    @property
    def count(self) -> int:
        """``m``: the number of decays of a step kind (0 for a continuous kind)."""
        return self.n_updates or 0

    @property
    def plateaus(self) -> int:
        """``P`` of a step kind: ``n_updates``, or ``n_updates + 1`` for ``final_lr_at="last_step"``."""
        return self._plateaus

    @property
    def decay_span(self) -> int:
        """``D = max_steps - warmup_steps``: the steps after warmup."""
        return self.max_steps - self.warmup_steps

    @property
    def step_size(self) -> int | None:
        """Steps between decays when they are evenly spaced (always for ``kind="step"``), else None."""
        if not self.stepwise:
            return None
        size, rest = divmod(self.decay_span, self._plateaus)
        return None if rest else size

    def _decaying(self) -> list[Part]:
        return [p for p in self.plan.parts if p.begin >= self.warmup_steps and p.phase.shape != "constant"]

    @property
    def first_decay_step(self) -> int:
        """The first step after warmup whose LR may be below the one before it."""
        parts = self._decaying()
        if not parts:
            return self.warmup_steps
        first = parts[0]
        if self.stepwise:
            return first.begin + milestone(1, first.phase.length, first.params["plateaus"])
        return first.begin + 1

    @property
    def decay_start(self) -> int:
        """The last step at ``initial_lr`` before the LR starts to fall (the end of warmup or hold)."""
        return self.first_decay_step - 1

    @property
    def last_decay_step(self) -> int:
        """The step at which the LR first equals ``final_lr`` for good."""
        parts = self._decaying()
        if not parts:
            return self.warmup_steps
        last = parts[-1]
        if self.stepwise:
            return last.begin + milestone(self.count, last.phase.length, self._plateaus)
        return last.stop

    @property
    def change_steps(self) -> int:
        """How many steps after warmup may change the LR: the decays, or every step of a shape."""
        return sum(
            p.params["n_updates"] if SHAPES[p.phase.shape].stepwise else p.phase.steps
            for p in self._decaying()
        )

    def milestones(self) -> list[int]:
        """The decay steps of a step kind, as :func:`~bounded_lr_resolver.bounds.milestones` gives them."""
        if not self.stepwise:
            raise bad_value(self.where, "kind", "a step kind for milestones", {"kind": self.kind})
        return b.milestones(self.max_steps, self.count, self.warmup_steps, self.final_lr_at, where=self.where)

    def decays_at(self, step: int) -> int:
        """How many decays of a step kind have happened by scheduler step ``step`` (0 during warmup)."""
        return self.plan.decays_by(step)

    def ends(self, base_lr: float | None = None) -> tuple[float, float]:
        """A param group's ``(start, end)`` LRs: ``base_lr`` and ``base_lr * final_lr / initial_lr``."""
        base_lr = check_base_lr("Schedule.ends", base_lr)
        if base_lr is None or base_lr == self.initial_lr:
            return self.initial_lr, self.final_lr
        return base_lr, base_lr * (self.final_lr / self.initial_lr)

    def plan_for(self, base_lr: float | None = None) -> Plan:
        """The plan of a param group whose base LR is ``base_lr`` (default: ``initial_lr``)."""
        base_lr = check_base_lr("Schedule.plan_for", base_lr)
        if base_lr is None or base_lr == self.initial_lr:
            return self.plan
        plan = self._scaled.get(base_lr)
        if plan is None:
            plan = self._scaled[base_lr] = self.plan.scaled(base_lr)
        return plan

    def lr_at(self, step: int, base_lr: float | None = None) -> float:
        """The LR after ``step`` scheduler steps, i.e. the LR that training step ``step`` uses.

        Args:
            step: a scheduler step count ``>= 0``. Past the end the LR holds at ``final_lr``.
            base_lr: a param group's own initial LR; the group then ends at
                ``base_lr * final_lr / initial_lr``. Defaults to ``initial_lr``.
        """
        return self.plan_for(check_base_lr("Schedule.lr_at", base_lr)).lr_at(step)

    def bounds(self) -> dict[str, object]:
        """The declared fields that apply to this kind, as plain data (checkpoints, summaries, CSV).

        A step kind's bounds are what they were before the phases, so its old checkpoints load.
        """
        data: dict[str, object] = {
            "initial_lr": self.initial_lr,
            "final_lr": self.final_lr,
            "max_steps": None if self.open_ended else self.max_steps,
        }
        if self.stepwise:
            data["n_updates"] = self.n_updates
        data.update(kind=self.kind, final_lr_at=self.final_lr_at, warmup_steps=self.warmup_steps)
        data["warmup_start_factor"] = self.warmup_start_factor
        data.update(self.params)
        if self.kind == "wsd":
            data.update(decay_steps=self.decay_steps, decay_shape=self.decay_shape)
        if self.warmup_shape != "linear":
            data["warmup_shape"] = self.warmup_shape
        if self.kind == "phases":
            data["phases"] = [phase.as_dict() for phase in self.phases]
        if self.cooldown:
            data["cooldown"] = [dict(entry) for entry in self.cooldown]
        return data
