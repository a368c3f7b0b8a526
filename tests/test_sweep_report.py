"""The sweep report describes exactly this sweep: re-runs, failures and a second sweep into one folder."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from tests.conftest import run, run_app, write_app

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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_report_file_that_cannot_be_written_fails_the_main_job(tmp_path: Path) -> None:
    """A directory named sweep_report.md in the way: exit 1 naming it; the other files are written."""
    from tests.test_main_job import BOUNDED_LR

    sweep = tmp_path / "sweep"
    (sweep / "sweep_report.md").mkdir(parents=True)
    args = [BOUNDED_LR, "-m", f"hydra.sweep.dir={sweep}", "scheduler.final_lr=1e-3,1e-4"]
    result = run(args, cwd=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert result.stderr.endswith(
        f"Error: bounded-lr: could not write {sweep / 'sweep_report.md'}: Is a directory "
        "(a previous file is intact)\n"
    )
    assert "warn" not in output.lower()  # not Hydra's callback warning: our error
    assert len(report(sweep)) == 2
    assert (sweep / "sweep_report.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_a_report_file_that_cannot_be_written_is_named_in_a_users_log(tmp_path: Path) -> None:
    made, sweep = app(tmp_path), tmp_path / "sweep"
    (sweep / "sweep_report.md").mkdir(parents=True)
    result = run_app(made, "-m", f"hydra.sweep.dir={sweep}", "scheduler.final_lr=1e-2,5e-3")  # no warning
    lines = (result.stdout + result.stderr).splitlines()
    failed = f"][ERROR] - SweepReport: could not write {sweep / 'sweep_report.md'}: Is a directory"
    assert [line for line in lines if "could not write" in line and not line.endswith(failed)] == []
    assert len([line for line in lines if line.endswith(failed)]) == 1  # logged once, not per rebuild
    assert lines[-1].endswith(f"SweepReport: the report in {sweep} is missing sweep_report.md")
    assert list(report(sweep)) == ["0", "1"]
    assert (sweep / "sweep_report.png").read_bytes().startswith(b"\x89PNG")


def test_the_sweep_id_stays_out_of_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Launcher workers get the id from the pickled callback; a process a job starts inherits nothing."""
    from omegaconf import OmegaConf

    from bounded_lr_resolver.callbacks import SweepReport

    monkeypatch.delenv("BOUNDED_LR_SWEEP_ID", raising=False)
    before = dict(os.environ)
    config = OmegaConf.create(
        {"hydra": {"sweep": {"dir": str(tmp_path)}, "sweeper": {"_target_": "x"}, "overrides": {"task": []}}}
    )
    callback = SweepReport()
    callback.on_multirun_start(config)
    assert dict(os.environ) == before
    assert json.loads((tmp_path / ".bounded_lr_sweep.json").read_text())["id"] == callback.sweep_id


def _one_job(tmp_path: Path, **fields: object) -> tuple[str, dict[str, str]]:
    """The Markdown row and the CSV row ``write_report`` writes for one job with ``fields``."""
    from bounded_lr_resolver.sweep_report import write_report

    job: dict[str, object] = {"job": "0", "overrides": ["a=1"], "schedule": None, "final_loss": None}
    job.update(status="COMPLETED", error="", problem="")
    assert write_report(tmp_path, [{**job, **fields}], plot=False) == {}
    with (tmp_path / "sweep_report.csv").open(newline="") as stream:
        (row,) = csv.DictReader(stream)
    return (tmp_path / "sweep_report.md").read_text().splitlines()[-1], row


def _md_row(error: str) -> str:
    return "| " + " | ".join(["0", *[""] * 16, "COMPLETED", error, ""]) + " |"


@pytest.mark.parametrize(
    ("error", "markdown"),
    [
        pytest.param("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", id="html"),
        pytest.param(
            '<img src=x onerror="alert(1)">', '&lt;img src=x onerror="alert(1)"&gt;', id="html-attribute"
        ),
        pytest.param("[click](javascript:alert(1))", r"\[click\](javascript:alert(1))", id="link"),
        pytest.param("![t](http://x/p.png)", r"!\[t\](http://x/p.png)", id="image"),
        pytest.param("<http://x>", "&lt;http://x&gt;", id="autolink"),
        pytest.param("a|b\nc", r"a\|b c", id="pipe-and-line-break"),
        pytest.param("*b* _i_ ~s~ final_lr __x__", r"\*b\* \_i\_ \~s\~ final_lr \_\_x\_\_", id="emphasis"),
        pytest.param("`code`", r"\`code\`", id="code"),
        pytest.param("&lt; a\\b", r"&amp;lt; a\\b", id="entity-and-backslash"),
        pytest.param("RuntimeError: boom", "RuntimeError: boom", id="plain"),
    ],
)
def test_markdown_cells_show_text_never_markup(tmp_path: Path, error: str, markdown: str) -> None:
    line, row = _one_job(tmp_path, error=error)
    assert line == _md_row(markdown)
    assert row["error"] == error  # the CSV keeps the text as it is


@pytest.mark.parametrize(
    ("field", "value", "cell"),
    [
        pytest.param("error", '=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")', id="equals"),
        pytest.param("error", "+1+1", "'+1+1", id="plus"),
        pytest.param("error", "-1+1", "'-1+1", id="minus"),
        pytest.param("error", "@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("error", "\t=1", "'\t=1", id="tab"),
        pytest.param("error", "\r=1", "'\r=1", id="carriage-return"),
        pytest.param("overrides", ["+lr=0.1", "a=1"], "'+lr=0.1 a=1", id="hydra-append-override"),
        pytest.param("overrides", ["~a", "b=-1"], "~a b=-1", id="hydra-delete-override"),
        pytest.param("error", "x=1", "x=1", id="plain"),
        pytest.param("final_loss", -0.5, "-0.5", id="negative-number-stays-a-number"),
    ],
)
def test_csv_cells_never_start_a_formula(tmp_path: Path, field: str, value: object, cell: str) -> None:
    _, row = _one_job(tmp_path, **{field: value})
    assert row[field] == cell


@pytest.mark.parametrize(
    ("overrides", "shared", "own"),
    [
        pytest.param([["a=1", "b=2"], ["a=1", "b=3"]], ["a=1"], [["b=2"], ["b=3"]], id="swept-key"),
        pytest.param([["a=1", "b=2"], ["a=1"]], ["a=1"], [["b=2"], []], id="key-some-jobs-lack"),
        pytest.param([["a=1", "b=2"], None, ["a=1", "b=3"]], ["a=1"], [["b=2"], None, ["b=3"]], id="unknown"),
        pytest.param([["+note=x", "a=1"]], ["+note=x", "a=1"], [[]], id="one-job"),
        pytest.param([["+a=1"], ["a=1"]], [], [["+a=1"], ["a=1"]], id="append-and-set-differ"),
        pytest.param([None, None], [], [None, None], id="none-known"),
    ],
)
def test_the_legend_and_table_show_only_what_differs(
    overrides: list[list[str] | None], shared: list[str], own: list[list[str] | None]
) -> None:
    from bounded_lr_resolver.sweep_report import swept

    assert swept([{"overrides": item} for item in overrides]) == (shared, own)


@pytest.mark.slow
def test_html_and_formulas_in_a_sweeps_overrides_are_neutralised(tmp_path: Path) -> None:
    made, sweep = app(tmp_path), tmp_path / "sweep"
    notes = "+note='<img src=x onerror=alert(1)>','=1+1'"
    run_app(made, "-m", f"hydra.sweep.dir={sweep}", notes, "scheduler.final_lr=1e-2")
    text = (sweep / "sweep_report.md").read_text()
    assert "<img" not in text
    assert text.startswith("Overrides of every job: scheduler.final_lr=0.01\n\n| job | overrides |")
    assert "| 0 | +note='&lt;img src=x onerror=alert(1)&gt;' |" in text
    assert "| 1 | +note='=1+1' |" in text
    assert [row["overrides"] for row in report(sweep).values()] == [  # the CSV keeps them all
        "'+note='<img src=x onerror=alert(1)>' scheduler.final_lr=0.01",
        "'+note='=1+1' scheduler.final_lr=0.01",
    ]
