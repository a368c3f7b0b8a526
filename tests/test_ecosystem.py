"""Beyond our own job: Optuna sweeps, Lightning's configure_optimizers, Keras 3 schedules.

Each is an optional extra; these tests skip where it is not installed (CI installs all three).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from bounded_lr_resolver.bounds import gamma, lr_values, milestones, step_size
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.schedule import Schedule
from tests.conftest import HYDRA_14, run
from tests.test_main_job import BOUNDED_LR

pytestmark = pytest.mark.slow  # Optuna sweeps in subprocesses; Keras and Lightning side by side


def _optuna_sweeper() -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from importlib.metadata import version

    if HYDRA_14 and not version("hydra-optuna-sweeper").startswith("1.4"):
        pytest.skip(
            "hydra-optuna-sweeper < 1.4 fails on hydra-core 1.4 by itself (its SamplerConfig has no "
            "'infer_relative_search_space'); install hydra-optuna-sweeper==1.4.0rc3 (CI does)"
        )


@pytest.mark.parametrize("storage", [None, "sqlite"], ids=["in-memory", "rdb-sqlite"])
def test_optuna_searches_final_lr_on_a_log_scale(tmp_path: Path, storage: str | None) -> None:
    """Both stacks; with RDB storage too (optuna 2.10 needs SQLAlchemy < 2, which the extra pins)."""
    _optuna_sweeper()
    extra = []
    if storage:
        extra = [
            f"hydra.sweeper.storage=sqlite:///{tmp_path / 'study.db'}",
            "hydra.sweeper.study_name=final_lr",
        ]
    run(
        [
            BOUNDED_LR,
            "-m",
            f"hydra.sweep.dir={tmp_path}",
            "hydra/sweeper=optuna",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.direction=minimize",
            "hydra.sweeper.sampler.seed=0",
            "scheduler.final_lr=tag(log, interval(1e-6, 1e-3))",
            "task=train",
            "task.progress=false",
            "plot=false",
            "scheduler.max_steps=400",
            *extra,
        ],
        cwd=tmp_path,
    )
    losses = {}
    for job in range(4):
        final_lr = yaml.safe_load((tmp_path / str(job) / "resolved_config.yaml").read_text())["scheduler"][
            "final_lr"
        ]
        assert 1e-6 <= final_lr <= 1e-3
        losses[final_lr] = json.loads((tmp_path / str(job) / "result.json").read_text())["final_loss"]
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert best["best_value"] == min(losses.values())
    assert losses[best["best_params"]["scheduler.final_lr"]] == best["best_value"]
    if storage:
        import sqlite3

        with sqlite3.connect(tmp_path / "study.db") as db:
            assert db.execute("select count(*) from trials").fetchone() == (4,)
    rows = (tmp_path / "sweep_report.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # the report lists the sampled jobs as they started


@pytest.mark.parametrize("srun_on_path", [False, True], ids=["plain", "srun-on-path"])
def test_lightning_configure_optimizers_steps_per_batch(
    srun_on_path: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also where SLURM is installed: Lightning then warns that `srun` is not used (not our warning)."""
    pytest.importorskip("lightning")
    if srun_on_path:
        (tmp_path / "srun").write_text("#!/bin/sh\nexit 0\n")
        (tmp_path / "srun").chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    import torch
    from hydra.utils import instantiate

    scheduler_cfg = OmegaConf.create(
        {
            "_target_": "bounded_lr_resolver.build_scheduler",
            "_partial_": True,
            "kind": "multistep",
            "initial_lr": 0.1,
            "final_lr": 1e-3,
            "n_updates": 3,
            "final_lr_at": "last_step",
            "max_steps": "???",
        }
    )

    def lr_scheduler(optimizer: torch.optim.Optimizer, trainer: Any) -> dict[str, object]:
        # max_steps comes from the trainer, so the schedule ends exactly where training does
        make = instantiate(scheduler_cfg, max_steps=trainer.max_steps)
        return {"scheduler": make(optimizer=optimizer), "interval": "step"}

    seen, caught = _fit(lr_scheduler, max_steps=50)
    assert [
        w for w in caught if "bounded_lr_resolver" in w.filename or "lr_scheduler" in str(w.message)
    ] == []
    expected = lr_curve(Schedule(0.1, 1e-3, 50, 3, kind="multistep", final_lr_at="last_step"), np.arange(50))
    assert seen == expected.tolist()
    assert seen[-1] == 1e-3


@pytest.fixture(scope="module")
def keras():  # type: ignore[no-untyped-def]
    os.environ.setdefault("KERAS_BACKEND", "torch")
    module = pytest.importorskip("keras")
    if module.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    return module


@pytest.mark.usefixtures("registered")
def test_keras_exponential_decay_staircase_is_steplr(keras) -> None:  # type: ignore[no-untyped-def]
    """ExponentialDecay(staircase=True) has StepLR's semantics; Keras computes in float32."""
    cfg = OmegaConf.create(
        {
            "_target_": "keras.optimizers.schedules.ExponentialDecay",
            "initial_learning_rate": 0.1,
            "decay_steps": "${lr_step:1200,3}",
            "decay_rate": "${lr_gamma:0.1,1e-4,3}",
            "staircase": True,
        }
    )
    from bounded_lr_resolver.trusted import instantiate_trusted

    # hydra-core 1.4 also checks the class's canonical module path, so both names are allowed
    allow = [
        "keras.optimizers.schedules.ExponentialDecay",
        "keras.src.optimizers.schedules.learning_rate_schedule.ExponentialDecay",
    ]
    schedule = instantiate_trusted(cfg, allow=allow)
    ours = lr_curve(Schedule(0.1, 1e-4, 1200, 3), np.arange(1201))
    theirs = np.array([float(schedule(t)) for t in range(0, 1201, 50)] + [float(schedule(1200))])
    assert np.allclose(theirs, np.append(ours[::50], ours[1200]), rtol=2e-7, atol=0)
    # the seed example: float32 gamma raised to the 10**4th power drifts, as with torch's tensor LR
    seed = keras.optimizers.schedules.ExponentialDecay(
        0.1, step_size(1e6, 1e4), gamma(0.1, 1e-4, 1e4), staircase=True
    )
    drift = abs(float(seed(10**6)) - 1e-4) / 1e-4
    assert 1e-6 < drift < 1e-2


KERAS_COSINE = """\
schedule:
  _target_: keras.optimizers.schedules.CosineDecay
  initial_learning_rate: ${scheduler.initial_lr}
  decay_steps: ${scheduler.max_steps}
  alpha: ${blr.ratio:${scheduler.initial_lr},${scheduler.final_lr}}  # Keras takes the floor as a ratio
scheduler:
  initial_lr: 0.1
  final_lr: 1e-4
  max_steps: 1000
"""


@pytest.mark.usefixtures("registered")
def test_keras_cosine_decay_with_lr_ratio_is_our_cosine(keras) -> None:  # type: ignore[no-untyped-def]
    """The README's Keras 3 example: CosineDecay(alpha=${blr.ratio:...}) ends at final_lr, as kind=cosine."""
    from bounded_lr_resolver.trusted import instantiate_trusted

    cfg = OmegaConf.create(KERAS_COSINE)
    assert cfg.schedule.alpha == 1e-3
    allow = [
        "keras.optimizers.schedules.CosineDecay",
        "keras.src.optimizers.schedules.learning_rate_schedule.CosineDecay",
    ]
    schedule = instantiate_trusted(cfg.schedule, allow=allow)
    theirs = np.array([float(schedule(t)) for t in range(1001)])
    ours = lr_curve(Schedule(0.1, 1e-4, 1000, kind="cosine"))
    # Keras computes in float32: within a few fp32 roundings of initial_lr (1e-5 of the LR near the end)
    assert np.allclose(theirs, ours, rtol=1e-6, atol=0.1 * 2e-7)
    assert math.isclose(theirs[1000], 1e-4, rel_tol=1e-6)


@pytest.mark.parametrize(("at", "max_steps"), [("max_steps", 1000), ("last_step", 1000)])
def test_keras_piecewise_constant_decays_one_step_later(keras, at: str, max_steps: int) -> None:  # type: ignore[no-untyped-def]
    """PiecewiseConstantDecay holds values[i] while step <= boundaries[i]: one step later than MultiStepLR."""
    marks, values = milestones(max_steps, 3, 0, at), lr_values(0.1, 1e-4, 3)
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(marks, values)
    ours = lr_curve(
        Schedule(0.1, 1e-4, max_steps, 3, kind="multistep", final_lr_at=at), np.arange(max_steps + 2)
    )
    theirs = np.array([float(schedule(t)) for t in range(max_steps + 2)])
    assert np.allclose(theirs[1:], ours[:-1], rtol=1e-7, atol=0)  # Keras at step t == torch at step t - 1
    last = theirs[max_steps - 1]
    if at == "last_step":  # still trains the last step at final_lr (max_steps >= 2 * (n_updates + 1))
        assert math.isclose(last, 1e-4, rel_tol=1e-7)
    else:  # as with torch, final_lr comes after training; here one more step later
        assert math.isclose(theirs[max_steps + 1], 1e-4, rel_tol=1e-7)
        assert not math.isclose(theirs[max_steps], 1e-4, rel_tol=1e-3)


def _finetuning_lrs(make_scheduler: Any) -> list[list[float]]:
    """Train with Lightning's BackboneFinetuning (adds a param group, then sets its LR each epoch)."""
    lightning = pytest.importorskip("lightning")
    import torch
    from lightning.pytorch.callbacks import BackboneFinetuning

    seen: list[list[float]] = []

    class Model(lightning.LightningModule):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = torch.nn.Linear(4, 4)
            self.head = torch.nn.Linear(4, 1)

        def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
            seen.append([float(group["lr"]) for group in self.optimizers().param_groups])
            return torch.nn.functional.mse_loss(self.head(self.backbone(batch[0])), batch[1])

        def configure_optimizers(self) -> dict[str, object]:
            optimizer = torch.optim.SGD(self.head.parameters(), lr=0.1)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": make_scheduler(optimizer), "interval": "step"},
            }

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
    trainer = lightning.Trainer(
        max_epochs=6,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[BackboneFinetuning(unfreeze_backbone_at_epoch=2, lambda_func=lambda epoch: 1.5)],
    )
    with warnings.catch_warnings():  # Lightning's advice (num_workers, ...) is its own
        warnings.simplefilter("ignore")
        trainer.fit(Model(), torch.utils.data.DataLoader(data, batch_size=8))
    return seen


def test_lightning_backbone_finetuning_adds_a_group_that_follows_the_schedule() -> None:
    """The added backbone group and its per-epoch LR changes behave as under torch's MultiStepLR."""
    pytest.importorskip("lightning")
    from torch.optim.lr_scheduler import MultiStepLR

    from bounded_lr_resolver import build_scheduler

    bounds = {"initial_lr": 0.1, "final_lr": 1e-3, "max_steps": 48, "n_updates": 4, "kind": "multistep"}
    ours = _finetuning_lrs(lambda optimizer: build_scheduler(optimizer, **bounds))
    theirs = _finetuning_lrs(lambda optimizer: MultiStepLR(optimizer, milestones(48, 4), gamma(0.1, 1e-3, 4)))
    assert len(ours) == len(theirs) == 48
    assert [len(lrs) for lrs in ours] == [1] * 16 + [2] * 32  # the backbone joins at epoch 2
    for step, (mine, torchs) in enumerate(zip(ours, theirs, strict=True)):
        assert mine == pytest.approx(torchs, rel=1e-12), step


def _fit(lr_scheduler: Any, **trainer_args: Any) -> tuple[list[float], list[warnings.WarningMessage]]:
    """Train a tiny model with a real Trainer; ``lr_scheduler(optimizer, trainer)`` gives Lightning's dict.

    Returns the LR of each batch and the warnings raised while fitting.
    """
    lightning = pytest.importorskip("lightning")
    import torch

    seen: list[float] = []
    model = _recording_model(seen, 0.1, lr_scheduler)
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
    trainer = lightning.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_args,
    )
    with warnings.catch_warnings(record=True) as caught:  # Lightning's advice (num_workers, ...) is its own
        warnings.simplefilter("always")
        trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=8))
    return seen, caught


def _recording_model(seen: list[float], lr: float, lr_scheduler: Any) -> Any:
    """A tiny LightningModule that records the LR of each batch; ``lr_scheduler(optimizer, trainer)``."""
    import lightning
    import torch

    class Model(lightning.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
            seen.append(self.optimizers().param_groups[0]["lr"])
            return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

        def configure_optimizers(self) -> dict[str, object]:
            optimizer = torch.optim.SGD(self.parameters(), lr=lr)
            return {"optimizer": optimizer, "lr_scheduler": lr_scheduler(optimizer, self.trainer)}

    return Model()


def _fit_with_helper(scheduler_for: Any, interval: str, epochs: int = 5) -> list[float]:
    """configure_optimizers uses lightning_scheduler; returns the LR of each batch."""
    from bounded_lr_resolver import lightning_scheduler

    def lr_scheduler(optimizer: Any, trainer: Any) -> dict[str, Any]:
        return lightning_scheduler(scheduler_for(optimizer), optimizer, trainer, interval=interval)

    return _fit(lr_scheduler, max_epochs=epochs)[0]


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_lightning_helper_takes_the_horizon_from_the_trainer(interval: str) -> None:
    """The shipped group's factory gets max_steps = 40 optimizer steps, or 5 epochs."""
    pytest.importorskip("lightning")
    import torch
    from torch.optim.lr_scheduler import MultiStepLR

    from bounded_lr_resolver import build_scheduler

    factory = build_scheduler(initial_lr=0.1, final_lr=1e-3, max_steps=10**6, n_updates=2, kind="multistep")
    seen = _fit_with_helper(lambda optimizer: factory, interval)
    horizon = 40 if interval == "step" else 5
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    oracle = MultiStepLR(optimizer, milestones(horizon, 2), gamma(0.1, 1e-3, 2))
    expected = []
    for _ in range(horizon):
        expected += [optimizer.param_groups[0]["lr"]] * (1 if interval == "step" else 8)
        optimizer.step()
        oracle.step()
    assert len(seen) == 40
    assert seen == pytest.approx(expected, rel=1e-12)


def test_lightning_helper_refuses_a_step_schedule_stepped_per_epoch() -> None:
    """max_steps in optimizer steps with interval='epoch' would never decay; it is an error instead."""
    pytest.importorskip("lightning")
    from bounded_lr_resolver import build_scheduler
    from bounded_lr_resolver.errors import BoundsError

    with pytest.raises(BoundsError) as caught:
        _fit_with_helper(
            lambda optimizer: build_scheduler(
                optimizer, initial_lr=0.1, final_lr=1e-3, max_steps=40, n_updates=2, kind="multistep"
            ),
            "epoch",
        )
    assert str(caught.value) == (
        "lightning_scheduler: max_steps must be the trainer's horizon in epochs, as Lightning steps the "
        "scheduler per epoch, got max_steps=40, horizon=5. Pass the factory (instantiate(cfg.scheduler)) "
        "instead of a built scheduler and it is built with max_steps=5; with interval='epoch' the schedule "
        "counts epochs"
    )


def test_lightning_resume_with_a_larger_max_steps_replans_the_rest(tmp_path: Path) -> None:
    """The README's recipe: ckpt_path resume with trainer.max_steps doubled, through the shipped group.

    The first run (20 steps, 4 decays) is checkpointed at step 10 (2 decays made); resumed with
    max_steps=40, the 2 decays still to come are spread over the 30 steps left, ending at final_lr.
    """
    lightning = pytest.importorskip("lightning")
    import torch
    from hydra import compose, initialize_config_dir

    from bounded_lr_resolver import instantiate_trusted, lightning_scheduler

    (tmp_path / "config.yaml").write_text(
        "defaults:\n  - bounded_lr@scheduler: multistep\n  - _self_\n"
        "scheduler:\n  final_lr: 1e-3\n  n_updates: 4\n  on_resume_change: replan\n"
    )
    with initialize_config_dir(str(tmp_path), **({} if HYDRA_14 else {"version_base": "1.3"})):
        cfg = compose("config")
    seen: list[float] = []

    def lr_scheduler(optimizer: Any, trainer: Any) -> dict[str, Any]:
        return lightning_scheduler(instantiate_trusted(cfg.scheduler), optimizer, trainer)

    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))

    def fit(max_steps: int, ckpt_path: str | None = None, every: int | None = None) -> None:
        callbacks = []
        if every:
            callbacks.append(
                lightning.pytorch.callbacks.ModelCheckpoint(
                    dirpath=tmp_path / "ckpt", every_n_train_steps=every, save_top_k=-1
                )
            )
        trainer = lightning.Trainer(
            accelerator="cpu",
            max_steps=max_steps,
            logger=False,
            enable_checkpointing=bool(every),
            callbacks=callbacks,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Lightning's advice (num_workers, ...) is its own
            trainer.fit(
                _recording_model(seen, cfg.scheduler.initial_lr, lr_scheduler),
                torch.utils.data.DataLoader(data, batch_size=8),
                ckpt_path=ckpt_path,
            )

    fit(20, every=10)
    first = list(seen)
    [checkpoint] = [path for path in (tmp_path / "ckpt").iterdir() if "step=10" in path.name]
    seen.clear()
    fit(40, ckpt_path=str(checkpoint))
    assert len(seen) == 30  # steps 10..39
    assert seen[0] == first[10]  # continuous: the LR the checkpoint was training at
    assert first[:10] == [0.1] * 5 + [first[5]] * 5  # history: one decay at step 5 ...
    assert first[10] < first[5]  # ... and the second at step 10
    changes = [10 + t for t in range(1, 30) if seen[t] < seen[t - 1]]
    assert changes == [25]  # the 2 remaining decays over the 30 steps left: at 25 and 40
    assert seen[-1] == pytest.approx(first[10] * (1e-3 / first[10]) ** 0.5, rel=1e-12)
