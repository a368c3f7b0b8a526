"""The main job's ``resume_from=<checkpoint>``: preview the rest of a run, re-planned or not.

It loads a scheduler checkpoint (``torch.save(scheduler.state_dict())``, a dict holding one under
``"scheduler"``, or a Lightning checkpoint) into the scheduler the config builds, exactly as
training would, and shows the whole plan: the history up to the checkpoint's step, the resume
step, and the rest. The checks are the re-plan's promises: continuous at the resume step, never
increasing after it (after warmup), within ``[final_lr, LR at resume]``, at ``final_lr`` exactly
where the config says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bounded_lr_resolver.errors import missing_extra  # before the optional imports it names

try:
    import numpy as np
    import numpy.typing as npt
    import torch  # noqa: F401 - the resumed preview steps the real scheduler
except ModuleNotFoundError as error:
    raise missing_extra(error, "the resumed preview") from None

from bounded_lr_resolver.ckpt_file import load_checkpoint, scheduler_state
from bounded_lr_resolver.phases import Plan
from bounded_lr_resolver.preview import preview
from bounded_lr_resolver.report import MAX_CSV_ROWS, phase_line, pyplot, save_figure, write_csv
from bounded_lr_resolver.scheduler import BoundedLR

__all__ = [
    "ResumedView",
    "load_scheduler_state",
    "resume_summary",
    "resumed_view",
    "write_resume_files",
    "write_resume_png",
]

_JOB = "bounded-lr"


def load_scheduler_state(path: str) -> dict[str, Any]:
    """A scheduler state dict from ``path``: plain data only (``weights_only=True``)."""
    return scheduler_state(load_checkpoint(path, _JOB, "resume_from"), _JOB, "resume_from", path)


@dataclass(frozen=True)
class ResumedView:
    """The whole plan of the main group at its change points (or a sample), and the resume step."""

    plan: Plan
    before: Plan  # what the checkpoint was following (for the picture's "old plan")
    rest: Plan | None  # the rest of the run, re-planned at ``resumed_at`` (None: nothing re-planned)
    resumed_at: int
    lr_at_resume: float
    steps: npt.NDArray[np.int64]
    lrs: npt.NDArray[np.float64]


def resumed_view(scheduler: BoundedLR, group: int, step: int) -> ResumedView:
    """The plan of ``group`` after loading a checkpoint at ``step``, previewed whole."""
    plan, before = scheduler.plans[group], scheduler.checkpoint_plans[group]
    view = preview(plan)
    steps, lrs = view.steps, view.lrs
    if not np.any(steps == step):  # the resume step itself, always shown
        where = int(np.searchsorted(steps, step))
        steps, lrs = np.insert(steps, where, step), np.insert(lrs, where, plan.lr_at(step))
    rest = scheduler.replanned(group) if step in scheduler.resumed_at else None
    return ResumedView(plan, before, rest, step, plan.lr_at(step), steps, lrs)


def resume_summary(view: ResumedView, scheduler: BoundedLR, path: str) -> tuple[str, bool]:
    """The terminal summary of a resumed plan and whether the re-plan's promises hold."""
    plan, r = view.plan, view.resumed_at
    new = scheduler.schedules[0]
    branch = r in scheduler.branches  # a cooldown branch ends where its cooldown does
    end = plan.total if branch else new.max_steps - (new.final_lr_at == "last_step")
    final, last = (plan.final, plan.total) if branch else (new.final_lr, new.max_steps)
    lines = [f"bounded-lr: resumed at step {r} (LR {view.lr_at_resume!r}) from {path}"]
    if view.rest is None:
        lines.append(
            "  unchanged    the config's bounds give the same LR at every later step: nothing re-planned"
        )
    else:
        old = scheduler.checkpoint_schedules[0]
        length = "open-ended" if old.open_ended else f"over {old.max_steps} steps"
        lines.append(
            f"  history      steps 0..{r}: {old.kind} {old.initial_lr:g} -> {old.final_lr:g} {length} "
            "(the checkpoint's plan)"
        )
        how = "scheduler.cooldown: a branch of the stable run" if branch else "on_resume_change=replan"
        lines.append(
            f"  {'cooldown' if branch else 're-planned':<12} steps {r + 1}..{last}: {view.lr_at_resume!r} -> "
            f"{final:g} over the {last - r} steps left ({how}); its phases, in steps since the resume:"
        )
        lines += ["  " + phase_line(part, f"rest[{i}]") for i, part in enumerate(view.rest.parts)]
    after = view.lrs[view.steps >= max(r, new.warmup_steps)]
    held = view.lrs[view.steps >= end]
    checks = {
        "continuous at the resume step": bool(view.lrs[view.steps == r][0] == view.lr_at_resume),
        "never increases after it": bool(np.all(np.diff(after) <= 0)) or _declares_rises(plan, r),
        "within [final_lr, LR at resume]": bool(
            np.all(after >= final) and (r < new.warmup_steps or np.all(after <= view.lr_at_resume))
        )
        or _declares_rises(plan, r),
        f"final_lr from step {end}": bool(held.size and np.all(held == final)),
    }
    lines.append(f"  {'step':>12}  {'lr':<24} when")
    for label, step in (
        ("start", 0),
        ("resume", r),
        ("first step at final_lr", end),
        ("after the last step" if branch else "after max_steps", last),
    ):
        lines.append(f"  {step:>12}  {plan.lr_at(step)!r:<24} {label}")
    ok = all(checks.values())
    lines.append(
        f"  bounds       {'HOLD' if ok else 'BROKEN'}: "
        + ", ".join(f"{name}: {value}" for name, value in checks.items())
    )
    return "\n".join(lines), ok


def _declares_rises(plan: Plan, step: int) -> bool:
    """Whether the plan declares a rise after ``step`` (a rewarm or a restart: checked by the phases)."""
    return any(
        part.phase.rewarm or part.phase.start_lr is not None for part in plan.parts if part.begin > step
    )


def write_resume_files(view: ResumedView, out: Path, plot: bool, title: str) -> None:
    """``schedule.csv`` (the plan at its change points, or a sample) and ``schedule.png``, resume marked."""
    step_count = view.steps.size
    keep = np.unique(np.linspace(0, step_count - 1, min(step_count, MAX_CSV_ROWS)).round().astype(np.int64))
    keep = np.union1d(keep, np.flatnonzero(view.steps == view.resumed_at))
    write_csv(out / "schedule.csv", view.steps[keep], {"lr": view.lrs[keep]})
    if plot:
        write_resume_png(out / "schedule.png", view, title)


def write_resume_png(path: Path, view: ResumedView, title: str) -> None:
    """The old plan up to the resume step, the new plan after it, and the resume step marked."""
    figure, axes = pyplot().subplots(figsize=(9, 5), dpi=110)
    r = view.resumed_at
    before = view.steps <= r
    axes.step(view.steps[before], view.lrs[before], where="post", label="history (the checkpoint's plan)")
    old = preview(view.before)
    later = old.steps > r
    old_steps = np.concatenate([[r], old.steps[later]])
    old_lrs = np.concatenate([[view.before.lr_at(r)], old.lrs[later]])
    axes.step(old_steps, old_lrs, where="post", linestyle=":", color="grey", label="old plan")
    rest = view.steps >= r
    axes.step(view.steps[rest], view.lrs[rest], where="post", label="the rest, re-planned")
    axes.axvline(r, color="tab:red", linestyle="--", linewidth=1, label=f"resume (step {r})")
    zero = float(view.lrs.min()) <= 0.0  # a cooldown to 0: no log axis
    axes.set_yscale("linear" if zero else "log")
    axes.set_xlabel("scheduler step")
    axes.set_ylabel("learning rate" if zero else "learning rate (log scale)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="lower left")
    figure.subplots_adjust(left=0.09, right=0.98, top=0.93, bottom=0.11)
    save_figure(path, figure)
