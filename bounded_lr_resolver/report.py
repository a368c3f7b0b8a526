"""Turn a schedule into what a person reads: the summary table, ``schedule.csv`` and ``schedule.png``.

Everything here works from the closed form (:func:`~bounded_lr_resolver.curve.lr_curve`), so a
10**6-step preview costs milliseconds. Files are written atomically (temporary file, then rename):
an interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bounded_lr_resolver.errors import missing_extra  # before the optional imports it names

try:
    import numpy as np
    import numpy.typing as npt
except ModuleNotFoundError as error:
    raise missing_extra(error, "the summary and CSV") from None

from bounded_lr_resolver.files import atomic_write
from bounded_lr_resolver.phases import Part
from bounded_lr_resolver.preview import Preview, key_steps
from bounded_lr_resolver.schedule import Schedule
from bounded_lr_resolver.shapes import SHAPES

__all__ = [
    "BoundsCheck",
    "atomic_write",
    "check_bounds",
    "csv_steps",
    "derived_lines",
    "key_steps",
    "phase_line",
    "save_figure",
    "summary",
    "write_csv",
    "write_png",
]

MAX_CSV_ROWS = 20_000


@dataclass(frozen=True)
class BoundsCheck:
    """What the closed form at a preview's steps shows about the declared bounds.

    With an exhaustive preview (every step where the LR changes) every check covers every step;
    with a sampled one (more than :data:`~bounded_lr_resolver.preview.MAX_POINTS` changes) they
    cover the sample and the key steps, and the decay count is not counted (``decays is None``).
    A continuous kind has no decay count to meet (``expected_decays is None``): its LR falls on
    every step of the decay but may repeat where the shape is flat in float64.
    """

    starts_at_initial: bool
    never_increases_after_warmup: bool  # outside the phases that declare a rise (rewarm, restarts)
    within_bounds_after_warmup: bool
    decays: int | None
    expected_decays: int | None  # n_updates, 0 for a constant LR, None for a continuous kind
    reaches_final: bool
    phases_end_exactly: bool = True  # every phase is at its end_lr at its boundary

    @property
    def ok(self) -> bool:
        """Every check holds, the decay count included where it was counted."""
        return (
            self.starts_at_initial
            and self.never_increases_after_warmup
            and self.within_bounds_after_warmup
            and (self.decays is None or self.expected_decays is None or self.decays == self.expected_decays)
            and self.reaches_final
            and self.phases_end_exactly
        )


def _may_rise(part: Part) -> bool:
    return part.phase.rewarm or not SHAPES[part.phase.shape].monotone


def _declared_rises(schedule: Schedule) -> bool:
    """Whether the LR may rise after warmup (a rewarm, a restart, a restart cycle)."""
    after = [part for part in schedule.plan.parts if part.begin >= schedule.warmup_steps]
    return any(_may_rise(part) or part.phase.start_lr is not None for part in after)


def check_bounds(view: Preview) -> BoundsCheck:
    """Check a preview (the LR at its steps) against the schedule's declared bounds."""
    schedule = view.schedule
    assert isinstance(schedule, Schedule)
    plan = schedule.plan
    after = view.steps >= schedule.warmup_steps
    decay = view.lrs[after]
    # a rise must be inside a phase that declares it, or at the start of a restart, or where a
    # phase that may rise hands over: checked per phase, over every rise at once
    risen = view.steps[after][np.flatnonzero(np.diff(decay) > 0) + 1]
    begins = np.array([part.begin for part in plan.parts], dtype=np.int64)
    index = np.searchsorted(begins, np.minimum(risen, plan.total - 1), side="right") - 1
    may_rise = np.array([_may_rise(part) for part in plan.parts])
    restarts = np.array([part.phase.start_lr is not None for part in plan.parts])
    at_begin = risen == begins[index]
    handed = at_begin & (index > 0) & may_rise[np.maximum(index - 1, 0)]
    allowed = bool(np.all(may_rise[index] | (restarts[index] & at_begin) | handed))
    low = min(
        part.end for part in plan.parts if part.begin >= schedule.warmup_steps or part is plan.parts[-1]
    )
    expected_start = schedule.initial_lr * (schedule.warmup_start_factor if schedule.warmup_steps else 1.0)
    ends = True
    for part, following in zip(plan.parts, [*plan.parts[1:], None], strict=True):
        if following is not None and following.phase.start_lr is not None:
            continue  # a restart: its boundary step trains at the restart's LR
        with contextlib.suppress(KeyError):  # a boundary a sampled preview does not hold
            ends &= view.at(part.stop) == part.end
    return BoundsCheck(
        starts_at_initial=bool(view.lrs[0] == expected_start),
        never_increases_after_warmup=bool(allowed),
        within_bounds_after_warmup=bool(np.all(decay <= schedule.initial_lr) and np.all(decay >= low)),
        decays=int(np.count_nonzero(np.diff(decay) < 0)) if view.exhaustive else None,
        expected_decays=(schedule.count if schedule.final_lr < schedule.initial_lr else 0)
        if schedule.stepwise
        else None,
        reaches_final=bool(
            view.at(schedule.last_decay_step) == schedule.final_lr
            and view.at(schedule.max_steps) == schedule.final_lr
        ),
        phases_end_exactly=bool(ends),
    )


def _length(s: Schedule, name: str, steps: int) -> str:
    given = s.given.get(name)
    return f"{steps}" + (f" ({given})" if given else "")


def summary(view: Preview, check: BoundsCheck, verified: str, verified_label: str = "verified") -> str:
    """The terminal summary: derived values, the LR at the key steps, and whether the bounds hold."""
    s = view.schedule
    assert isinstance(s, Schedule)
    what = "decay" if s.kind != "phases" else "schedule"
    length = _length(s, "max_steps", s.max_steps)
    lines = [
        f"bounded-lr: {s.kind} {what} {s.initial_lr:g} -> {s.final_lr:g} over {length} steps"
        + (f" after {_length(s, 'warmup_steps', s.warmup_steps)} warmup steps" if s.warmup_steps else ""),
        *derived_lines(s),
        f"  {'step':>12}  {'lr':<24} when",
    ]
    for label, step in key_steps(s).items():
        lines.append(f"  {step:>12}  {view.at(step)!r:<24} {label}")
    if check.expected_decays is None:
        counted = f"on every step from {s.first_decay_step} to {s.last_decay_step}"
    elif check.decays is not None:
        counted = f"{check.decays}/{check.expected_decays}"
    else:
        counted = f"{check.expected_decays} (not counted: checked at {view.steps.size} sampled steps)"
    declared = _declared_rises(s)
    rises = "never rises outside the rises it declares" if declared else "never increases after warmup"
    within = "within [lowest end_lr, initial_lr]" if declared else "within [final_lr, initial_lr]"
    if s.kind == "phases":
        counted = "each phase ends at its end_lr: " + str(check.phases_end_exactly)
    else:
        counted = f"decays: {counted}"
    lines.append(
        f"  bounds       {'HOLD' if check.ok else 'BROKEN'}: starts at {float(view.lrs[0])!r}, "
        f"{rises}: {check.never_increases_after_warmup}, {within}: "
        f"{check.within_bounds_after_warmup}, {counted}, "
        f"final_lr from step {s.last_decay_step}: {check.reaches_final}"
    )
    lines.append(f"  {verified_label:<12} {verified}")
    return "\n".join(lines)


def phase_line(part: Part, label: str, given: str | None = None) -> str:
    """One phase as the summary shows it: its steps (and the duration they were ``given`` as), its
    ends, its shape and formula."""
    phase, shape = part.phase, SHAPES[part.phase.shape]
    params = "".join(f", {key}={value!r}" for key, value in phase.params if key != "plateaus")
    ends = f"at {part.start!r}" if shape.name == "constant" else f"{part.start!r} -> {part.end!r}"
    start = " (restart)" if phase.start_lr is not None else ""
    rise = " (rewarm)" if phase.rewarm and part.end > part.start else ""
    formula = "" if shape.name == "constant" else f": {shape.formula}"
    return (
        f"  {label:<12} steps {part.begin}..{part.stop} ({phase.steps}{f' = {given}' if given else ''}): "
        f"{shape.name} {ends}{start}{rise}"
        f"{params}{formula}"
    )


def derived_lines(s: Schedule) -> list[str]:
    """What the bounds derive, one ``name  value`` line each: gamma and steps, or each phase."""
    if not s.stepwise:
        first = 1 if s.warmup_steps else 0
        parts = s.plan.parts
        if s.kind == "phases":
            return [
                phase_line(part, f"phases[{i - first}]", s.given.get(f"phases[{i - first}].steps"))
                for i, part in enumerate(parts)
                if i >= first
            ]
        return [
            phase_line(part, "hold")
            if part.phase.shape == "constant"
            else phase_line(part, "decay", s.given.get("decay_steps"))
            for part in parts[first:]
        ]
    lines = [f"  gamma        {s.gamma!r}  (= (final_lr / initial_lr) ** (1 / n_updates))"]
    if s.step_size is not None:
        lines.append(f"  step_size    {s.step_size}")
    if s.kind == "multistep":
        shown = s.milestones()[:3] if s.count <= 10**6 else []
        lines.append(f"  milestones   {shown} ... {s.last_decay_step}  ({s.count} in all)")
    lines.append(f"  decays       {s.count}  (final_lr_at={s.final_lr_at})")
    return lines


def csv_steps(view: Preview, max_rows: int = MAX_CSV_ROWS) -> npt.NDArray[np.int64]:
    """The steps written to the CSV: every step where the LR changes, plus the key steps.

    The LR is constant between consecutive rows, so the CSV describes the whole schedule. When
    that takes more than ``max_rows`` rows (an exponential decay changes on every step), the
    rows are an even sample instead, still with every key step.
    """
    changes = view.steps[np.flatnonzero(np.diff(view.lrs, prepend=np.nan) != 0)]
    if changes.size + 8 > max_rows or not view.exhaustive:
        sample = np.linspace(0, view.steps.size - 1, min(max_rows, view.steps.size)).round().astype(np.int64)
        changes = view.steps[np.unique(sample)]
    keys = np.fromiter(key_steps(view.schedule).values(), np.int64)
    return np.unique(np.concatenate([changes, keys]))


def write_csv(path: Path, steps: npt.NDArray[np.int64], columns: dict[str, npt.NDArray[np.float64]]) -> None:
    """Write ``step`` and one LR column per entry of ``columns`` (exact, 17 significant digits)."""
    header = ",".join(["step", *columns])
    body = np.column_stack([steps.astype(np.float64), *columns.values()])

    def write(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8") as stream:
            stream.write(header + "\n")
            for row in body:
                stream.write(f"{int(row[0])}," + ",".join(repr(float(v)) for v in row[1:]) + "\n")

    atomic_write(path, write)


def save_figure(path: Path, figure: Any) -> None:
    """Write a matplotlib figure as a PNG, atomically (a failed write leaves the old file), and close it."""
    try:
        atomic_write(path, lambda temporary: figure.savefig(temporary, format="png"))
    finally:
        pyplot().close(figure)


def pyplot() -> Any:
    """matplotlib's ``pyplot`` on the Agg backend (files, no display); MissingExtraError names ``[plot]``."""
    try:
        import matplotlib
    except ModuleNotFoundError as error:
        raise missing_extra(error, "a PNG (plot=true, sweep_report.png)") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def write_png(
    path: Path,
    curves: dict[str, Preview],
    title: str,
    losses: list[tuple[float, float]] | None = None,
) -> None:
    """Plot schedules (label -> preview) on a log-scale LR axis (linear where an LR is 0).

    With ``losses`` (``(final_lr, final loss)`` pairs, e.g. from a sweep), a second panel shows
    the final loss against the final LR.
    """
    plt = pyplot()

    panels = 2 if losses else 1
    figure, all_axes = plt.subplots(1, panels, figsize=(9 + 5 * (panels - 1), 5), dpi=110, squeeze=False)
    axes = all_axes[0][0]
    for label, view in curves.items():
        schedule = view.schedule
        assert isinstance(schedule, Schedule)
        steps = csv_steps(view, max_rows=5_000)
        line = axes.step(steps, view.lrs_at(steps), where="post", label=label, linewidth=1.6)[0]
        color = line.get_color()
        axes.axhline(schedule.initial_lr, color=color, linestyle=":", linewidth=0.9)
        axes.axhline(schedule.final_lr, color=color, linestyle="--", linewidth=0.9)
        if schedule.warmup_steps:
            axes.axvspan(0, schedule.warmup_steps, color=color, alpha=0.08)
        axes.axvline(schedule.last_decay_step, color=color, linestyle="-.", linewidth=0.7)
    zero = any(float(view.lrs.min()) <= 0.0 for view in curves.values())
    axes.set_yscale("linear" if zero else "log")
    axes.set_xlabel("scheduler step (= training step using that LR)")
    axes.set_ylabel("learning rate" if zero else "learning rate (log scale)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    axes.plot([], [], color="grey", linestyle=":", label="initial_lr")
    axes.plot([], [], color="grey", linestyle="--", label="final_lr")
    axes.plot([], [], color="grey", linestyle="-.", label="first step at final_lr")
    if any(getattr(view.schedule, "warmup_steps", 0) for view in curves.values()):
        axes.fill_between([], [], color="grey", alpha=0.15, label="warmup")
    axes.legend(fontsize=7, loc="lower left")
    if losses:
        loss_axes = all_axes[0][1]
        finals, values = zip(*sorted(losses), strict=True)
        loss_axes.plot(finals, values, marker="o")
        loss_axes.set_xscale(
            "symlog" if min(finals) <= 0 else "log", **({"linthresh": 1e-8} if min(finals) <= 0 else {})
        )
        loss_axes.set_xlabel("final_lr (log scale)")
        loss_axes.set_ylabel("final loss")
        loss_axes.set_title("final loss against final_lr", fontsize=10)
        loss_axes.grid(True, which="major", alpha=0.3)
    # Fixed margins instead of tight_layout(), which measures every tick label and more than
    # doubles the time of a cold plot.
    figure.subplots_adjust(left=0.09 / panels, right=0.98, top=0.93, bottom=0.11, wspace=0.25)
    save_figure(path, figure)
