"""Resume that re-plans: the rest of a run under changed bounds, continuous and exact (torch-free).

A run resumed at step ``r`` keeps its history: every step up to and including ``r`` keeps the LR
it had. With changed bounds, each param group's *tail* (the steps after ``r``) is a new
:class:`~bounded_lr_resolver.schedule.Schedule` counted from ``r``: it starts at the LR the
checkpoint was training at, ``L = plan(r)``, and ends exactly at the new ``final_lr`` at the new
``max_steps`` (same end convention):

- ``kind`` a shape: the new shape from ``L`` over the remaining steps (``wsd`` keeps its decay at
  the end, ``decay_steps`` long, or all that is left);
- ``kind`` a step kind: the new ``n_updates`` minus the decays already made, spread evenly over the
  remaining steps (``step`` and ``multistep`` alike); ``exponential`` decays on every remaining step;
- still in the new warmup (``r < warmup_steps``): the warmup continues from ``L`` to the new
  ``initial_lr``, then the decay.

What cannot be honoured raises :class:`~bounded_lr_resolver.errors.ResumeMismatchError` naming the
field, both values and what would work. A change that leaves every future LR as it was
(:func:`same_future`) is not a change: nothing is re-planned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bounded_lr_resolver.checkpoint import FP32_RTOL
from bounded_lr_resolver.errors import BoundedLRError, ResumeMismatchError
from bounded_lr_resolver.schedule import Schedule

__all__ = ["ON_RESUME_CHANGE", "Plan", "plans", "same_future", "tail"]

ON_RESUME_CHANGE: Final = ("refuse", "replan")
"""What loading a checkpoint saved under other bounds does: raise, or re-plan the rest of the run."""

_WHERE = "BoundedLR.load_state_dict"


@dataclass(frozen=True)
class Plan:
    """One param group's LR at any step: its declared schedule, then the tails of later resumes.

    ``tails`` holds ``(r, tail)`` pairs with increasing ``r``; step ``t > r`` follows
    ``tail.lr_at(t - r)`` of the last such pair. ``base`` is the group's base LR when the tails were
    planned; a group following this plan at another base (an added group) is scaled by the ratio.
    """

    schedule: Schedule
    base: float
    tails: tuple[tuple[int, Schedule], ...] = ()

    def lr_at(self, step: int, base_lr: float | None = None) -> float:
        """The LR after ``step`` scheduler steps for a group whose base LR is ``base_lr``."""
        for resumed_at, part in reversed(self.tails):
            if step > resumed_at:
                if base_lr is None or base_lr == self.base:
                    return part.lr_at(step - resumed_at)
                return part.lr_at(step - resumed_at, part.initial_lr * (base_lr / self.base))
        return self.schedule.lr_at(step, self.base if base_lr is None else base_lr)

    def decays_made(self, step: int) -> int:
        """Decays a step kind has made by ``step`` across the tails (a shape counts none)."""
        made, start, part = 0, 0, self.schedule
        for resumed_at, following in self.tails:
            if step <= resumed_at:
                break
            made += part.decays_at(resumed_at - start) if part.stepwise else 0
            start, part = resumed_at, following
        return made + (part.decays_at(step - start) if part.stepwise else 0)


def same_future(old: Schedule, new: Schedule, step: int) -> bool:
    """Whether every LR after ``step`` is the same under both (so nothing needs re-planning).

    The step kinds share one milestone formula: ``step``, ``multistep`` and ``exponential`` with
    the same decay count are the same schedule. ``warmup_start_factor`` only matters while warmup
    steps remain after ``step``.
    """
    return _key(old, step) == _key(new, step)


def _key(s: Schedule, step: int) -> tuple[Any, ...]:
    ramp = (s.warmup_start_factor,) if step < s.warmup_steps else ()  # the LR at step itself too
    common = (s.initial_lr, s.final_lr, s.max_steps, s.final_lr_at, s.warmup_steps, *ramp)
    if s.stepwise:
        return ("stepwise", s.count, *common)
    return (s.kind, s.power, s.decay_steps, s.decay_shape, *common)


def _refuse(field: str, old: object, new: object, why: str, fix: str) -> ResumeMismatchError:
    return ResumeMismatchError(
        f"{_WHERE}: on_resume_change='replan' cannot honour {field}: checkpoint {field}={old!r}, "
        f"config {field}={new!r}: {why}. {fix}"
    )


def tail(
    current: Plan,
    new: Schedule,
    step: int,
    base: float,
    saved: dict[str, Any],
) -> Schedule:
    """The rest of a group's run after ``step`` under the ``new`` bounds, counted from ``step``.

    Args:
        current: the plan the checkpoint followed (its declared schedule and earlier tails).
        new: the group's new declared schedule (the config's).
        step: the checkpoint's step ``r``; steps up to it are history.
        base: the group's base LR under the new bounds (its ``initial_lr`` for a declared group).
        saved: the checkpoint's declared bounds for the group (for the messages).

    Raises:
        ResumeMismatchError: the change cannot be honoured, naming the field and both values.
    """
    at_resume = current.lr_at(step)
    start_lr, end_lr = new.ends(base)
    remaining = new.max_steps - step
    if remaining < 1:
        raise _refuse(
            "max_steps",
            saved.get("max_steps"),
            new.max_steps,
            f"the checkpoint is at step {step}, so the run must go on after it",
            f"Give max_steps > {step}",
        )
    if end_lr > at_resume:
        raise _refuse(
            "final_lr",
            saved.get("final_lr"),
            new.final_lr,
            f"the checkpoint trains at {at_resume!r} at step {step}, and the LR never rises after warmup",
            f"Give final_lr <= {at_resume!r} (for this group's base LR)",
        )
    warming = step < new.warmup_steps  # the LR at step is a warmup LR: ramp on to the peak
    if not warming and saved.get("initial_lr") != new.initial_lr:
        raise _refuse(
            "initial_lr",
            saved.get("initial_lr"),
            new.initial_lr,
            f"warmup has ended by step {step}, so the peak LR is history",
            f"Keep initial_lr={saved.get('initial_lr')!r} (and the optimizer's lr)",
        )
    old_base = saved.get("base_lr")
    if not warming and isinstance(old_base, float) and not math.isclose(old_base, base, rel_tol=FP32_RTOL):
        raise _refuse(
            "base_lr",
            old_base,
            base,
            f"warmup has ended by step {step}, so this param group's peak LR is history",
            f"Build the optimizer with this group's lr={old_base!r} again",
        )
    if warming and at_resume > start_lr:
        raise _refuse(
            "initial_lr",
            saved.get("initial_lr"),
            new.initial_lr,
            f"the warmup would have to fall from {at_resume!r} (the LR at step {step}) to it",
            f"Give initial_lr >= {at_resume!r}",
        )
    fields: dict[str, Any] = {
        "final_lr": end_lr,
        "max_steps": remaining,
        "final_lr_at": new.final_lr_at,
        "kind": new.kind,
        "initial_lr": start_lr if warming else at_resume,
        "warmup_steps": new.warmup_steps - step if warming else 0,
        "warmup_start_factor": at_resume / start_lr if warming else 0.0,
    }
    if new.kind == "polynomial":
        fields["power"] = new.power
    if new.kind == "wsd":
        fields["decay_shape"] = new.decay_shape
        fields["decay_steps"] = min(new.decay_steps or 1, remaining - fields["warmup_steps"])
    if new.stepwise and new.kind != "exponential":
        fields["kind"] = "multistep"  # the rest, evenly spread: StepLR's steps need not divide it
        made = current.decays_made(step)
        fields["n_updates"] = new.count - made
        if fields["n_updates"] < 1 and at_resume == end_lr:
            fields["n_updates"] = 1  # already at final_lr: a constant tail
        elif fields["n_updates"] < 1:
            raise _refuse(
                "n_updates",
                saved.get("n_updates"),
                new.n_updates,
                f"the checkpoint has made {made} decays by step {step}",
                f"Give n_updates > {made} (the decays so far plus the ones still to come)",
            )
    try:
        return Schedule(where=f"{_WHERE} (the rest of the run after step {step})", **fields)
    except BoundedLRError as error:
        changed = sorted(key for key, value in new.bounds().items() if saved.get(key) != value)
        raise ResumeMismatchError(
            f"{_WHERE}: on_resume_change='replan' cannot plan the {remaining} steps after step {step} "
            f"under the changed {', '.join(changed)} (in the rest of the run, max_steps counts the steps "
            f"left and n_updates the decays still to come): {error}"
        ) from None


def plans(
    declared: Sequence[tuple[Schedule, float]], tails: Sequence[tuple[int, Sequence[Schedule]]]
) -> list[Plan]:
    """Each declared group's :class:`Plan` from the recorded tails (one schedule per group each)."""
    return [
        Plan(schedule, base, tuple((step, parts[index]) for step, parts in tails))
        for index, (schedule, base) in enumerate(declared)
    ]
