"""The main job's ``task=train``: train a small MLP on generated data with the bounded schedule.

There is no download: the regression problem is generated from ``task.seed``. Each step logs the
LR it trained with and its loss to ``train.csv``; a progress bar shows both; the job ends by
printing the final loss (on the whole data set) and writing it to ``result.json`` for the sweep
report. The defaults train in seconds on two CPU cores; ``task.*`` and ``scheduler.*`` scale it.

Checkpoints: ``task.save_every=N`` writes ``step_<n>.ckpt`` every ``N`` steps, and every run
writes ``last.ckpt`` at its end (``torch.save`` of the model, optimizer and scheduler state,
plain data). ``resume_from=<ckpt>`` continues from one: the model, optimizer and scheduler are
restored, as a training script restores them, and the run goes on to the end of the plan the
scheduler follows after the load (re-planned under changed bounds with
``scheduler.on_resume_change=replan``, or a cooldown branch of a stable run with
``scheduler.cooldown=...``, :mod:`bounded_lr_resolver.branch`). The data order depends only on
the step, so a resumed run sees the batches the uninterrupted run would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from bounded_lr_resolver.errors import missing_extra  # before the optional imports it names

try:
    import numpy as np
    import torch
    from tqdm import tqdm
except ModuleNotFoundError as error:
    raise missing_extra(error, "task=train", "cli") from None

from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.files import atomic_write, atomic_write_text
from bounded_lr_resolver.job_schema import JOB, train_task
from bounded_lr_resolver.scheduler import BoundedLR
from bounded_lr_resolver.sweep_report import RESULT_FILE

__all__ = ["make_data", "train"]


def make_data(samples: int, features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth nonlinear regression problem with a little noise, from a fixed seed."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(samples, features, generator=generator)
    weights = torch.randn(features, 1, generator=generator) / features**0.5
    targets = torch.sin(2.0 * inputs @ weights) + 0.1 * (inputs[:, :1] ** 2)
    targets += 0.05 * torch.randn(samples, 1, generator=generator)
    return inputs, targets


def _save(path: Path, model: Any, optimizer: Any, scheduler: BoundedLR, step: int) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
    }
    atomic_write(path, lambda temporary: torch.save(state, temporary))


def _resume(path: str, model: Any, optimizer: Any, scheduler: BoundedLR) -> int:
    """Restore a ``task=train`` checkpoint; the step it was taken at."""
    from bounded_lr_resolver.ckpt_file import load_checkpoint, scheduler_state

    data = load_checkpoint(path, JOB, "resume_from")  # plain data only (weights_only)
    state = scheduler_state(data, JOB, "resume_from", path)
    if not (isinstance(data, dict) and {"model", "optimizer"} <= set(data)):
        raise bad_value(
            JOB,
            "resume_from",
            "a checkpoint of task=train (model, optimizer and scheduler state)",
            {"resume_from": path, "keys": sorted(map(str, data)) if isinstance(data, dict) else None},
        )
    model.load_state_dict(data["model"])
    optimizer.load_state_dict(data["optimizer"])
    # last: it rewrites the optimizer's LRs for the restored step; a refused resume ends the job
    # before a step is trained or a file written
    scheduler.load_state_dict(state)
    return scheduler.last_epoch


def train(cfg: DictConfig, make_scheduler: Any, out: Path) -> dict[str, Any]:
    """Train to the end of the scheduler's plan; return the final loss and the per-step log."""
    task = train_task(cfg)  # each value checked and normalized (task.samples=4e3 is 4000)
    torch.manual_seed(task.seed)
    inputs, targets = make_data(task.samples, task.features, task.seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(task.features, task.hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(task.hidden, task.hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(task.hidden, 1),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.optimizer.lr, momentum=task.momentum)
    scheduler: BoundedLR = make_scheduler(optimizer=optimizer)
    order = torch.randperm(task.samples)
    first = 0 if cfg.get("resume_from") is None else _resume(cfg.resume_from, model, optimizer, scheduler)
    schedule = scheduler.schedules[0]
    if schedule.open_ended and not scheduler.branches:
        raise bad_value(
            JOB,
            "scheduler.max_steps",
            "a whole number of steps to train (an open-ended stable run holds for as long as training runs)",
            {"scheduler.max_steps": None},
            "Give scheduler.max_steps, then branch cooldowns from its checkpoints (task.save_every)",
        )
    # the end of what the scheduler follows: max_steps (also where given as 3ep), a re-planned
    # resume's new max_steps, or the end of a cooldown branch (its step plus the cooldown)
    end = scheduler.plans[0].total
    steps = max(0, end - first)
    lrs, losses = np.empty(steps), np.empty(steps)
    with tqdm(total=steps, desc="train", unit="step", mininterval=0.5, disable=not task.progress) as bar:
        for index, step in enumerate(range(first, end)):
            start = (step * task.batch_size) % task.samples
            batch = order[start : start + task.batch_size]
            loss = torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            lrs[index] = float(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
            losses[index] = loss.item()
            if task.save_every and (step + 1) % task.save_every == 0:
                _save(out / f"step_{step + 1}.ckpt", model, optimizer, scheduler, step + 1)
            if index % 50 == 0 or index == steps - 1:
                bar.set_postfix(loss=f"{losses[index]:.4f}", lr=f"{lrs[index]:.3g}", refresh=False)
                bar.update(index + 1 - bar.n)
    _save(out / "last.ckpt", model, optimizer, scheduler, end)
    with torch.no_grad():
        final_loss = float(torch.nn.functional.mse_loss(model(inputs), targets))

    def write_log(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8") as stream:
            stream.write("step,lr,loss\n")
            stream.writelines(
                f"{i},{lr!r},{loss!r}\n"
                for i, (lr, loss) in enumerate(zip(lrs.tolist(), losses.tolist(), strict=True), start=first)
            )

    atomic_write(out / "train.csv", write_log)
    atomic_write_text(out / RESULT_FILE, json.dumps({"final_loss": final_loss}))
    return {"final_loss": final_loss, "lrs": lrs, "losses": losses, "scheduler": scheduler, "first": first}
