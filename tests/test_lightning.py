"""Lightning in three lines: ``configure_optimizers`` over a real ``Trainer``, and a template-style Hydra app.

The app is written as lightning-hydra-template users write theirs: a LightningModule taking the
optimizer and scheduler partials from the config (``save_hyperparameters``), ``max_steps: null``
in the scheduler node (the trainer knows the horizon), our callbacks on. Oracles: a float64
reference of each schedule written here, and torch's own ``LinearLR`` for a per-epoch warmup.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MAIN_KWARGS, run

pytest.importorskip("lightning")

BATCHES = 8  # 64 samples, batch size 8


def _cosine(t: int, warmup: int, total: int, peak: float, floor: float) -> float:
    """Float64 reference: a linear warmup from 0, then half a cosine from ``peak`` to ``floor``."""
    if t < warmup:
        return peak * t / warmup
    if t >= total:
        return floor
    x = (t - warmup) / (total - warmup)
    return floor + (peak - floor) * (1 + math.cos(math.pi * x)) / 2


def _module(seen: list[float], scheduler: Any, interval: str = "step", stop_at: int | None = None) -> Any:
    """A tiny LightningModule whose configure_optimizers is the three lines; it records the LR of
    every batch in ``seen`` (and stops training after step ``stop_at``, as a preemption would)."""
    import lightning
    import torch

    from bounded_lr_resolver.lightning import configure_optimizers

    class Model(lightning.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
            seen.append(self.optimizers().param_groups[0]["lr"])
            return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

        def on_train_batch_end(self, *args: Any) -> None:
            if self.trainer.global_step == stop_at:
                self.trainer.should_stop = True

        def configure_optimizers(self) -> dict[str, Any]:
            optimizer = torch.optim.SGD  # a callable taking params=, as Hydra's _partial_ optimizer
            return configure_optimizers(
                self, lambda params: optimizer(params, lr=0.1), scheduler, interval=interval
            )

    return Model()


def _run(module: Any, ckpt_path: str | None = None, **trainer_args: Any) -> Any:
    """Fit ``module`` on 64 samples in batches of 8 with a real Trainer; the trainer."""
    import lightning
    import torch

    trainer_args.setdefault("enable_checkpointing", False)
    trainer = lightning.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False, **trainer_args
    )
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice (num_workers, ...) is its own
        trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=64 // BATCHES), ckpt_path=ckpt_path)
    return trainer


def _fit(scheduler: Any, interval: str, epochs: int, **trainer_args: Any) -> tuple[list[float], Any]:
    """Fit the three lines over ``epochs``; the LR of every batch, and the trainer."""
    seen: list[float] = []
    trainer = _run(_module(seen, scheduler, interval), max_epochs=epochs, **trainer_args)
    return seen, trainer


def _shipped(name: str, **overrides: Any) -> Any:
    """What instantiate(cfg.model.scheduler) gives for ``bounded_lr@model.scheduler: <name>``."""
    from bounded_lr_resolver import build_scheduler
    from bounded_lr_resolver.options import COMMON, OPTIONS

    kind, _, declared = OPTIONS[name]
    return build_scheduler(None, **{**COMMON, "kind": kind, **declared, **overrides})


@pytest.mark.parametrize(
    ("warmup", "accumulate", "steps"),
    [
        pytest.param("1ep", 1, 8, id="1ep-of-8-batches"),
        pytest.param("1ep", 2, 4, id="1ep-with-accumulation-2"),
        pytest.param("0.1dur", 1, 2, id="0.1dur-of-24-rounded-down"),
    ],
)
def test_three_lines_take_the_horizon_and_epochs_from_the_trainer(
    warmup: str, accumulate: int, steps: int
) -> None:
    """max_steps null in the config; the trainer's 3 epochs are the horizon, epochs count its steps."""
    make = _shipped("cosine_to_zero", max_steps=None, initial_lr=None, warmup_steps=warmup)
    seen, trainer = _fit(make, "step", 3, accumulate_grad_batches=accumulate)
    total = 3 * BATCHES // accumulate
    assert trainer.lr_scheduler_configs[0].scheduler.schedules[0].max_steps == total
    assert trainer.lr_scheduler_configs[0].scheduler.schedules[0].warmup_steps == steps
    per_batch = [_cosine(t, steps, total, 0.1, 0.0) for t in range(total) for _ in range(accumulate)]
    assert seen == pytest.approx(per_batch, rel=1e-12, abs=1e-15)


def test_per_epoch_schedule_counts_epochs_and_matches_torch() -> None:
    """interval='epoch': max_steps is the trainer's 4 epochs; the warmup is torch's LinearLR."""
    import torch

    make = _shipped("linear", max_steps=None, warmup_steps=2, warmup_start_factor=1 / 3, final_lr=0.0)
    seen, _ = _fit(make, "epoch", 4)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    oracle = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / 3, total_iters=2)
    expected = []
    for epoch in range(4):
        lr = optimizer.param_groups[0]["lr"] if epoch < 2 else 0.1 * (1 - (epoch - 2) / 2)
        expected += [lr] * BATCHES
        optimizer.step()
        oracle.step()
    assert seen == pytest.approx(expected, rel=1e-12)


def test_per_epoch_warmup_from_zero_is_refused_saying_what_works() -> None:
    from bounded_lr_resolver.errors import BoundsError

    make = _shipped("linear", max_steps=None, warmup_steps=3, final_lr=0.0)
    with pytest.raises(BoundsError) as caught:
        _fit(make, "epoch", 4)
    assert str(caught.value) == (
        "lightning_scheduler: warmup_start_factor must be > 0 with interval='epoch' (each epoch trains at "
        "the LR of its number: the first epoch would train at LR 0), got warmup_start_factor=0.0, "
        "warmup_steps=3. Use warmup_start_factor=0.25 (a linear ramp whose first epoch trains at 0.25 x "
        "initial_lr), or interval='step'"
    )


def test_initial_lr_given_must_agree_with_the_optimizer() -> None:
    from bounded_lr_resolver.errors import BoundsError

    make = _shipped("cosine", max_steps=None, initial_lr=0.2)
    with pytest.raises(BoundsError) as caught:
        _fit(make, "step", 1)
    assert str(caught.value).startswith(
        "build_scheduler: initial_lr must be the optimizer's (largest param group's) lr, got "
        "initial_lr=0.2, optimizer lrs=[0.1]."
    )


def test_lightning_cli_form_takes_the_bounds_as_a_mapping() -> None:
    """LightningCLI passes plain data from its YAML: the bounds as a mapping build the same scheduler."""
    bounds = {"kind": "linear", "final_lr": 0.0, "warmup_steps": "1ep"}
    seen, _ = _fit(bounds, "step", 2)
    assert seen == pytest.approx([_linear(t) for t in range(16)], rel=1e-12, abs=1e-15)


def _linear(t: int) -> float:
    return 0.1 * t / 8 if t < 8 else 0.1 * (1 - (t - 8) / 8)


# A lightning-hydra-template-style app: the module takes partials from the config; our callbacks on.
TEMPLATE_APP = """\
import hydra
import lightning
import torch
import bounded_lr_resolver
from bounded_lr_resolver.lightning import configure_optimizers

bounded_lr_resolver.trust_our_callbacks()


class LitModule(lightning.LightningModule):
    def __init__(self, optimizer, scheduler):
        super().__init__()
        # Hydra 1.4's partials cannot be pickled: keep them out of the checkpoint's hparams
        self.save_hyperparameters(logger=False, ignore=["optimizer", "scheduler"])
        self.optimizer, self.scheduler = optimizer, scheduler
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

    def configure_optimizers(self):
        return configure_optimizers(self, self.optimizer, self.scheduler)


@hydra.main(config_path="configs", config_name="train"{KWARGS})
def main(cfg):
    torch.manual_seed(0)
    allow = ["__main__.LitModule", "torch.optim.SGD"]
    model = bounded_lr_resolver.instantiate_trusted(cfg.model, allow=allow)
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
    trainer = lightning.Trainer(
        accelerator="cpu", max_epochs=cfg.trainer.max_epochs, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=8))
    print("trained", trainer.global_step, "steps")


main()
"""

TEMPLATE_CONFIG = """\
defaults:
  - bounded_lr@model.scheduler: cosine_to_zero
  - _self_
trainer:
  max_epochs: 3
model:
  _target_: __main__.LitModule
  optimizer:
    _target_: torch.optim.SGD
    _partial_: true
    lr: 0.1
  scheduler:
    initial_lr: null
    max_steps: null
    expected_max_steps: 24
    warmup_steps: 0.1dur
hydra:
  callbacks:
    preflight: {_target_: bounded_lr_resolver.callbacks.SweepPreflight}
    resolved: {_target_: bounded_lr_resolver.callbacks.SaveResolvedConfig}
    report: {_target_: bounded_lr_resolver.callbacks.SweepReport, key: model.scheduler}
"""


@pytest.mark.slow
def test_template_app_records_the_horizon_that_ran(tmp_path: Path) -> None:
    """The trainer's 24 steps are what resolved_config.yaml, scheduler.json and the sweep report show."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "train.yaml").write_text(TEMPLATE_CONFIG)
    (tmp_path / "train.py").write_text(TEMPLATE_APP.replace("{KWARGS}", MAIN_KWARGS))
    sweep = tmp_path / "multirun"
    done = run(
        [sys.executable, "train.py", "-m", "model.scheduler.final_lr=0.0,1e-3", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path,
    )
    assert done.stdout.count("trained 24 steps") == 2
    resolved = (sweep / "0" / "resolved_config.yaml").read_text()
    assert "    max_steps: 24  # set at run time\n" in resolved
    assert "    initial_lr: 0.1  # set at run time\n" in resolved
    assert "    warmup_steps: 2  # 0.1dur of the run-time horizon, rounded down\n" in resolved
    record = json.loads((sweep / "1" / "scheduler.json").read_text())
    assert record["set_at_run_time"] == ["initial_lr", "max_steps"]
    assert record["schedules"][0]["max_steps"] == 24
    assert record["schedules"][0]["final_lr"] == 1e-3
    with (sweep / "sweep_report.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["max_steps"] for row in rows] == ["24", "24"]
    assert [row["warmup_steps"] for row in rows] == ["2", "2"]


def _checkpoints(tmp_path: Path, **kwargs: Any) -> Any:
    import lightning

    return lightning.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, **kwargs)


def test_a_cooldown_branch_from_a_lightning_checkpoint_of_the_stable_run(tmp_path: Path) -> None:
    """The recipe: an open-ended stable run checkpoints every 10 steps; a branch from step 20 with a
    linear cooldown over 10 steps to 0 is a second fit from that checkpoint, with max_steps 30."""
    stable = _shipped("constant", max_steps=None, initial_lr=None, warmup_steps=5, final_lr=None)
    history: list[float] = []
    every_10 = _checkpoints(tmp_path, every_n_train_steps=10)
    _run(_module(history, stable), max_steps=40, callbacks=[every_10], enable_checkpointing=True)
    assert history[:6] == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08, 0.1], rel=1e-12)
    assert history[5:] == [0.1] * 35
    [checkpoint] = [path for path in tmp_path.iterdir() if "step=20" in path.name]
    cooldown = {"shape": "linear", "steps": 10, "end_lr": 0.0}
    branch = _shipped(
        "constant", max_steps=None, initial_lr=None, warmup_steps=5, final_lr=None, cooldown=cooldown
    )
    seen: list[float] = []
    _run(_module(seen, branch), ckpt_path=str(checkpoint), max_steps=30)
    assert seen[0] == history[20]  # bitwise: the LR the checkpoint trained at
    assert seen == pytest.approx([0.1 * (1 - i / 10) for i in range(10)], rel=1e-12)


def test_a_preempted_run_resumes_from_last_ckpt_under_a_longer_trainer(tmp_path: Path) -> None:
    """Lightning's last.ckpt (loaded with torch's weights_only default) of a run stopped at step 10 of
    20, resumed by a trainer of 40 steps: the three lines take the new horizon and
    on_resume_change=replan continues the cosine over the 30 steps left, exactly."""
    make = _shipped("cosine", max_steps=None, initial_lr=None, final_lr=0.0, on_resume_change="replan")
    seen: list[float] = []
    last = _checkpoints(tmp_path, every_n_train_steps=10, save_last=True)
    _run(_module(seen, make, stop_at=10), max_steps=20, callbacks=[last], enable_checkpointing=True)
    assert seen == pytest.approx([_cosine(t, 0, 20, 0.1, 0.0) for t in range(10)], rel=1e-12)
    at = _cosine(10, 0, 20, 0.1, 0.0)
    seen.clear()
    _run(_module(seen, make), ckpt_path=str(tmp_path / "last.ckpt"), max_steps=40)
    assert len(seen) == 30  # steps 10..39
    assert seen[0] == pytest.approx(at, rel=1e-15)  # continues where it stopped
    # the new 40-step cosine from where step 10 falls in it (x = 1/4), rescaled to start at the LR the
    # checkpoint trained at: the rest of the curve, not a restart
    rest = [at * _cosine(10 + i, 0, 40, 1.0, 0.0) / _cosine(10, 0, 40, 1.0, 0.0) for i in range(30)]
    assert seen == pytest.approx(rest, rel=1e-12, abs=1e-15)


def test_a_branch_must_end_where_the_trainer_does_and_may_count_epochs(tmp_path: Path) -> None:
    """A cooldown of one epoch (8 steps, the trainer's) from step 16; a trainer that would train past
    its end (or stop before it) is refused when the checkpoint loads, saying which length works."""
    from bounded_lr_resolver.errors import ResumeMismatchError

    stable = _shipped("constant", max_steps=None, initial_lr=None, warmup_steps=4, final_lr=None)
    every_8 = _checkpoints(tmp_path, every_n_train_steps=8)
    _run(_module([], stable), max_steps=24, callbacks=[every_8], enable_checkpointing=True)
    [checkpoint] = [path for path in tmp_path.iterdir() if "step=16" in path.name]
    cooldown = {"shape": "linear", "steps": "1ep", "end_lr": 0.0}
    branch = _shipped(
        "constant", max_steps=None, initial_lr=None, warmup_steps=4, final_lr=None, cooldown=cooldown
    )
    with pytest.raises(ResumeMismatchError) as caught:
        _run(_module([], branch), ckpt_path=str(checkpoint), max_steps=40)
    assert str(caught.value) == (
        "BoundedLR.load_state_dict: a cooldown branch must end where training does, got a branch from "
        "step 16 that ends at step 24 and a trainer that trains to step 40. Give the trainer max_steps=24, "
        "or a cooldown of 24 steps"
    )
    seen: list[float] = []
    _run(_module(seen, branch), ckpt_path=str(checkpoint), max_steps=24)
    assert seen == pytest.approx([0.1 * (1 - i / 8) for i in range(8)], rel=1e-12)
