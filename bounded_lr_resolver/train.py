"""The main job's ``task=train``: train a small MLP on generated data with the bounded schedule.

There is no download: the regression problem is generated from ``task.seed``. Each step logs the
LR it trained with and its loss to ``train.csv``; a progress bar shows both; the job ends by
printing the final loss (on the whole data set) and writing it to ``result.json`` for the sweep
report. The defaults train in seconds on two CPU cores; ``task.*`` and ``scheduler.*`` scale it.
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

from bounded_lr_resolver.files import atomic_write, atomic_write_text
from bounded_lr_resolver.job_schema import train_task
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


def train(cfg: DictConfig, make_scheduler: Any, out: Path) -> dict[str, Any]:
    """Train for ``scheduler.max_steps`` steps; return the final loss and the per-step log."""
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
    steps = scheduler.schedules[0].max_steps  # in steps, also where the config gives a duration (3ep)
    lrs, losses = np.empty(steps), np.empty(steps)
    order = torch.randperm(task.samples)
    with tqdm(total=steps, desc="train", unit="step", mininterval=0.5, disable=not task.progress) as bar:
        for step in range(steps):
            start = (step * task.batch_size) % task.samples
            batch = order[start : start + task.batch_size]
            loss = torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            lrs[step] = float(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
            losses[step] = loss.item()
            if step % 50 == 0 or step == steps - 1:
                bar.set_postfix(loss=f"{losses[step]:.4f}", lr=f"{lrs[step]:.3g}", refresh=False)
                bar.update(step + 1 - bar.n)
    with torch.no_grad():
        final_loss = float(torch.nn.functional.mse_loss(model(inputs), targets))

    def write_log(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8") as stream:
            stream.write("step,lr,loss\n")
            stream.writelines(
                f"{i},{lr!r},{loss!r}\n"
                for i, (lr, loss) in enumerate(zip(lrs.tolist(), losses.tolist(), strict=True))
            )

    atomic_write(out / "train.csv", write_log)
    atomic_write_text(out / RESULT_FILE, json.dumps({"final_loss": final_loss}))
    return {"final_loss": final_loss, "lrs": lrs, "losses": losses}
