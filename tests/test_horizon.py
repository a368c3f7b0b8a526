"""The horizon in the units users think in: durations, a horizon set at run time, and what the preflight says.

Oracles: the steps the issue names, and each rounding worked out by hand in the tables.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from bounded_lr_resolver import build_scheduler
from bounded_lr_resolver.errors import BoundsError
from bounded_lr_resolver.options import COMMON, OPTIONS
from tests.conftest import MAIN_KWARGS, run


def _sgd(lr: float = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_epochs_and_fractions_give_exact_steps() -> None:
    """The issue's example: 3 epochs of 100 steps, a tenth of it warming up."""
    scheduler = build_scheduler(
        _sgd(), initial_lr=0.1, final_lr=1e-4, max_steps="3ep", steps_per_epoch=100, warmup_steps="0.1dur",
        kind="cosine",
    )  # fmt: skip
    schedule = scheduler.schedules[0]
    assert (schedule.max_steps, schedule.warmup_steps) == (300, 30)
    assert schedule.given == {"max_steps": "3ep", "warmup_steps": "0.1dur"}
    assert scheduler.lrs_at(30) == [0.1]


def test_a_fraction_that_is_no_whole_step_is_refused_naming_the_field_and_what_works() -> None:
    with pytest.raises(BoundsError) as caught:
        build_scheduler(
            None, initial_lr=0.1, final_lr=1e-4, max_steps=300, warmup_steps="0.333dur", kind="cosine"
        )
    assert str(caught.value) == (
        "build_scheduler: warmup_steps must be a whole number of steps, got warmup_steps='0.333dur', "
        "max_steps=300, steps=99.9. Use 99 steps (0.33dur) or 100 steps"
    )


def _shipped(name: str) -> Any:
    kind, _, declared = OPTIONS[name]
    return build_scheduler(None, **{**COMMON, "kind": kind, **declared})


@pytest.mark.parametrize(
    ("option", "horizon", "lengths"),
    [
        # 0.01 * 4321 = 43.21 -> 43 warmup; the cosine is the rest
        pytest.param("cosine_to_zero", 4321, [43, 4278], id="cosine-warmup-0.01dur"),
        # 43.21 -> 43, 0.79 * 4321 = 3413.59 -> 3413, 0.2 * 4321 = 864.2 -> 864 + the 1 step left
        pytest.param("phases", 4321, [43, 3413, 865], id="phases-last-takes-the-rest"),
        # 0.24 -> no warmup; 0.2 * 24 = 4.8 -> 4 steps of cooldown after a hold of 20
        pytest.param("wsd_sqrt_to_zero", 24, [20, 4], id="wsd-tiny"),
    ],
)
def test_durations_of_a_run_time_horizon_are_rounded_down_and_add_up(
    option: str, horizon: int, lengths: list[int]
) -> None:
    """The shipped compositions' fractions, against a horizon the trainer gives: each rounded down,
    the last duration taking up the rest, so the phases still end exactly at the horizon."""
    scheduler = _shipped(option)(optimizer=_sgd(), max_steps=horizon)
    schedule = scheduler.schedules[0]
    assert schedule.at_run_time == ("max_steps",)
    assert [part.phase.steps for part in schedule.plan.parts] == lengths
    assert schedule.plan.total == horizon


def test_the_same_fraction_of_a_declared_horizon_stays_exact() -> None:
    """Rounding is for a horizon nobody could choose; a declared one must divide."""
    with pytest.raises(BoundsError) as caught:
        build_scheduler(
            _sgd(), initial_lr=0.1, final_lr=0.0, max_steps=4321, warmup_steps="0.01dur", kind="cosine"
        )
    assert "warmup_steps must be a whole number of steps" in str(caught.value)


def test_the_summary_shows_each_length_as_steps_and_as_given() -> None:
    from bounded_lr_resolver.preview import preview
    from bounded_lr_resolver.report import check_bounds, summary
    from bounded_lr_resolver.schedule import Schedule

    kind, _, declared = OPTIONS["wsd_sqrt_to_zero"]
    schedule = Schedule(**{**COMMON, "kind": kind, **declared})
    view = preview(schedule)
    text = summary(view, check_bounds(view), "-")
    assert "over 1000000 steps after 10000 (0.01dur) warmup steps" in text
    assert "  decay        steps 800000..1000000 (200000 = 0.2dur): sqrt 0.1 -> 0.0" in text
    kind, _, declared = OPTIONS["phases"]
    view = preview(Schedule(**{**COMMON, "kind": kind, **declared}))
    text = summary(view, check_bounds(view), "-")
    assert "  phases[0]    steps 10000..800000 (790000 = 0.79dur): constant at 0.1" in text


def test_expected_max_steps_checks_a_horizon_left_to_run_time() -> None:
    with pytest.raises(BoundsError) as caught:
        build_scheduler(
            None, initial_lr=0.1, final_lr=0.0, kind="cosine", warmup_steps=100, expected_max_steps=24
        )
    assert str(caught.value) == (
        "build_scheduler: warmup_steps must be in [0, max_steps), got warmup_steps=100, max_steps=24. Warmup "
        "must leave steps for the decay (max_steps is set at run time: checked against expected_max_steps)"
    )


PREFLIGHT_APP = """\
import hydra
import bounded_lr_resolver

bounded_lr_resolver.trust_our_callbacks()


@hydra.main(config_path=".", config_name="config"{KWARGS})
def main(cfg):
    print("ran", cfg.scheduler.warmup_steps)


main()
"""

PREFLIGHT_CONFIG = """\
defaults:
  - bounded_lr@scheduler: cosine_to_zero
  - _self_
scheduler:
  max_steps: null
  warmup_steps: 100
hydra:
  callbacks:
    preflight: {_target_: bounded_lr_resolver.callbacks.SweepPreflight}
"""


@pytest.mark.slow
def test_the_preflight_says_what_only_run_time_can_check_and_checks_what_it_can(tmp_path: Path) -> None:
    """Never a silent pass: without expected_max_steps each job is listed as not checked (and runs);
    with it, a warmup longer than the run stops the sweep before any job starts."""
    (tmp_path / "config.yaml").write_text(PREFLIGHT_CONFIG)
    (tmp_path / "app.py").write_text(PREFLIGHT_APP.replace("{KWARGS}", MAIN_KWARGS))
    args = [
        sys.executable,
        "app.py",
        "-m",
        "scheduler.final_lr=0.0,1e-3",
        f"hydra.sweep.dir={tmp_path / 's'}",
    ]
    done = run(args, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ran 100") == 2
    assert "SweepPreflight: 2 of 2 jobs could not be checked in full" in done.stderr
    assert (
        done.stderr.count(
            "scheduler: max_steps set at run time, not checked (declare scheduler.expected_max_steps to "
            "check the horizon)"
        )
        == 2
    )
    refused = run(
        [*args[:-1], "+scheduler.expected_max_steps=24", f"hydra.sweep.dir={tmp_path / 'r'}"],
        cwd=tmp_path,
        check=False,
    )
    assert refused.returncode == 1
    assert "SweepPreflight: 2 of 2 jobs are bad; nothing was launched." in refused.stderr
    assert "warmup_steps must be in [0, max_steps), got warmup_steps=100, max_steps=24" in refused.stderr
    assert not (tmp_path / "r").exists()


def test_a_zero_duration_is_a_length_like_any_other() -> None:
    """'0dur' of a run-time horizon is no warmup; the phases' fractions still add up exactly."""
    from bounded_lr_resolver.schedule import Schedule

    phases = [{"shape": "constant", "steps": "0.5dur"}, {"shape": "linear", "steps": "0.5dur", "end_lr": 0.0}]
    s = Schedule(
        0.1, kind="phases", max_steps=101, warmup_steps="0dur", phases=phases, at_run_time=("max_steps",)
    )
    assert [part.phase.steps for part in s.plan.parts] == [50, 51]


def test_a_record_that_cannot_be_read_back_is_left_as_it_was() -> None:
    """resolved_config.yaml with a value plain YAML cannot load (OmegaConf writes a pathlib.Path as a
    python tag): the scheduler is still built, the file is not rewritten (scheduler.json says what ran)."""
    from pathlib import Path as P

    from omegaconf import OmegaConf

    from bounded_lr_resolver.built import _updated
    from bounded_lr_resolver.schedule import Schedule

    text = OmegaConf.to_yaml({"data": P("/tmp/x"), "scheduler": {"kind": "cosine", "max_steps": None}})
    assert "!!python" in text
    schedule = Schedule(0.1, final_lr=0.0, kind="cosine", max_steps=24, at_run_time=("max_steps",))
    assert _updated(text, schedule, {"kind": "cosine", "max_steps": None}, ["max_steps"]) is None
