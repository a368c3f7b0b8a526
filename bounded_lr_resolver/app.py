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
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from packaging.version import Version

from bounded_lr_resolver.callbacks import failed_writes
from bounded_lr_resolver.derived import declared
from bounded_lr_resolver.errors import BoundsError, package_error
from bounded_lr_resolver.job_schema import JOB, check_job, register_job_schema, train_task
from bounded_lr_resolver.preview import preview
from bounded_lr_resolver.report import check_bounds, csv_steps, summary, write_csv, write_png
from bounded_lr_resolver.schedule import Schedule
from bounded_lr_resolver.trusted import trust_our_callbacks

__all__ = ["config_dir", "hydra_main_kwargs", "main", "register_scheduler_options", "run"]


def register_scheduler_options() -> None:
    """The main job's group ``scheduler``: one option per shipped ``bounded_lr`` option, same name.

    ``bounded-lr scheduler=cosine_to_zero`` is ``bounded_lr@scheduler: cosine_to_zero``. The group
    is stored in this process's ConfigStore by the main job only, so no other app sees it. One
    more option, ``small``, is what ``task=train`` trains by default (seconds on two cores): kind
    ``step``, 0.05 -> 5e-4 in 4 decays over 2000 steps. Another choice (``task=train
    scheduler=cosine``) trains that option's own ``max_steps``.
    """
    from hydra.core.config_store import ConfigStore

    from bounded_lr_resolver.options import OPTIONS

    store = ConfigStore.instance()
    for name in OPTIONS:
        store.store(group="scheduler", name=name, node={"defaults": [{"/bounded_lr@_here_": name}, "_self_"]})
    small = {"initial_lr": 0.05, "final_lr": 5e-4, "max_steps": 2000, "n_updates": 4}
    store.store(
        group="scheduler",
        name="small",
        node={"defaults": [{"/bounded_lr@_here_": "step"}, "_self_"], **small},
    )


def config_dir() -> str:
    """The main job's config folder: packaged in a wheel, the repository's ``conf/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "app_conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(f"bounded-lr: no config.yaml in {here / 'app_conf'} or {here.parent / 'conf'}")


_TARGET = "bounded_lr_resolver.build_scheduler"
_CLOSED_FORM = (
    "off: the LRs above are the closed form, torch not loaded (verify=true builds the real scheduler "
    "and compares it at every step)"
)


def declared_schedule(cfg: DictConfig) -> Schedule | None:
    """The schedule ``cfg.scheduler`` declares, checked as the factory checks it, without torch.

    ``None`` when only the real scheduler can answer: ``verify``, ``resume_from``, ``task=train``,
    an optimizer option (tensor or per-group LRs, an ``optimizer.lr`` other than ``initial_lr``),
    per-group bounds, or a node whose ``_target_`` is not our factory.
    """
    node = cfg.scheduler
    if (
        cfg.task.name != "preview"
        or cfg.verify
        or cfg.get("resume_from")
        or cfg.optimizer.tensor_lr
        or cfg.optimizer.group_lrs is not None
        or not isinstance(node, DictConfig)
        or node.get("_target_") != _TARGET
    ):
        return None
    values = OmegaConf.to_container(node, resolve=True)
    assert isinstance(values, dict)
    plan = declared({str(key): value for key, value in values.items() if not str(key).startswith("_")})
    if len(plan) != 1 or plan[0][0].initial_lr != cfg.optimizer.lr:
        return None  # the factory's own error says what is wrong with the optimizer or the groups
    return plan[0][0]


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run the main job on a composed config; return what it printed, as numbers."""
    check_job(cfg)
    out = Path(HydraConfig.get().runtime.output_dir)
    schedule = declared_schedule(cfg)
    if schedule is not None:
        result: dict[str, Any] = {"view": preview(schedule), "verdict": _CLOSED_FORM, "label": "verify"}
    else:
        from bounded_lr_resolver.stepping import stepped  # torch: the real scheduler

        result = stepped(cfg, out)
        if "resumed_at" in result:
            return result
        schedule = result.pop("schedule")
    view, verdict = result.pop("view"), result.pop("verdict")
    check = check_bounds(view)
    text = summary(view, check, verdict, result.pop("label", "verified")) + result.pop("groups", "")
    if "final_loss" in result:
        text += f"\n  final loss   {result['final_loss']:.6g}  (MSE on all {train_task(cfg).samples} samples)"
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
            f"{JOB}: the declared bounds must hold, got a schedule that breaks them (see 'bounds' above); "
            "this is a bug in bounded-lr-resolver, please report it with the command line"
        )
    return result


def _failure(error: BaseException) -> str | None:
    """Our one-message form of ``error`` (a package error with its config key, or a failed write)."""
    ours, key = package_error(error)
    if ours is not None:
        return f"{ours}" + (f"\n    config key: {key}" if key else "")
    if isinstance(error, OSError) and error.filename:
        return f"{JOB}: could not write {error.filename}: {error.strerror} (a previous file is intact)"
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
    register_job_schema()
    register_scheduler_options()
    # torch, hydra and matplotlib leave millions of long-lived objects; freezing them keeps the
    # garbage collector from re-scanning them on every collection (a third of a cold plot's time).
    gc.freeze()
    hydra.main(config_path=config_dir(), config_name="config", **hydra_main_kwargs())(_task)()
    _exit_if_writes_failed()


def _exit_if_writes_failed() -> None:
    """After Hydra returns: a file our callbacks could not write fails the command, exit 1.

    The sweep report is written by a callback after the jobs, whose errors Hydra only logs; each
    file still missing (see :data:`~bounded_lr_resolver.callbacks.failed_writes`) is named.
    """
    for error in failed_writes:
        print(f"Error: {_failure(error)}", file=sys.stderr, flush=True)
    if failed_writes:
        sys.exit(1)


if __name__ == "__main__":
    main()
