"""Bounds known only at run time: the shipped options instantiate to a factory that re-derives."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from torch.optim.lr_scheduler import MultiStepLR, StepLR

from bounded_lr_resolver import BoundedLR, build_scheduler, instantiate_trusted
from bounded_lr_resolver.bounds import gamma, milestones
from bounded_lr_resolver.errors import BoundsError
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


def test_the_shipped_multistep_holds_no_milestone_list(tmp_path: Path) -> None:
    """A config is a declaration: the 10**4 milestones are derived in code, never expanded into the node
    (a typed list of them made hydra-core 1.4 sweeps 21x slower); a hand-added list is refused by name."""
    cfg = shipped(tmp_path, "multistep")
    assert "milestones" not in cfg.scheduler
    assert instantiate_trusted(cfg.scheduler)(optimizer=sgd()).schedules[0].milestones()[:3] == [
        100,
        200,
        300,
    ]
    with pytest.raises(Exception, match="milestones") as caught:  # not a key of the schema
        shipped(tmp_path, "multistep", "scheduler.milestones=[3,6,9]")
    assert "scheduler.milestones" in str(caught.value)
    added = shipped(
        tmp_path,
        "multistep",
        "scheduler.max_steps=12",
        "scheduler.n_updates=3",
        "+scheduler.milestones=[3,6,9]",
    )
    with pytest.raises(
        Exception, match="build_scheduler"
    ) as caught:  # added by hand: checked, never used as is
        instantiate_trusted(added.scheduler)
    assert (
        "milestones must be the milestones derived from the bounds (or left out), got milestones=[3, 6, 9]"
        in str(caught.value)
    )


def test_milestones_given_to_the_factory_are_checked() -> None:
    bounds = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3, "kind": "multistep"}
    with pytest.raises(BoundsError) as caught:
        build_scheduler(sgd(), **bounds, milestones=[3, 6, 9])
    assert str(caught.value) == (
        "build_scheduler: milestones must be the milestones derived from the bounds (or left out), "
        "got milestones=[3, 6, 9], derived=[4, 8, 12]. Change max_steps, n_updates or warmup_steps "
        "instead of "
        "milestones"
    )


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"gamma": 0.5}, id="gamma"),
        pytest.param({"gamma": 0.5, "step_size": 70}, id="gamma-and-step-size"),
        pytest.param({"step_size": 70}, id="step-size"),
    ],
)
def test_a_derived_key_given_at_call_time_is_checked_whatever_else_is_given(extra: dict[str, object]) -> None:
    """The adversary's case: ``make(optimizer=o, max_steps=500, gamma=0.5, step_size=70)`` was accepted and
    decayed at steps 50 and 100 by 0.5012. A key given in the call is checked against the call's bounds."""
    make = build_scheduler(initial_lr=0.1, final_lr=1e-4, max_steps=1000, n_updates=10, kind="step")
    with pytest.raises(BoundsError) as caught:
        make(optimizer=sgd(), max_steps=500, **extra)
    name = next(iter(extra))
    assert str(caught.value).startswith(f"build_scheduler: {name} must be the ")
    scheduler = make(optimizer=sgd(), max_steps=500)  # the config's own derived keys re-derive
    assert scheduler.schedules[0].step_size == 50


def test_factory_without_max_steps_waits_for_the_call() -> None:
    factory = build_scheduler(initial_lr=0.1, final_lr=1e-4, max_steps=None, n_updates=2, kind="multistep")
    scheduler = factory(optimizer=sgd(), max_steps=10)
    assert scheduler.schedules[0].milestones() == [5, 10]


LR_RULE = (
    "build_scheduler: initial_lr must be the optimizer's (largest param group's) lr, got initial_lr=0.1, "
    "optimizer lrs=[0.05]. Build the optimizer with {source}, or give per-group lists: initial_lr=[...], "
    "final_lr=[...]"
)
OWN_PARTIAL = """\
_target_: bounded_lr_resolver.build_scheduler
_partial_: true
initial_lr: 0.1
final_lr: 1e-4
max_steps: 100
n_updates: 4
kind: multistep
"""


def composed(tmp_path: Path, defaults: str, files: dict[str, str] | None = None) -> DictConfig:
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "config.yaml").write_text(f"defaults:\n{defaults}  - _self_\n")
    with initialize_config_dir(str(tmp_path), **({} if HYDRA_14 else {"version_base": "1.3"})):
        return compose("config")


@pytest.mark.parametrize(
    ("defaults", "key"),
    [
        pytest.param("  - bounded_lr@scheduler: step\n", "scheduler", id="shipped-at-scheduler"),
        pytest.param("  - bounded_lr@model.scheduler: step\n", "model.scheduler", id="shipped-nested"),
        pytest.param("  - sched@model.lr_schedule: mine\n", "model.lr_schedule", id="own-partial-nested"),
    ],
)
def test_the_optimizer_lr_hint_names_the_nodes_real_key(tmp_path: Path, defaults: str, key: str) -> None:
    """The hint said ``${scheduler.initial_lr}`` wherever the node sat; the key is the one Hydra
    instantiated (remembered by the shipped partial) or the one of the Hydra partial being called."""
    cfg = composed(tmp_path, defaults, {"sched/mine.yaml": OWN_PARTIAL})
    make = instantiate_trusted(OmegaConf.select(cfg, key))
    with pytest.raises(BoundsError) as caught:
        make(optimizer=sgd(0.05))
    assert str(caught.value) == LR_RULE.format(source=f"lr=${{{key}.initial_lr}}")
    assert make(optimizer=sgd(0.1)).schedules[0].initial_lr == 0.1  # the right lr builds


def test_a_direct_call_has_no_config_key_to_name() -> None:
    from bounded_lr_resolver import _compat

    assert _compat.hydra_node_key() is None
    with pytest.raises(BoundsError) as caught:
        build_scheduler(sgd(0.05), initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=4)
    source = "lr=initial_lr (in a config, lr: ${<the scheduler node's key>.initial_lr})"
    assert str(caught.value) == LR_RULE.format(source=source)


class Holder:
    """A user's target that builds the factory itself (Hydra instantiates it at ``model``)."""

    def __init__(self) -> None:
        self.make = build_scheduler(initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=4)


def test_a_factory_built_inside_another_target_names_no_wrong_key() -> None:
    """Hydra is instantiating ``model``, but the factory is not that node: no ``${model.initial_lr}``."""
    cfg = OmegaConf.create({"model": {"_target_": f"{__name__}.Holder"}})
    holder = instantiate_trusted(cfg.model, allow=[f"{__name__}.Holder"])
    with pytest.raises(BoundsError) as caught:
        holder.make(optimizer=sgd(0.05))
    source = "lr=initial_lr (in a config, lr: ${<the scheduler node's key>.initial_lr})"
    assert str(caught.value) == LR_RULE.format(source=source)


@pytest.mark.parametrize("option", ["step", "cosine"])
def test_instantiate_returns_hydras_own_partial(tmp_path: Path, option: str) -> None:
    """The README said a plain ``functools.partial``: on hydra-core 1.3.8 and 1.4 alike it is Hydra's
    own subclass of it (which checks each call against Hydra's target policy), called the same way."""
    make = instantiate_trusted(shipped(tmp_path, option).scheduler)
    assert isinstance(make, functools.partial)
    assert type(make) is not functools.partial
    assert type(make).__module__.startswith("hydra.")
    assert make.func is build_scheduler
    scheduler = make(optimizer=sgd())
    assert isinstance(scheduler, BoundedLR)
    assert scheduler.schedules[0].kind == option
