"""The steps that describe a schedule, in memory that does not grow with ``max_steps``; its key steps.

A preview holds the LR at every step where it may change (each step of a warmup or a shape, each
decay of a step phase, each phase boundary) plus the key steps, when there are at most
:data:`MAX_POINTS` of them: the LR is then constant from each listed step to the next, so the
preview *is* the whole schedule (``exhaustive``). A schedule that changes on more steps (an
exponential or cosine decay over 10**8 steps) is previewed at an even sample of
:data:`MAX_POINTS` steps plus the key steps instead, and says so. Either way memory and time are
O(MAX_POINTS), up to the largest ``max_steps`` (2**53).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bounded_lr_resolver.errors import missing_extra  # before the optional imports it names

try:
    import numpy as np
    import numpy.typing as npt
except ModuleNotFoundError as error:
    raise missing_extra(error, "the preview") from None

from bounded_lr_resolver.curve import lr_curve, plan_of
from bounded_lr_resolver.phases import Part, Plan
from bounded_lr_resolver.schedule import Schedule
from bounded_lr_resolver.shapes import SHAPES

__all__ = ["MAX_POINTS", "Preview", "change_points", "key_steps", "preview"]

MAX_POINTS: Final = 1_100_000
"""Most steps a preview evaluates: every change point up to here. Every 10**6-step schedule (warmup,
boundaries and key steps included) is previewed whole; a longer one by an even sample of this many
steps, so its memory is that of a 10**6-step preview (BENCHMARKS.md section 7)."""


@dataclass(frozen=True)
class Preview:
    """The LR of ``schedule`` (for a group starting at ``base_lr``) at ``steps``, sorted, unique."""

    schedule: Schedule | Plan
    steps: npt.NDArray[np.int64]
    lrs: npt.NDArray[np.float64]
    exhaustive: bool  # every step where the LR changes is in ``steps``

    def lrs_at(self, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The LRs at ``steps``, each one of :attr:`steps` (as ``report.csv_steps`` picks them)."""
        return self.lrs[np.searchsorted(self.steps, steps)]

    def at(self, step: int) -> float:
        """The LR at ``step``, which must be one of :attr:`steps` (every key step is)."""
        index = int(np.searchsorted(self.steps, step))
        if index >= self.steps.size or self.steps[index] != step:
            raise KeyError(f"step {step} is not in this preview")
        return float(self.lrs[index])


def key_steps(source: Schedule | Plan) -> dict[str, int]:
    """The steps a person asks about, by label (labels of one step joined), in step order."""
    plan = plan_of(source)
    labelled = [("start", 0)]
    if isinstance(source, Schedule):
        s = source
        if s.warmup_steps:
            labelled.append(("end of warmup", s.warmup_steps))
        if s.kind == "wsd" and s.decay_start > s.warmup_steps:
            labelled.append(("end of hold", s.decay_start))  # the last step at initial_lr
        if s.kind == "phases":
            first = 1 if s.warmup_steps else 0
            labelled += [
                (f"end of phases[{i - first}]", part.stop) for i, part in enumerate(plan.parts) if i >= first
            ]
        labelled += [("first decay", s.first_decay_step), ("first step at final_lr", s.last_decay_step)]
    else:
        labelled += [(f"end of phase {i}", part.stop) for i, part in enumerate(plan.parts)]
    labelled += [("last training step", plan.total - 1), ("after max_steps", plan.total)]
    by_step: dict[int, list[str]] = {}
    for label, step in labelled:
        by_step.setdefault(step, []).append(label)
    return {", ".join(labels): step for step, labels in sorted(by_step.items())}


def _changes(part: Part) -> int:
    """How many steps of a phase may change the LR (its boundary included)."""
    shape = SHAPES[part.phase.shape]
    if shape.name == "constant":
        return 1
    if shape.stepwise:
        return int(part.params["n_updates"]) + 1
    return part.phase.steps


def change_points(source: Schedule | Plan) -> int:
    """How many steps change the LR: every step of a warmup or a shape, each decay, each boundary."""
    return sum(_changes(part) for part in plan_of(source).parts)


def _steps(part: Part) -> npt.NDArray[np.int64]:
    """The steps of a phase where the LR may change: its first, and every decay or every step after it."""
    shape = SHAPES[part.phase.shape]
    if shape.name == "constant":
        return np.array([part.begin], dtype=np.int64)
    if not shape.stepwise:
        return np.arange(part.begin, part.stop, dtype=np.int64)
    # begin + floor(j * span / P) for j = 1..n_updates, without int64 overflow (span up to 2**53)
    p, span = part.params, part.phase.length
    quotient, remainder = divmod(span, p["plateaus"])
    j = np.arange(1, int(p["n_updates"]) + 1, dtype=np.int64)
    decays = part.begin + j * quotient + (j * remainder) // p["plateaus"]
    return np.concatenate([[part.begin], decays[decays < part.stop]]).astype(np.int64)


def preview(schedule: Schedule | Plan, base_lr: float | None = None, max_points: int = MAX_POINTS) -> Preview:
    """The LR at every change point (at most ``max_points`` of them) or at an even sample, plus key steps."""
    plan = plan_of(schedule)
    keys = np.fromiter(key_steps(schedule).values(), np.int64)
    exhaustive = change_points(plan) + keys.size <= max_points
    if exhaustive:
        parts = [*(_steps(part) for part in plan.parts), keys]
    else:
        sample = np.linspace(0, plan.total, max_points, dtype=np.float64)
        parts = [np.round(sample).astype(np.int64), keys]
    steps = np.unique(np.concatenate([*parts, np.array([0, plan.total], dtype=np.int64)]))
    return Preview(schedule, steps, lr_curve(schedule, steps, base_lr), exhaustive)
