"""What loading a checkpoint does: keep its plan, refuse a change, or re-plan the rest (torch-free).

:func:`decide` takes a checked checkpoint (:class:`~bounded_lr_resolver.checkpoint.Saved`) and the
schedules the config declares, and returns a :class:`Decision`: each declared group's plan from now
on and what to record. A run resumed at step ``r`` keeps its history: every step up to and
including ``r`` keeps the LR it had. With changed bounds and ``on_resume_change="replan"``, each
group's rest is the new schedule after ``r``, started from the LR the checkpoint was training at,
``L = plan(r)``, and appended to the plan as phases (:meth:`~bounded_lr_resolver.phases.Plan.resumed`):

- the phase of the new schedule that ``r`` falls in continues from ``L`` to its end: a shape whose
  registry entry says ``stretch`` (cosine, polynomial, sqrt) follows the rest of its own curve
  from where ``r`` falls in it, rescaled to start at ``L`` (a cosine stretches instead of
  restarting flat); a multiplicative or straight one (linear, exponential, inverse_sqrt) goes from
  ``L`` to its end; a hold holds ``L``;
  still in the new warmup, the warmup ramps on from ``L``;
- a step phase makes its ``n_updates`` minus the decays already made, spread evenly over the steps
  left (a phase that decays on every step, ``kind="exponential"``, decays on every step left);
- the phases after it are the new schedule's, as declared.

What cannot be honoured raises :class:`~bounded_lr_resolver.errors.ResumeMismatchError` naming the
field, both values and what would work. A change that leaves every future LR as it was is not a
change: nothing is re-planned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bounded_lr_resolver.branch import check_root, cooldown_rest, inside_branch
from bounded_lr_resolver.checkpoint import (
    FP32_RTOL,
    LOAD,
    Saved,
    describe_mismatch,
    recorded_plans,
    same_bounds,
)
from bounded_lr_resolver.durations import Context
from bounded_lr_resolver.errors import BoundedLRError, ResumeMismatchError
from bounded_lr_resolver.phases import Part, Phase, Plan
from bounded_lr_resolver.schedule import Schedule
from bounded_lr_resolver.shapes import SHAPES

__all__ = ["ON_RESUME_CHANGE", "Decision", "decide", "same_future", "tail"]

ON_RESUME_CHANGE: Final = ("refuse", "replan")
"""What loading a checkpoint saved under other bounds does: raise, or re-plan the rest of the run."""


@dataclass(frozen=True)
class Decision:
    """What to follow after a load: each declared group's plan, and the record that rebuilds it."""

    plans: list[Plan]
    origin: list[tuple[Schedule, float]]  # empty: never re-planned
    segments: list[tuple[int, list[Plan]]]
    before: list[Plan] | None = None  # what the checkpoint followed (None: the same as plans)
    declared: list[Schedule] | None = None  # what the checkpoint's config declared (None: this one)
    branches: tuple[int, ...] = ()  # the steps at which a cooldown branch was planned

    @property
    def resumed_at(self) -> tuple[int, ...]:
        """The steps at which a resume re-planned the rest of the run."""
        return tuple(step for step, _ in self.segments)


def _future(plan: Plan, step: int) -> tuple[Any, ...]:
    """Everything that decides the LRs after ``step``: the phases that reach past it."""
    return (
        *(
            (part.begin, part.phase, part.start, part.end, tuple(sorted(part.params.items())))
            for part in plan.parts
            if part.stop > step
        ),
        plan.final,
    )


def same_future(old: Schedule, new: Schedule, step: int) -> bool:
    """Whether every LR after ``step`` is the same under both (so nothing needs re-planning).

    The step kinds are one phase: ``step``, ``multistep`` and ``exponential`` with the same decays
    are the same schedule. ``warmup_start_factor`` only matters while warmup steps remain after
    ``step``.
    """
    return _future(old.plan, step) == _future(new.plan, step)


def decide(
    saved: Saved,
    declared: Sequence[tuple[Schedule, float]],
    on_resume_change: str,
    branch_of_branch: bool = False,
) -> Decision:
    """Keep the checkpoint's plan, accept an unchanged future, re-plan, branch, or raise naming why.

    A declaration with a ``cooldown`` plans a branch from the checkpoint's step
    (:mod:`bounded_lr_resolver.branch`); ``branch_of_branch`` allows one from a checkpoint taken
    inside a branch.
    """
    ours = [dict(schedule.bounds(), base_lr=base) for schedule, base in declared]
    if same_bounds(saved.bounds, ours):
        return _recorded(saved, declared)
    if any(schedule.cooldown for schedule, _ in declared):
        return _branch(saved, declared, ours, branch_of_branch)
    step = saved.last_epoch
    old = _checkpoint_schedules(saved, ours)
    unchanged = all(
        same_future(before, schedule, step)
        and before.cooldown == schedule.cooldown  # a branch's checkpoint is not its stable run's
        and math.isclose(before_base, base, rel_tol=FP32_RTOL)
        for (before, before_base), (schedule, base) in zip(old, declared, strict=True)
    )
    if unchanged:  # follow what the checkpoint followed: the same future, and its history as trained
        plans = recorded_plans(saved.origin or old, saved.segments)
        return Decision(plans, list(saved.origin), list(saved.segments), branches=saved.branches)
    if on_resume_change != "replan":
        raise ResumeMismatchError(describe_mismatch(saved.bounds, ours))
    origin = saved.origin or old
    current = recorded_plans(origin, saved.segments)
    rests = [
        tail(current[index], schedule, step, base, saved.bounds[index])
        for index, (schedule, base) in enumerate(declared)
    ]
    # a second re-plan at the same step (saved again before stepping) replaces the first: nothing
    # trained under it, and two rests from one step would be one too many
    earlier = [entry for entry in saved.segments if entry[0] != step]
    segments = [*earlier, (step, rests)]
    branches = tuple(at for at in saved.branches if at != step)
    plans = recorded_plans(origin, segments)
    return Decision(plans, list(origin), segments, current, [s for s, _ in old], branches)


def _checkpoint_schedules(saved: Saved, ours: list[dict[str, Any]]) -> list[tuple[Schedule, float]]:
    """What the checkpoint's config declared, rebuilt; a refusal if they are no schedule's bounds."""
    try:
        return [
            (Schedule(**{k: v for k, v in bounds.items() if k != "base_lr"}), float(bounds["base_lr"]))
            for bounds in saved.bounds
        ]
    except (TypeError, KeyError, ValueError):  # not our bounds at all: refuse as before
        raise ResumeMismatchError(describe_mismatch(saved.bounds, ours, readable=False)) from None


def _branch(
    saved: Saved, declared: Sequence[tuple[Schedule, float]], ours: list[dict[str, Any]], nested: bool
) -> Decision:
    """A cooldown branch from the checkpoint's step: its history kept, each group's cooldown after it."""
    check_root(saved, ours, nested)
    step = saved.last_epoch
    old = _checkpoint_schedules(saved, ours)
    origin = saved.origin or old
    current = recorded_plans(origin, saved.segments)
    rests = []
    for (schedule, base), plan in zip(declared, current, strict=True):
        peak = schedule.initial_lr
        cooldown = [  # a group's floors at its own scale, as Plan.scaled scales its plan
            {**entry, "end_lr": base if entry["end_lr"] == peak else base * (entry["end_lr"] / peak)}
            if entry.get("end_lr") is not None and base != peak
            else entry
            for entry in schedule.cooldown
        ]
        context = Context(None, schedule.steps_per_epoch, schedule.tokens_per_step, at_run_time=True)
        rests.append(cooldown_rest(cooldown, plan, step, context, nested=inside_branch(saved)))
    segments = [*(entry for entry in saved.segments if entry[0] != step), (step, rests)]
    branches = (*(at for at in saved.branches if at != step), step)
    plans = recorded_plans(origin, segments)
    return Decision(plans, list(origin), segments, current, [s for s, _ in old], branches)


def _recorded(saved: Saved, declared: Sequence[tuple[Schedule, float]]) -> Decision:
    """The checkpoint's own plan: its recorded re-plans, or (never re-planned) the declared schedules."""
    if not saved.segments:
        return Decision([schedule.plan_for(base) for schedule, base in declared], [], [])
    plans = recorded_plans(saved.origin, saved.segments)
    return Decision(plans, list(saved.origin), list(saved.segments), branches=saved.branches)


def _refuse(field: str, old: object, new: object, why: str, fix: str) -> ResumeMismatchError:
    return ResumeMismatchError(
        f"{LOAD}: on_resume_change='replan' cannot honour {field}: checkpoint {field}={old!r}, "
        f"config {field}={new!r}: {why}. {fix}"
    )


def _field(new: Schedule, index: int) -> str:
    """The user's name for the end of the plan's phase ``index``: a declared phase's, or final_lr."""
    if new.kind == "phases":
        return f"phases[{index - (1 if new.warmup_steps else 0)}].end_lr"
    return "final_lr"


def tail(current: Plan, new: Schedule, step: int, base: float, saved: dict[str, Any]) -> Plan:
    """The rest of a group's run after ``step`` under the ``new`` bounds, counted from ``step``.

    Args:
        current: the plan the checkpoint followed (its declared schedule and earlier rests).
        new: the group's new declared schedule (the config's).
        step: the checkpoint's step ``r``; steps up to it are history.
        base: the group's base LR under the new bounds (its ``initial_lr`` for a declared group).
        saved: the checkpoint's declared bounds for the group (for the messages).

    Raises:
        ResumeMismatchError: the change cannot be honoured, naming the field and both values.
    """
    at = current.lr_at(step)
    target = new.plan_for(base)
    if target.total <= step:
        raise _refuse(
            "max_steps",
            saved.get("max_steps"),
            new.max_steps,
            f"the checkpoint is at step {step}, so the run must go on after it",
            f"Give max_steps > {step}",
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
    if warming and at > base:
        raise _refuse(
            "initial_lr",
            saved.get("initial_lr"),
            new.initial_lr,
            f"the warmup would have to fall from {at!r} (the LR at step {step}) to it",
            f"Give initial_lr >= {at!r}",
        )
    index = target.parts.index(target.part_at(step))
    holding = target.parts[index]
    if holding.phase.shape == "constant" and holding.end < at:
        field = _field(new, index)
        raise _refuse(
            field,
            saved.get(field),
            holding.end,
            f"the config holds {holding.end!r} from step {holding.begin}, but the checkpoint trains at "
            f"{at!r} at "
            f"step {step}",
            f"Give max_steps > {step + 1}",
        )
    level = at
    for later, part in enumerate(target.parts[index:], start=index):
        rises = part.phase.rewarm or (later == index and warming)
        last = later == len(target.parts) - 1  # a hold at the end must hold the final LR
        if not rises and (part.phase.shape != "constant" or last) and part.end > level:
            field = _field(new, later)
            raise _refuse(
                field,
                saved.get(field),
                part.end,
                f"the checkpoint trains at {at!r} at step {step}, and the LR never rises after warmup",
                f"Give {field} <= {level!r} (for this group's base LR)",
            )
        level = part.end if rises or part.phase.shape != "constant" else level
    first = _rest_of(target.parts[index], step, at, current, target, new, saved)
    later_phases = [part.phase for part in target.parts[index + 1 :]]
    if not SHAPES[target.parts[index].phase.shape].stepwise:
        # the first step phase after the resume also counts the decays the history made (n_updates
        # is the total): only its window, from the step phase before it (or step 0), reaches back
        for offset, part in enumerate(target.parts[index + 1 :]):
            if SHAPES[part.phase.shape].stepwise:
                made = current.decays_by(step, _since(target, part))
                if made and new.kind != "exponential":
                    later_phases[offset] = _counted(part, part.phase.steps, made, part.start, saved, step)
                break
    try:
        return Plan(
            at, [first, *later_phases], max(at, base), f"{LOAD} (the rest of the run after step {step})"
        )
    except BoundedLRError as error:
        changed = sorted(key for key, value in new.bounds().items() if saved.get(key) != value)
        raise ResumeMismatchError(
            f"{LOAD}: on_resume_change='replan' cannot plan the {target.total - step} steps after step "
            f"{step} "
            f"under the changed {', '.join(changed)} (in the rest of the run, the steps left and the decays "
            f"still to come): {error}"
        ) from None


def _since(target: Plan, part: Part) -> int:
    """Where a step phase's count of decays starts: the end of the step phase before it, or step 0."""
    earlier = [p for p in target.parts if p.stop <= part.begin and SHAPES[p.phase.shape].stepwise]
    return earlier[-1].stop if earlier else 0


def _counted(part: Part, left: int, made: int, start: float, saved: dict[str, Any], step: int) -> Phase:
    """A step phase over ``left`` steps with its ``n_updates`` less the ``made`` decays, spread evenly."""
    count, plateaus = part.params["n_updates"], part.params["plateaus"]
    remaining = count - made
    if remaining < 1 and start == part.end:
        remaining = 1  # already at its end: a constant rest
    elif remaining < 1:
        raise _refuse(
            "n_updates",
            saved.get("n_updates"),
            count,
            f"the checkpoint has made {made} decays by step {step}",
            f"Give n_updates > {made} (the decays so far plus the ones still to come)",
        )
    spare = plateaus - count  # 1 with final_lr_at='last_step': a plateau at the end
    if remaining + spare > left:
        raise _refuse(
            "n_updates",
            saved.get("n_updates"),
            count,
            f"{remaining} decays are still to come after step {step} (the checkpoint has made {made}), "
            f"and {left} steps are left for them" + (" and the plateau at final_lr" if spare else ""),
            f"Give n_updates <= {made + left - spare}, or {remaining + spare - left} more steps",
        )
    params = (("n_updates", remaining), ("plateaus", remaining + spare))
    return Phase("multistep", left, part.end, params)


def _rest_of(
    part: Part, step: int, at: float, current: Plan, target: Plan, new: Schedule, saved: dict[str, Any]
) -> Phase:
    """The phase ``step`` falls in, from ``step`` on, starting at ``at``."""
    phase, shape = part.phase, SHAPES[part.phase.shape]
    left = part.stop - step
    if phase.shape == "constant":
        return Phase("constant", left, at)
    if shape.stepwise:
        if new.kind == "exponential":  # a decay on every step: on every step left
            count, plateaus = part.params["n_updates"], part.params["plateaus"]
            params = (("n_updates", left - (plateaus - count)), ("plateaus", left))
            return Phase("multistep", left, part.end, params)
        return _counted(part, left, current.decays_by(step, _since(target, part)), at, saved, step)
    if not shape.monotone:
        raise ResumeMismatchError(
            f"{LOAD}: on_resume_change='replan' cannot re-plan inside a {phase.shape} phase (step {step} "
            f"falls in the one of steps {part.begin}..{part.stop}). Resume with the bounds the checkpoint "
            "was trained with, or from a checkpoint taken outside that phase"
        )
    offset = 0.0
    if shape.stretch:
        offset = phase.offset + (1.0 - phase.offset) * ((step - part.begin) / phase.length)
    rewarm = phase.rewarm or step < new.warmup_steps
    return Phase(phase.shape, left, part.end, phase.params, None, rewarm, offset)
