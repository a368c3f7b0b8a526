"""The main job's torch side: the real scheduler built from the config, stepped and compared.

The plain preview needs none of this (it is the closed form, torch never loaded). This module is
imported when the job needs the real scheduler: ``verify=true``, ``resume_from``, ``task=train``,
``optimizer.tensor_lr``, ``optimizer.group_lrs``, or a scheduler node the preview cannot read
without building it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from omegaconf import DictConfig

from bounded_lr_resolver.errors import BoundsError, missing_extra

try:
    import torch
except ModuleNotFoundError as error:
    raise missing_extra(
        error, "bounded-lr with verify, resume_from, task=train or an optimizer option"
    ) from None

from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.preview import Preview, preview
from bounded_lr_resolver.report import key_steps
from bounded_lr_resolver.resume_preview import (
    load_scheduler_state,
    resume_summary,
    resumed_view,
    write_resume_files,
)
from bounded_lr_resolver.schedule import Schedule
from bounded_lr_resolver.scheduler import BoundedLR
from bounded_lr_resolver.sweep_report import schedule_from
from bounded_lr_resolver.trusted import instantiate_trusted

__all__ = ["stepped"]

_JOB = "bounded-lr"


def stepped(cfg: DictConfig, out: Path) -> dict[str, Any]:
    """Build the real scheduler from ``cfg.scheduler`` and run the job with it.

    Returns the resumed preview's numbers (``resumed_at``...), or what the summary needs:
    ``schedule``, ``view``, ``verdict`` and, where they apply, ``groups`` and ``final_loss``.
    """
    make_scheduler = instantiate_trusted(cfg.scheduler)
    if cfg.task.name == "train":
        from bounded_lr_resolver.train import train  # tqdm, for the progress bar

        trained = train(cfg, make_scheduler, out)
        scheduler, first = trained["scheduler"], trained["first"]
        main = main_group(scheduler)
        steps = np.arange(first, first + trained["lrs"].size, dtype=np.int64)
        every = lr_curve(scheduler.plans[main], steps)  # the closed form of what it followed
        what = f"trained {steps.size} steps" + (f" from step {first}" if first else "") + "; the LR of each"
        verdict = verdict_of(*differences(trained["lrs"], every, False), what)
        if first:  # resumed (re-planned, or a cooldown branch): the whole plan, as the preview shows it
            return trained_from(cfg, scheduler, first, verdict, trained["final_loss"], out)
        schedule = schedule_from(cfg.scheduler, where="bounded-lr")
        return {
            "schedule": schedule,
            "view": preview(schedule),
            "verdict": verdict,
            "final_loss": trained["final_loss"],
        }
    optimizer = preview_optimizer(cfg)
    scheduler = make_scheduler(optimizer=optimizer)
    if cfg.get("resume_from"):
        return resumed(cfg, optimizer, scheduler, out)
    result: dict[str, Any] = {}
    if len(optimizer.param_groups) > 1:
        result["groups"] = group_lines(scheduler)
    schedule = scheduler.schedules[main_group(scheduler)]
    view = preview(schedule)
    result.update(schedule=schedule, view=view)
    result["verdict"] = verify(optimizer, scheduler, schedule) if cfg.verify else spot_check(scheduler, view)
    return result


def trained_from(
    cfg: DictConfig, scheduler: BoundedLR, step: int, verdict: str, final_loss: float, out: Path
) -> dict[str, Any]:
    """``task=train resume_from=<checkpoint>``: the resumed plan's summary, the training's verdict."""
    view = resumed_view(scheduler, main_group(scheduler), step)
    text, ok = resume_summary(view, scheduler, str(cfg.resume_from))
    print(f"{text}\n  trained      {verdict}\n  final loss   {final_loss:.6g}", flush=True)
    kind = "a cooldown branch" if step in scheduler.branches else "the rest of the run"
    write_resume_files(view, out, bool(cfg.plot), f"trained from step {step}: {kind}")
    if not ok:
        raise BoundsError(
            f"{_JOB}: the resumed schedule must keep its promises, got one that breaks them (see 'bounds' "
            "above); this is a bug in bounded-lr-resolver, please report it with the command line"
        )
    return {"resumed_at": step, "lr_at_resume": view.lr_at_resume, "final_loss": final_loss}


def preview_optimizer(cfg: DictConfig) -> torch.optim.Optimizer:
    """An SGD optimizer, one param group per ``optimizer.group_lrs`` (default: one at ``optimizer.lr``)."""
    lrs: list[Any] = list(cfg.optimizer.group_lrs or [cfg.optimizer.lr])
    groups = [
        {
            "params": [torch.nn.Parameter(torch.zeros(1))],
            "lr": torch.tensor(lr) if cfg.optimizer.tensor_lr else lr,
        }
        for lr in lrs
    ]
    return torch.optim.SGD(groups, lr=lrs[0])


def group_lines(scheduler: BoundedLR) -> str:
    parts = [
        f"group {index}: {base!r} -> {schedule.lr_at(schedule.max_steps, base)!r}"
        for index, (schedule, base) in enumerate(
            zip(scheduler.schedules, scheduler.base_lrs_exact, strict=True)
        )
    ]
    return "\n  groups       " + "; ".join(parts) + "  (each keeps its ratio to initial_lr)"


def main_group(scheduler: BoundedLR) -> int:
    """The param group whose LR is initial_lr (the largest): the one the summary and curve follow."""
    bases = scheduler.base_lrs_exact
    return bases.index(max(bases))


_CHUNK = 1 << 20


def verify(optimizer: torch.optim.Optimizer, scheduler: BoundedLR, schedule: Schedule) -> str:
    """Step the real scheduler through every step, comparing each LR with the closed form as it goes.

    Time is O(max_steps); memory is one chunk of 2**20 steps at a time.
    """
    group = optimizer.param_groups[main_group(scheduler)]
    tensor = isinstance(group["lr"], torch.Tensor)
    mismatches, worst, step = 0, 0.0, 0
    total = schedule.max_steps + 1
    while step < total:
        chunk = np.arange(step, min(step + _CHUNK, total), dtype=np.int64)
        seen = np.empty(chunk.size)
        for index in range(chunk.size):
            if step + index:
                optimizer.step()
                scheduler.step()
            seen[index] = float(group["lr"])
        chunk_mismatches, chunk_worst = differences(seen, lr_curve(schedule, chunk), tensor)
        mismatches, worst, step = mismatches + chunk_mismatches, max(worst, chunk_worst), step + chunk.size
    return verdict_of(mismatches, worst, f"stepped the real torch scheduler {schedule.max_steps} times")


def differences(
    seen: npt.NDArray[np.float64], curve: npt.NDArray[np.float64], tensor: bool
) -> tuple[int, float]:
    expected = curve.astype(np.float32).astype(np.float64) if tensor else curve
    positive = curve > 0
    worst = float(np.max(np.abs(seen[positive] / curve[positive] - 1.0), initial=0.0))
    return int(np.count_nonzero(seen != expected)), worst


def verdict_of(mismatches: int, worst: float, what: str) -> str:
    verdict = "every LR equals" if mismatches == 0 else f"{mismatches} LRs differ from"
    return f"{what}: {verdict} the closed form (max relative difference {worst:.3g})"


def spot_check(scheduler: BoundedLR, view: Preview) -> str:
    steps = list(key_steps(view.schedule).values())
    main = main_group(scheduler)
    wrong = [step for step in steps if scheduler.lrs_at(step)[main] != view.at(step)]
    where = "equal" if not wrong else f"differ at steps {wrong} from"
    return (
        f"the real scheduler's LRs at the key steps {where} the closed form (verify=true steps all of them)"
    )


def resumed(
    cfg: DictConfig, optimizer: torch.optim.Optimizer, scheduler: BoundedLR, out: Path
) -> dict[str, Any]:
    """``resume_from=<checkpoint>``: load it as training would, then preview and check the whole plan."""
    path = str(cfg.resume_from)
    scheduler.load_state_dict(load_scheduler_state(path))
    step = scheduler.last_epoch
    view = resumed_view(scheduler, main_group(scheduler), step)
    text, ok = resume_summary(view, scheduler, path)
    if cfg.verify:
        end = scheduler.schedules[0].max_steps + 1
        expected = [view.plan.lr_at(t) for t in range(step + 1, end)]
        written = []
        for _ in range(step + 1, end):
            optimizer.step()
            scheduler.step()
            written.append(float(optimizer.param_groups[main_group(scheduler)]["lr"]))
        found = differences(np.array(written), np.array(expected), bool(cfg.optimizer.tensor_lr))
        text += "\n  verified     " + verdict_of(
            *found, f"stepped the resumed scheduler {end - step - 1} times"
        )
    print(text, flush=True)
    title = f"resumed at step {step} from {Path(path).name}: the rest re-planned under this config"
    write_resume_files(view, out, bool(cfg.plot), title)
    if not ok:
        raise BoundsError(
            f"{_JOB}: the re-planned schedule must keep its promises, got one that breaks them (see 'bounds' "
            "above); this is a bug in bounded-lr-resolver, please report it with the command line"
        )
    return {"resumed_at": step, "lr_at_resume": view.lr_at_resume}
