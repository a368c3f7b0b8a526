"""Bounds known only at run time: the shipped options instantiate to a factory that re-derives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from torch.optim.lr_scheduler import MultiStepLR, StepLR

from bounded_lr_resolver import BoundedLR, build_scheduler, instantiate_trusted
from bounded_lr_resolver.bounds import gamma, milestones
from tests.conftest import HYDRA_14


def shipped(tmp_path: Path, option: str, *overrides: str) -> DictConfig:
    (tmp_path / "config.yaml").write_text(f"defaults:\n  - bounded_lr@scheduler: {option}\n  - _self_\n")
    with initialize_config_dir(str(tmp_path), **({} if HYDRA_14 else {"version_base": "1.3"})):
        return compose("config", overrides=list(overrides))


def sgd(lr: float = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def trace(
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int
) -> list[float]:
    out = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        out.append(optimizer.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize(
    ("option", "oracle"),
    [
        pytest.param(
            "multistep", lambda o: MultiStepLR(o, milestones(246, 4), gamma(0.1, 1e-4, 4)), id="multistep"
        ),
        pytest.param("step", lambda o: StepLR(o, 248 // 4, gamma(0.1, 1e-4, 4)), id="step"),
    ],
)
def test_max_steps_at_call_time_rederives_everything(tmp_path: Path, option: str, oracle: object) -> None:
    """Lightning knows max_steps only at run time (trainer.estimated_stepping_batches)."""
    horizon = 246 if option == "multistep" else 248  # the config's own 10**6 steps stay valid
    cfg = shipped(tmp_path, option, "scheduler.n_updates=4")
    factory = instantiate_trusted(cfg.scheduler)
    assert callable(factory)  # a functools.partial (Hydra may wrap it in its own deferred target)
    optimizer = sgd()
    scheduler = factory(optimizer=optimizer, max_steps=horizon)
    assert isinstance(scheduler, BoundedLR)
    torch_optimizer = sgd()
    expected = trace(torch_optimizer, oracle(torch_optimizer), horizon)  # type: ignore[operator]
    got = trace(optimizer, scheduler, horizon)
    assert got == pytest.approx(expected, rel=1e-12)
    assert got[-1] == 1e-4


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param(
            "scheduler.gamma=0.5",
            "build_scheduler: gamma must be the gamma derived from the bounds (or left out), got gamma=0.5, "
            "derived gamma=0.9993094630025899. Change initial_lr, final_lr or n_updates instead of gamma",
            id="gamma",
        ),
        pytest.param(
            "scheduler.step_size=7",
            "build_scheduler: step_size must be the step size derived from the bounds (or left out), got "
            "step_size=7, derived step_size=100. Change max_steps, n_updates or warmup_steps instead of "
            "step_size",
            id="step-size",
        ),
    ],
)
def test_hand_edited_derived_key_is_still_caught(tmp_path: Path, override: str, message: str) -> None:
    cfg = shipped(tmp_path, "step", override)
    with pytest.raises(
        Exception, match="build_scheduler"
    ) as caught:  # Hydra wraps it in InstantiationException
        instantiate_trusted(cfg.scheduler)(optimizer=sgd(), max_steps=250)
    assert message in str(caught.value)


def test_hand_edited_milestones_are_caught(tmp_path: Path) -> None:
    cfg = shipped(
        tmp_path,
        "multistep",
        "scheduler.max_steps=12",
        "scheduler.n_updates=3",
        "scheduler.milestones=[3,6,9]",
    )
    with pytest.raises(Exception, match="build_scheduler") as caught:  # wrapped by Hydra's instantiate
        instantiate_trusted(cfg.scheduler)
    assert (
        "build_scheduler: milestones must be the milestones derived from the bounds (or left out), "
        "got milestones=[3, 6, 9], derived=[4, 8, 12]"
    ) in str(caught.value)


def test_factory_without_max_steps_waits_for_the_call() -> None:
    factory = build_scheduler(initial_lr=0.1, final_lr=1e-4, max_steps=None, n_updates=2, kind="multistep")
    scheduler = factory(optimizer=sgd(), max_steps=10)
    assert scheduler.schedules[0].milestones() == [5, 10]
