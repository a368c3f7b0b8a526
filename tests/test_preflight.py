"""SweepPreflight: every job of a sweep is composed and checked before any of them starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run, run_app, write_app
from tests.test_main_job import BOUNDED_LR

CONFIG = """\
defaults:
  - bounded_lr@scheduler: multistep
  - _self_
scheduler:
  max_steps: 99
  n_updates: 3
hydra:
  callbacks:
    preflight:
      _target_: bounded_lr_resolver.callbacks.SweepPreflight
    report:
      _target_: bounded_lr_resolver.callbacks.SweepReport
"""

TRUST = "import bounded_lr_resolver\nbounded_lr_resolver.trust_our_callbacks()\n\n@hydra.main"


def app(tmp_path: Path) -> Path:
    made = write_app(tmp_path, "print('JOB RAN', cfg.scheduler.final_lr)", {"config.yaml": CONFIG})
    made.write_text(made.read_text().replace("@hydra.main", TRUST, 1))
    return made


@pytest.mark.slow
def test_a_bad_job_stops_the_sweep_before_anything_runs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", f"hydra.sweep.dir={sweep}", "scheduler.final_lr=1e-3,0.5,1e-5", "scheduler.n_updates=3,200"]
    result = run_app(app(tmp_path), *args, check=False)
    assert result.returncode == 1
    assert "JOB RAN" not in result.stdout
    assert not sweep.exists()  # no job folder, no sweep record: nothing was launched
    lines = result.stderr.splitlines()
    assert "SweepPreflight: 4 of 6 jobs are bad; nothing was launched." in lines
    assert (
        "      2  scheduler.final_lr=0.5 scheduler.n_updates=3 | blr.derived (gamma): final_lr must be in "
        "(0, initial_lr], got final_lr=0.5, initial_lr=0.1. A bounded decay ends at or below where it "
        "starts; were the two swapped?"
    ) in lines
    assert any(
        line.startswith(
            "      1  scheduler.final_lr=0.001 scheduler.n_updates=200 | blr.derived (gamma): n_updates "
            "must be "
            "<= max_steps"
        )
        for line in lines
    ), lines


@pytest.mark.slow
def test_a_good_sweep_runs_as_before(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = run_app(app(tmp_path), "-m", f"hydra.sweep.dir={sweep}", "scheduler.final_lr=1e-3,1e-5")
    assert result.stdout.count("JOB RAN") == 2
    assert (sweep / "sweep_report.csv").is_file()


@pytest.mark.slow
def test_the_main_job_checks_its_sweeps(tmp_path: Path) -> None:
    args = [
        BOUNDED_LR,
        "-m",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "scheduler.final_lr=1e-3,0.2",
        "plot=false",
    ]
    result = run(args, cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "SweepPreflight: 1 of 2 jobs are bad; nothing was launched." in result.stderr
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_a_hundred_job_logspace_sweep_is_checked_from_one_compose(tmp_path: Path) -> None:
    """The README's log-spaced sweep: +i over range(100); the jobs above initial_lr are bad, exactly them."""
    sweep = tmp_path / "sweep"
    made = app(tmp_path)
    config = made.parent / "conf" / "config.yaml"
    config.write_text(config.read_text() + "i: 0\n" + "scheduler_final: ${blr.logspace:1e-6,0.5,100,${i}}\n")
    config.write_text(
        config.read_text().replace("  n_updates: 3\n", "  n_updates: 3\n  final_lr: ${scheduler_final}\n")
    )
    result = run_app(made, "-m", f"hydra.sweep.dir={sweep}", "i=range(100)", check=False)
    assert result.returncode == 1
    assert not sweep.exists()
    lines = result.stderr.splitlines()
    assert "SweepPreflight: 13 of 100 jobs are bad; nothing was launched." in lines
    bad = [
        line.split()[0]
        for line in lines
        if "| blr.derived (gamma): final_lr must be in (0, initial_lr]" in line
    ]
    assert bad == [str(i) for i in range(87, 100)]  # 10**(-6 + 5.699 * i / 99) > 0.1 from i = 87 on


@pytest.mark.slow
def test_group_choices_and_values_mixed(tmp_path: Path) -> None:
    """A config group switch composes each option once; the values are checked on each."""
    sweep = tmp_path / "sweep"
    args = [
        "-m",
        f"hydra.sweep.dir={sweep}",
        "bounded_lr@scheduler=step,multistep",
        "scheduler.final_lr=1e-3,0.5",
    ]
    result = run_app(app(tmp_path), *args, check=False)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert "SweepPreflight: 2 of 4 jobs are bad; nothing was launched." in lines
    assert [line.split()[0] for line in lines if "final_lr=0.5" in line and "|" in line] == ["1", "3"]
    good = run_app(app(tmp_path), "-m", f"hydra.sweep.dir={sweep}", "bounded_lr@scheduler=step,multistep")
    assert good.stdout.count("JOB RAN") == 2


@pytest.mark.usefixtures("registered")
def test_a_blr_value_outside_any_scheduler_node_is_checked_too() -> None:
    """A user's own key with one of our namespaced resolvers is resolved by the preflight like lr_*."""
    from omegaconf import OmegaConf

    from bounded_lr_resolver.preflight import check_job_config

    check_job_config(OmegaConf.create({"values": "${blr.values:0.1,1e-4,3}", "plain": 1}))
    with pytest.raises(Exception, match=r"blr\.values: final_lr must be in \(0, initial_lr\]") as caught:
        check_job_config(OmegaConf.create({"values": "${blr.values:0.1,0.5,3}"}))
    assert "BoundsError" in str(caught.value)


@pytest.mark.slow
def test_a_glob_sweep_over_the_options_is_checked_and_runs(tmp_path: Path) -> None:
    """``glob()`` needs Hydra's config loader to list a group's options: the preflight uses it, so every
    sweep Hydra's basic sweeper accepts passes (it once stopped with 'requires --multirun')."""
    sweep = tmp_path / "sweep"
    args = [
        BOUNDED_LR,
        "-m",
        f"hydra.sweep.dir={sweep}",
        "scheduler=glob(linear*)",
        "scheduler.max_steps=1000",
    ]
    result = run([*args, "plot=false"], cwd=tmp_path)
    assert result.stdout.count("bounds       HOLD") == 2  # linear and linear_to_zero
    bad = run([*args, "scheduler.final_lr=0.5", "plot=false"], cwd=tmp_path, check=False)
    assert bad.returncode == 1
    assert "SweepPreflight: 2 of 2 jobs are bad; nothing was launched." in bad.stderr


@pytest.mark.slow
def test_the_table_shows_only_what_tells_the_jobs_apart(tmp_path: Path) -> None:
    """Overrides every job shares (a template's experiment, paths) were repeated on every row, so the
    error started hundreds of characters in; only the swept ones are shown."""
    sweep = tmp_path / "sweep"
    shared = ["scheduler.max_steps=99", "+run_note=a-long-note-every-job-carries", "scheduler.warmup_steps=0"]
    result = run_app(
        app(tmp_path), "-m", f"hydra.sweep.dir={sweep}", *shared, "scheduler.final_lr=1e-3,0.5", check=False
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert "    job  swept overrides | error" in lines
    assert (
        "      1  scheduler.final_lr=0.5 | blr.derived (gamma): final_lr must be in (0, initial_lr], got "
        "final_lr=0.5, initial_lr=0.1. A bounded decay ends at or below where it starts; were the two "
        "swapped?"
    ) in lines


@pytest.mark.parametrize(
    ("jobs", "common"),
    [
        pytest.param([["a=1", "b=1"], ["a=1", "b=2"]], {"a=1"}, id="one-swept"),
        pytest.param([["a=1"]], {"a=1"}, id="one-job"),
        pytest.param([], set(), id="none"),
        pytest.param([["a=1", "b=1"], ["a=2", "b=2"]], set(), id="all-swept"),
    ],
)
def test_shared_overrides(jobs: list[list[str]], common: set[str]) -> None:
    from bounded_lr_resolver.preflight import shared

    assert shared(jobs) == common


@pytest.mark.slow
def test_the_main_jobs_own_keys_are_checked_before_its_sweep_launches(tmp_path: Path) -> None:
    args = [
        BOUNDED_LR,
        "-m",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "optimizer.lr=0.1,abc",
        "task.name=preview,x",
    ]
    result = run(args, cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert not (tmp_path / "sweep").exists()
    lines = result.stderr.splitlines()
    assert "SweepPreflight: 3 of 4 jobs are bad; nothing was launched." in lines
    task = "task.name must be 'preview', the option chosen with task=preview, got task.name='x'. Choose"
    task += " the task with task=preview or task=train"
    lr = "optimizer.lr must be a number (int or float), got optimizer.lr='abc' (str). Write the number"
    lr += " without quotes, e.g. 1e-4"
    assert f"      1  optimizer.lr=0.1 task.name=x | bounded-lr: {task}" in lines
    assert f"      2  optimizer.lr=abc task.name=preview | bounded-lr: {lr}" in lines
