"""The ``bounded-lr`` main job: compose a config, build the real scheduler, preview and check it.

It builds a real torch optimizer and the scheduler from ``cfg.scheduler`` (through Hydra's
``instantiate``), computes the LR at every step in closed form, checks the declared bounds,
prints a summary and writes ``schedule.csv``, ``schedule.png`` and ``resolved_config.yaml`` into
Hydra's output directory. ``verify=true`` also steps the real scheduler through all ``max_steps``
and compares every LR with the closed form.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import numpy.typing as npt
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from packaging.version import Version

from bounded_lr_resolver.bounds import Schedule
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.report import check_bounds, csv_steps, key_steps, summary, write_csv, write_png
from bounded_lr_resolver.scheduler import BoundedLR
from bounded_lr_resolver.trusted import instantiate_trusted

__all__ = ["config_dir", "hydra_main_kwargs", "main", "run"]


def config_dir() -> str:
    """The main job's config folder: packaged in a wheel, the repository's ``conf/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "app_conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(f"bounded-lr: no config.yaml in {here / 'app_conf'} or {here.parent / 'conf'}")


def _build(cfg: DictConfig) -> tuple[torch.optim.Optimizer, BoundedLR]:
    param = torch.nn.Parameter(torch.zeros(1))
    lr: Any = cfg.optimizer.lr
    optimizer = torch.optim.SGD([param], lr=torch.tensor(lr) if cfg.optimizer.tensor_lr else lr)
    scheduler = instantiate_trusted(cfg.scheduler)(optimizer=optimizer)
    return optimizer, scheduler


def _verify(optimizer: torch.optim.Optimizer, scheduler: BoundedLR, curve: npt.NDArray[np.float64]) -> str:
    """Step the real scheduler through every step; return a one-line verdict."""
    group = optimizer.param_groups[0]
    stepped = np.empty_like(curve)
    stepped[0] = float(group["lr"])
    for step in range(1, curve.size):
        optimizer.step()
        scheduler.step()
        stepped[step] = float(group["lr"])
    expected = curve.astype(np.float32).astype(np.float64) if isinstance(group["lr"], torch.Tensor) else curve
    mismatches = int(np.count_nonzero(stepped != expected))
    positive = curve > 0
    worst = float(np.max(np.abs(stepped[positive] / curve[positive] - 1.0)))
    return (
        f"stepped the real torch scheduler {curve.size - 1} times: "
        f"{'every LR equals' if mismatches == 0 else f'{mismatches} LRs differ from'} the closed form "
        f"(max relative difference {worst:.3g})"
    )


def _spot_check(scheduler: BoundedLR, schedule: Schedule, curve: npt.NDArray[np.float64]) -> str:
    steps = list(key_steps(schedule).values())
    wrong = [step for step in steps if not math.isclose(scheduler.lrs_at(step)[0], curve[step], rel_tol=0.0)]
    where = "equal" if not wrong else f"differ at steps {wrong} from"
    return (
        f"the real scheduler's LRs at the key steps {where} the closed form (verify=true steps all of them)"
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run the main job on a composed config; return the numbers it printed."""
    optimizer, scheduler = _build(cfg)
    schedule = scheduler.schedules[0]
    curve = lr_curve(schedule)
    check = check_bounds(schedule, curve)
    verdict = _verify(optimizer, scheduler, curve) if cfg.verify else _spot_check(scheduler, schedule, curve)
    print(summary(schedule, curve, check, verdict), flush=True)
    out = Path(HydraConfig.get().runtime.output_dir)
    (out / "resolved_config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    steps = csv_steps(schedule, curve)
    write_csv(out / "schedule.csv", steps, {"lr": curve[steps]})
    if cfg.plot:
        title = (
            f"{schedule.kind}: {schedule.initial_lr:g} -> {schedule.final_lr:g} in {schedule.count} decays "
            f"over {schedule.max_steps} steps (gamma={schedule.gamma:.6g}, final_lr_at={schedule.final_lr_at}"
            + (f", warmup={schedule.warmup_steps}" if schedule.warmup_steps else "")
            + ")"
        )
        write_png(out / "schedule.png", {"lr": (schedule, curve)}, title)
    return {"gamma": schedule.gamma, "check": check, "verdict": verdict}


def _task(cfg: DictConfig) -> None:
    run(cfg)


def hydra_main_kwargs() -> dict[str, Any]:
    """``version_base`` for ``hydra.main``: required (else a warning) before 1.4, deprecated from 1.4."""
    return {"version_base": "1.3"} if Version(hydra.__version__).release[:2] < (1, 4) else {}


def main() -> None:
    """Console-script entry point: ``bounded-lr [overrides]``."""
    hydra.main(config_path=config_dir(), config_name="config", **hydra_main_kwargs())(_task)()


if __name__ == "__main__":
    main()
