"""The sweep report describes exactly this sweep: re-runs, failures and a second sweep into one folder."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_app, write_app

CALLBACKS = """\
defaults:
  - bounded_lr@scheduler: multistep
  - _self_
scheduler:
  max_steps: 100
  n_updates: 3
hydra:
  callbacks:
    sweep_report:
      _target_: bounded_lr_resolver.callbacks.SweepReport
"""

# a user's task: fails for one final_lr, writes its loss only for the larger ones
TASK = """\
import json
from hydra.core.hydra_config import HydraConfig
if cfg.scheduler.final_lr == 1e-4:
    raise RuntimeError("boom")
if cfg.scheduler.final_lr > 1e-3:
    out = HydraConfig.get().runtime.output_dir
    open(out + "/result.json", "w").write(json.dumps({"final_loss": cfg.scheduler.final_lr * 10}))
"""


def app(tmp_path: Path) -> Path:
    made = write_app(tmp_path, TASK, {"config.yaml": CALLBACKS})
    made.write_text(
        made.read_text().replace(
            "@hydra.main",
            "import bounded_lr_resolver\nbounded_lr_resolver.trust_our_callbacks()\n\n@hydra.main",
            1,
        )
    )
    return made


def report(sweep: Path) -> dict[str, dict[str, str]]:
    with (sweep / "sweep_report.csv").open() as stream:
        return {row["job"]: row for row in csv.DictReader(stream)}


def test_rerun_into_the_same_folder_reports_only_this_sweep(tmp_path: Path) -> None:
    made, sweep = app(tmp_path), tmp_path / "sweep"
    run_app(made, "-m", f"hydra.sweep.dir={sweep}", "scheduler.final_lr=1e-2,5e-3,2e-3")
    assert [row["final_loss"] for row in report(sweep).values()] == ["0.1", "0.05", "0.02"]
    # the README's own commands re-run into one folder: fewer jobs, and job 1 writes no loss now
    run_app(made, "-m", f"hydra.sweep.dir={sweep}", "scheduler.final_lr=5e-3,5e-4")
    rows = report(sweep)
    assert list(rows) == ["0", "1"]  # job 2 of the earlier sweep is not this sweep's
    assert rows["0"]["final_loss"] == "0.05"
    assert rows["1"]["final_loss"] == ""  # not the earlier sweep's 0.05
    assert rows["1"]["problem"] == "result.json: older than this job (left by an earlier run), ignored"
    assert [row["status"] for row in rows.values()] == ["COMPLETED", "COMPLETED"]


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_failed_job_is_reported_failed_and_the_others_still_get_a_report(
    tmp_path: Path, launcher: str
) -> None:
    made, sweep = app(tmp_path), tmp_path / "sweep"
    args = [
        "-m",
        f"hydra.sweep.dir={sweep}",
        f"hydra/launcher={launcher}",
        "scheduler.final_lr=1e-2,1e-4,5e-3",
    ]
    if launcher == "joblib":
        args.append("hydra.launcher.n_jobs=2")
    result = run_app(made, *args, check=False)
    assert result.returncode != 0  # the sweep itself still fails, as Hydra decides
    rows = report(sweep)
    assert {job: row["status"] for job, row in rows.items()} == {
        "0": "COMPLETED",
        "1": "FAILED",
        "2": "COMPLETED",
    }
    assert rows["1"]["error"] == "RuntimeError: boom"
    assert rows["0"]["final_loss"] == "0.1"
    assert (sweep / "sweep_report.png").read_bytes().startswith(b"\x89PNG")  # the ones that ran, plotted
    assert "| 1 | scheduler.final_lr=0.0001 |" in (sweep / "sweep_report.md").read_text()


def test_a_second_sweep_into_the_same_folder_is_called_out(tmp_path: Path) -> None:
    """A live sweep (here: this test's own process) is recorded in the folder; a new one says so."""
    made, sweep = app(tmp_path), tmp_path / "sweep"
    sweep.mkdir()
    import socket

    other = {
        "id": "f" * 32,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": "now",
        "ended": None,
    }
    (sweep / ".bounded_lr_sweep.json").write_text(json.dumps(other))
    result = run_app(made, "-m", f"hydra.sweep.dir={sweep}", "scheduler.final_lr=1e-2", check=False)
    assert result.returncode == 0
    assert (
        f"SweepReport: another sweep (pid {os.getpid()}, started now) is writing into {sweep} right now"
        in result.stdout + result.stderr
    )
    assert list(report(sweep)) == ["0"]


def test_a_sweep_over_the_shapes_is_reported_with_their_parameters(tmp_path: Path) -> None:
    """Every kind in one sweep (switching the shipped option): each row names its kind and shape."""
    config = CALLBACKS.replace("  n_updates: 3\n", "")  # a shape has no n_updates: its schema refuses one
    made = write_app(tmp_path, TASK, {"config.yaml": config})
    made.write_text(
        made.read_text().replace(
            "@hydra.main",
            "import bounded_lr_resolver\nbounded_lr_resolver.trust_our_callbacks()\n\n@hydra.main",
            1,
        )
    )
    sweep = tmp_path / "shapes"
    result = run_app(
        made,
        "-m",
        f"hydra.sweep.dir={sweep}",
        "bounded_lr@scheduler=cosine,polynomial,multistep",
        "scheduler.max_steps=1000000",
        "scheduler.final_lr=1e-2",
    )
    assert result.returncode == 0
    rows = report(sweep)
    assert [(row["kind"], row["shape"], row["n_updates"], row["status"]) for row in rows.values()] == [
        ("cosine", "", "", "COMPLETED"),
        ("polynomial", "power=1.0", "", "COMPLETED"),
        ("multistep", "", "10000", "COMPLETED"),
    ]
    assert rows["0"]["gamma"] == ""
    assert float(rows["2"]["gamma"]) == pytest.approx(0.1 ** (1 / 10000), rel=1e-15)
