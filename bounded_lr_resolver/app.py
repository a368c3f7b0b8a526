"""The ``bounded-lr`` main job: compose a config, build the real scheduler, preview and check it.

It builds a real torch optimizer and the scheduler from ``cfg.scheduler`` (through Hydra's
``instantiate``), computes the LR at every step in closed form, checks the declared bounds,
prints a summary and writes ``schedule.csv``, ``schedule.png`` and ``resolved_config.yaml`` into
Hydra's output directory (``resolved_config.yaml`` comes from the
:class:`~bounded_lr_resolver.callbacks.SaveResolvedConfig` callback in its config).
``task=train`` trains a small MLP with the schedule instead (see :mod:`bounded_lr_resolver.train`).
``verify=true`` also steps the real scheduler through all ``max_steps``
and compares every LR with the closed form.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import numpy.typing as npt
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig
from packaging.version import Version

from bounded_lr_resolver.bounds import check_count, check_lr
from bounded_lr_resolver.callbacks import failed_writes
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.errors import BoundsError, bad_type, package_error
from bounded_lr_resolver.preview import Preview, preview
from bounded_lr_resolver.report import check_bounds, csv_steps, key_steps, summary, write_csv, write_png
from bounded_lr_resolver.resume_preview import (
    load_scheduler_state,
    resume_summary,
    resumed_view,
    write_resume_files,
)
from bounded_lr_resolver.schedule import Schedule
from bounded_lr_resolver.scheduler import BoundedLR
from bounded_lr_resolver.sweep_report import schedule_from
from bounded_lr_resolver.train import train
from bounded_lr_resolver.trusted import instantiate_trusted, trust_our_callbacks

__all__ = ["config_dir", "hydra_main_kwargs", "main", "register_scheduler_options", "run"]


def register_scheduler_options() -> None:
    """The main job's group ``scheduler``: one option per shipped ``bounded_lr`` option, same name.

    ``bounded-lr scheduler=cosine_to_zero`` is ``bounded_lr@scheduler: cosine_to_zero``. The group
    is stored in this process's ConfigStore by the main job only, so no other app sees it.
    """
    from hydra.core.config_store import ConfigStore

    from bounded_lr_resolver.options import OPTIONS

    store = ConfigStore.instance()
    for name in OPTIONS:
        store.store(group="scheduler", name=name, node={"defaults": [{"/bounded_lr@_here_": name}, "_self_"]})


def config_dir() -> str:
    """The main job's config folder: packaged in a wheel, the repository's ``conf/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "app_conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(f"bounded-lr: no config.yaml in {here / 'app_conf'} or {here.parent / 'conf'}")


def _preview_optimizer(cfg: DictConfig) -> torch.optim.Optimizer:
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


def _group_lines(scheduler: BoundedLR) -> str:
    parts = [
        f"group {index}: {base!r} -> {schedule.lr_at(schedule.max_steps, base)!r}"
        for index, (schedule, base) in enumerate(
            zip(scheduler.schedules, scheduler.base_lrs_exact, strict=True)
        )
    ]
    return "\n  groups       " + "; ".join(parts) + "  (each keeps its ratio to initial_lr)"


def _main_group(scheduler: BoundedLR) -> int:
    """The param group whose LR is initial_lr (the largest): the one the summary and curve follow."""
    bases = scheduler.base_lrs_exact
    return bases.index(max(bases))


_CHUNK = 1 << 20


def _verify(optimizer: torch.optim.Optimizer, scheduler: BoundedLR, schedule: Schedule) -> str:
    """Step the real scheduler through every step, comparing each LR with the closed form as it goes.

    Time is O(max_steps); memory is one chunk of 2**20 steps at a time.
    """
    group = optimizer.param_groups[_main_group(scheduler)]
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
        chunk_mismatches, chunk_worst = _differences(seen, lr_curve(schedule, chunk), tensor)
        mismatches, worst, step = mismatches + chunk_mismatches, max(worst, chunk_worst), step + chunk.size
    return _verdict(mismatches, worst, f"stepped the real torch scheduler {schedule.max_steps} times")


def _differences(
    seen: npt.NDArray[np.float64], curve: npt.NDArray[np.float64], tensor: bool
) -> tuple[int, float]:
    expected = curve.astype(np.float32).astype(np.float64) if tensor else curve
    positive = curve > 0
    worst = float(np.max(np.abs(seen[positive] / curve[positive] - 1.0), initial=0.0))
    return int(np.count_nonzero(seen != expected)), worst


def _verdict(mismatches: int, worst: float, what: str) -> str:
    verdict = "every LR equals" if mismatches == 0 else f"{mismatches} LRs differ from"
    return f"{what}: {verdict} the closed form (max relative difference {worst:.3g})"


def _spot_check(scheduler: BoundedLR, view: Preview) -> str:
    steps = list(key_steps(view.schedule).values())
    main = _main_group(scheduler)
    wrong = [step for step in steps if scheduler.lrs_at(step)[main] != view.at(step)]
    where = "equal" if not wrong else f"differ at steps {wrong} from"
    return (
        f"the real scheduler's LRs at the key steps {where} the closed form (verify=true steps all of them)"
    )


_JOB = "bounded-lr"


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise bad_type(_JOB, name, "true or false", value)


def check_job(cfg: DictConfig) -> None:
    """Validate the main job's own keys (the scheduler node validates itself when it resolves)."""
    for name in ("verify", "plot", "optimizer.tensor_lr"):
        _check_flag(name, cfg_get(cfg, name))
    resume_from = cfg.get("resume_from")
    if resume_from is not None and not isinstance(resume_from, str):
        raise bad_type(_JOB, "resume_from", "a checkpoint path (or null)", resume_from)
    group_lrs = cfg.optimizer.group_lrs
    if group_lrs is not None:
        if not isinstance(group_lrs, ListConfig) or len(group_lrs) == 0:
            raise bad_type(
                _JOB, "optimizer.group_lrs", "a non-empty list of learning rates, or null", group_lrs
            )
        for index, lr in enumerate(group_lrs):
            check_lr(_JOB, f"optimizer.group_lrs[{index}]", lr)
    if cfg.task.name == "train":
        for name in ("samples", "features", "hidden", "batch_size"):
            check_count(_JOB, f"task.{name}", cfg.task[name])
        check_count(_JOB, "task.seed", cfg.task.seed, minimum=0)
        _check_flag("task.progress", cfg.task.progress)
        momentum = cfg.task.momentum
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
            raise bad_type(_JOB, "task.momentum", "a number in [0, 1)", momentum)


def cfg_get(cfg: DictConfig, dotted: str) -> object:
    node: Any = cfg
    for key in dotted.split("."):
        node = node[key]
    return node


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run the main job on a composed config; return what it printed, as numbers."""
    check_job(cfg)
    out = Path(HydraConfig.get().runtime.output_dir)
    make_scheduler = instantiate_trusted(cfg.scheduler)
    result: dict[str, Any] = {}
    if cfg.task.name == "train":
        trained = train(cfg, make_scheduler, out)
        schedule = schedule_from(cfg.scheduler, where="bounded-lr")
        every = lr_curve(schedule, np.arange(schedule.max_steps, dtype=np.int64))  # training is O(steps)
        verdict = _verdict(
            *_differences(trained["lrs"], every, False), f"trained {schedule.max_steps} steps; the LR of each"
        )
        result["final_loss"] = trained["final_loss"]
        view = preview(schedule)
    else:
        optimizer = _preview_optimizer(cfg)
        scheduler = make_scheduler(optimizer=optimizer)
        if cfg.get("resume_from"):
            return _resumed(cfg, optimizer, scheduler, out)
        if len(optimizer.param_groups) > 1:
            result["groups"] = _group_lines(scheduler)
        schedule = scheduler.schedules[_main_group(scheduler)]
        view = preview(schedule)
        verdict = _verify(optimizer, scheduler, schedule) if cfg.verify else _spot_check(scheduler, view)
    check = check_bounds(view)
    text = summary(view, check, verdict) + result.pop("groups", "")
    if "final_loss" in result:
        text += f"\n  final loss   {result['final_loss']:.6g}  (MSE on all {cfg.task.samples} samples)"
    print(text, flush=True)
    steps = csv_steps(view)
    write_csv(out / "schedule.csv", steps, {"lr": view.lrs_at(steps)})
    if cfg.plot:
        title = (
            f"{schedule.kind}: {schedule.initial_lr:g} -> {schedule.final_lr:g} "
            + (
                f"in {schedule.count} decays over {schedule.max_steps} steps (gamma={schedule.gamma:.6g}, "
                if schedule.stepwise
                else f"over {schedule.max_steps} steps ("
            )
            + (
                f"final_lr_at={schedule.final_lr_at}"
                + (f", warmup={schedule.warmup_steps}" if schedule.warmup_steps else "")
                + ")"
            )
        )
        write_png(out / "schedule.png", {"lr": view}, title)
    result.update(gamma=schedule.gamma, check=check, verdict=verdict)
    if not check.ok:
        raise BoundsError(
            f"{_JOB}: the declared bounds must hold, got a schedule that breaks them (see 'bounds' above); "
            "this is a bug in bounded-lr-resolver, please report it with the command line"
        )
    return result


def _resumed(
    cfg: DictConfig, optimizer: torch.optim.Optimizer, scheduler: BoundedLR, out: Path
) -> dict[str, Any]:
    """``resume_from=<checkpoint>``: load it as training would, then preview and check the whole plan."""
    path = str(cfg.resume_from)
    scheduler.load_state_dict(load_scheduler_state(path))
    step = scheduler.last_epoch
    view = resumed_view(scheduler, _main_group(scheduler), step)
    text, ok = resume_summary(view, scheduler, path)
    if cfg.verify:
        end = scheduler.schedules[0].max_steps + 1
        expected = [view.plan.lr_at(t) for t in range(step + 1, end)]
        written = []
        for _ in range(step + 1, end):
            optimizer.step()
            scheduler.step()
            written.append(float(optimizer.param_groups[_main_group(scheduler)]["lr"]))
        differences = _differences(np.array(written), np.array(expected), bool(cfg.optimizer.tensor_lr))
        text += "\n  verified     " + _verdict(
            *differences, f"stepped the resumed scheduler {end - step - 1} times"
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


def _failure(error: BaseException) -> str | None:
    """Our one-message form of ``error`` (a package error with its config key, or a failed write)."""
    ours, key = package_error(error)
    if ours is not None:
        return f"{ours}" + (f"\n    config key: {key}" if key else "")
    if isinstance(error, OSError) and error.filename:
        return f"{_JOB}: could not write {error.filename}: {error.strerror} (a previous file is intact)"
    return None


def _task(cfg: DictConfig) -> float | None:
    """The job: returns the final loss for ``task=train``, the objective a sweeper (Optuna) minimizes.

    A bad value or a failed write in a single run prints our one message (with the config key or
    the file) and exits 1, instead of a traceback; ``HYDRA_FULL_ERROR=1`` and multiruns keep
    Hydra's own reporting. A record our callback could not write fails the job too (Hydra itself
    would only warn).
    """
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        for lost in failed_writes:
            if Path(lost.filename).parent == out:
                raise lost  # the callback's own error, which names the file
        final_loss: float | None = run(cfg).get("final_loss")
    except Exception as error:
        message = _failure(error)
        single = HydraConfig.get().mode == RunMode.RUN
        if message is None or not single or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"Error: {message}", file=sys.stderr, flush=True)
        print("Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.", file=sys.stderr)
        sys.exit(1)
    return final_loss


def hydra_main_kwargs() -> dict[str, Any]:
    """``version_base`` for ``hydra.main``: required (else a warning) before 1.4, deprecated from 1.4."""
    return {"version_base": "1.3"} if Version(hydra.__version__).release[:2] < (1, 4) else {}


def main() -> None:
    """Console-script entry point: ``bounded-lr [overrides]``."""
    trust_our_callbacks()  # our config lists our own callbacks; Hydra 1.4 would warn for them
    register_scheduler_options()
    # torch, hydra and matplotlib leave millions of long-lived objects; freezing them keeps the
    # garbage collector from re-scanning them on every collection (a third of a cold plot's time).
    gc.freeze()
    hydra.main(config_path=config_dir(), config_name="config", **hydra_main_kwargs())(_task)()


if __name__ == "__main__":
    main()
