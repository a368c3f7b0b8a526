"""The steps that describe a schedule, in memory that does not grow with ``max_steps``.

A preview holds the LR at every step where it may change (warmup steps, decay milestones, each
step of a continuous shape's decay) plus the key steps, when there are at most :data:`MAX_POINTS`
of them: the LR is then constant from each listed step to the next, so the preview *is* the whole
schedule (``exhaustive``). A schedule that changes on more steps (an exponential or cosine decay
over 10**8 steps) is previewed at an even sample of
:data:`MAX_POINTS` steps plus the key steps instead, and says so. Either way memory and time are
O(MAX_POINTS), up to the largest ``max_steps`` (2**53).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.schedule import Schedule

__all__ = ["MAX_POINTS", "Preview", "preview"]

MAX_POINTS: Final = 2_000_000
"""Most steps a preview evaluates (16 MB of steps and LRs): every change point up to here."""


@dataclass(frozen=True)
class Preview:
    """The LR of ``schedule`` (for a group starting at ``base_lr``) at ``steps``, sorted, unique."""

    schedule: Schedule
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


def change_points(schedule: Schedule) -> int:
    """How many steps change the LR: the warmup ramp's steps and the decays (every step of a shape)."""
    ramp = schedule.warmup_steps if schedule.warmup_start_factor < 1.0 else 0
    return ramp + schedule.change_steps


def _decays(schedule: Schedule) -> npt.NDArray[np.int64]:
    """The steps after warmup that change the LR: a step kind's milestones, or a shape's every step."""
    if not schedule.stepwise:
        return np.arange(schedule.first_decay_step, schedule.last_decay_step + 1, dtype=np.int64)
    return _milestones(schedule)


def _milestones(schedule: Schedule) -> npt.NDArray[np.int64]:
    """``W + floor(i * D / P)`` for ``i = 1..n_updates``, without int64 overflow (D up to 2**53)."""
    quotient, remainder = divmod(schedule.decay_span, schedule.plateaus)
    i = np.arange(1, schedule.count + 1, dtype=np.int64)
    return schedule.warmup_steps + i * quotient + (i * remainder) // schedule.plateaus


def preview(schedule: Schedule, base_lr: float | None = None, max_points: int = MAX_POINTS) -> Preview:
    """The LR at every change point (at most ``max_points`` of them) or at an even sample, plus key steps."""
    from bounded_lr_resolver.report import key_steps  # report imports this module

    keys = np.fromiter(key_steps(schedule).values(), np.int64)
    exhaustive = change_points(schedule) + keys.size <= max_points
    if exhaustive:
        ramp = schedule.warmup_steps + 1 if schedule.warmup_start_factor < 1.0 else 1
        parts = [np.arange(ramp, dtype=np.int64), _decays(schedule), keys]
    else:
        sample = np.linspace(0, schedule.max_steps, max_points, dtype=np.float64)
        parts = [np.round(sample).astype(np.int64), keys]
    steps = np.unique(np.concatenate([*parts, np.array([0, schedule.max_steps], dtype=np.int64)]))
    return Preview(schedule, steps, lr_curve(schedule, steps, base_lr), exhaustive)
