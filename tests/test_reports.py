"""The training task, the sweep report and the resolved-config record, run as a user runs them."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.report import atomic_write
from bounded_lr_resolver.schedule import Schedule
from tests.conftest import run, run_app, write_app
from tests.test_main_job import BOUNDED_LR

TRAIN = [
    "task=train",
    "task.progress=false",
    "scheduler.max_steps=400",
    "scheduler.n_updates=4",
    "plot=false",
]


@pytest.mark.slow
def test_train_task_logs_lr_and_loss_per_step(tmp_path: Path) -> None:
    output = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", *TRAIN], cwd=tmp_path).stdout
    assert "trained 400 steps; the LR of each: every LR equals the closed form" in output
    with (tmp_path / "train.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 400
    lrs = np.array([float(row["lr"]) for row in rows])
    assert np.array_equal(lrs, lr_curve(Schedule(0.05, 5e-4, 400, 4), np.arange(400)))
    losses = np.array([float(row["loss"]) for row in rows])
    assert np.all(np.isfinite(losses))
    assert losses[-50:].mean() < losses[:50].mean()  # it learns
    final = json.loads((tmp_path / "result.json").read_text())["final_loss"]
    assert f"final loss   {final:.6g}" in output


@pytest.mark.slow
def test_train_progress_bar_shows_loss_and_lr(tmp_path: Path) -> None:
    result = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", *TRAIN[:1], *TRAIN[2:]], cwd=tmp_path)
    assert "train: 100%" in result.stderr
    assert "loss=" in result.stderr
    assert "lr=" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_sweep_report_over_final_lr(tmp_path: Path, launcher: str) -> None:
    args = [
        BOUNDED_LR,
        "-m",
        f"hydra.sweep.dir={tmp_path}",
        f"hydra/launcher={launcher}",
        *TRAIN,
        "scheduler.final_lr=5e-3,5e-4,5e-5",
    ]
    run(args, cwd=tmp_path)
    with (tmp_path / "sweep_report.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [float(row["final_lr"]) for row in rows] == [5e-3, 5e-4, 5e-5]
    for row in rows:
        assert float(row["gamma"]) == pytest.approx((float(row["final_lr"]) / 0.05) ** (1 / 4), rel=1e-15)
        assert (
            float(row["final_loss"])
            == json.loads((tmp_path / row["job"] / "result.json").read_text())["final_loss"]
        )
    assert "| job | overrides | kind |" in (tmp_path / "sweep_report.md").read_text()
    png = (tmp_path / "sweep_report.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 30_000


USER_CALLBACKS = """\
defaults:
  - bounded_lr@scheduler: multistep
  - _self_
scheduler:
  max_steps: 1000
  n_updates: 3
hydra:
  callbacks:
    resolved_config:
      _target_: bounded_lr_resolver.callbacks.SaveResolvedConfig
    sweep_report:
      _target_: bounded_lr_resolver.callbacks.SweepReport
"""


@pytest.mark.slow
def test_callbacks_in_a_users_own_app(tmp_path: Path) -> None:
    app = write_app(tmp_path, "print('job ran')", {"config.yaml": USER_CALLBACKS})
    source = app.read_text()  # the one documented line for hydra-core 1.4's callback warning
    app.write_text(
        source.replace(
            "@hydra.main",
            "import bounded_lr_resolver\nbounded_lr_resolver.trust_our_callbacks()\n\n@hydra.main",
            1,
        )
    )
    sweep = tmp_path / "sweep"
    run_app(app, "-m", f"hydra.sweep.dir={sweep}", "scheduler.final_lr=1e-3,1e-5")
    for job, final in (("0", 1e-3), ("1", 1e-5)):
        saved = yaml.safe_load((sweep / job / "resolved_config.yaml").read_text())
        assert saved["scheduler"]["gamma"] == pytest.approx((final / 0.1) ** (1 / 3), rel=1e-15)
        assert "milestones" not in saved["scheduler"]  # derived in code, never expanded into the record
        assert "hydra" not in saved
    with (sweep / "sweep_report.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [row["final_loss"] for row in rows] == ["", ""]
    assert [int(row["n_updates"]) for row in rows] == [3, 3]


def test_atomic_write_leaves_nothing_when_interrupted(tmp_path: Path) -> None:
    target = tmp_path / "schedule.csv"

    def write(path: Path) -> None:
        path.write_text("step,lr\n0,0.1\n")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, write)
    assert list(tmp_path.iterdir()) == []
    target.write_text("old complete file\n")
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, write)
    assert target.read_text() == "old complete file\n"


DEEP = "[" * 200_000 + "]" * 200_000
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
    for previous, name in zip("abcde", "bcdef", strict=True)
)
# job -> (the file damaged, its new text or None to delete it, the row's problem)
CORRUPTIONS = {
    "0": ("result.json", '{"final_loss": 0.', "result.json: unreadable (JSONDecodeError)"),
    "1": ("result.json", "[1, 2]", "result.json: not a mapping"),
    "2": (".hydra/overrides.yaml", None, ".hydra/overrides.yaml: missing"),
    "3": (
        ".hydra/config.yaml",
        "scheduler:\n  initial_lr: 0.1\n  final_lr: [1e-3",
        ".hydra/config.yaml: unreadable (ParserError)",
    ),
    "4": (".hydra/config.yaml", "- a\n- b\n", ".hydra/config.yaml: not a mapping"),
    "5": ("result.json", '{"final_loss": "abc"}', "result.json: final_loss is not a number: 'abc'"),
    "6": (
        "result.json",
        '{"final_loss": ' + "1" * 5000 + "}",
        "result.json: unreadable (an integer with more digits than Python converts)",
    ),
    "7": ("result.json", DEEP, "result.json: nested deeper than 64 levels"),
    "8": (
        "result.json",
        '{"final_loss": 1, "pad": "' + "x" * 2**21 + '"}',
        "result.json: larger than 1048576 bytes",
    ),
    "9": ("result.json", "3", "result.json: not a mapping"),
    "10": ("result.json", '{"final_loss": NaN}', "result.json: final_loss is not finite: nan"),
    "11": ("result.json", '{"final_loss": -Infinity}', "result.json: final_loss is not finite: -inf"),
    "12": ("result.json", '{"final_loss": 1e400}', "result.json: final_loss is not finite: inf"),
    "13": (".hydra/config.yaml", BOMB, ".hydra/config.yaml: more than 100000 values (aliases expanded)"),
    "14": (
        ".hydra/config.yaml",
        "scheduler: " + "[" * 100 + "]" * 100,
        ".hydra/config.yaml: nested deeper than 64 levels",
    ),
    "15": (".bounded_lr_job.json", DEEP, ".bounded_lr_job.json: nested deeper than 64 levels"),
    "16": (".bounded_lr_job.json", '{"sweep": 5}', ".bounded_lr_job.json: 'sweep' is not text"),
    "17": ("result.json", '{"final_loss": 0.25}', ""),
}


@pytest.mark.slow
def test_one_bad_job_file_never_kills_the_report(tmp_path: Path) -> None:
    """Each job's files damaged in another way; every job is still a row that says what is wrong,
    and every later job is still reported as it ran (none is cut off as NOT STARTED)."""
    from bounded_lr_resolver.callbacks import SweepReport

    body = (
        "import json\nfrom hydra.core.hydra_config import HydraConfig\n"
        "out = HydraConfig.get().runtime.output_dir\n"
        "open(out + '/result.json', 'w').write(json.dumps({'final_loss': cfg.scheduler.final_lr * 10}))\n"
    )
    config = (
        "defaults:\n  - bounded_lr@scheduler: multistep\n  - _self_\n"
        "scheduler:\n  max_steps: 100\n  n_updates: 3\n"
        "hydra:\n  callbacks:\n    report:\n      _target_: bounded_lr_resolver.callbacks.SweepReport\n"
    )
    app = write_app(tmp_path, body, {"config.yaml": config})
    trust = "import bounded_lr_resolver\nbounded_lr_resolver.trust_our_callbacks()\n\n@hydra.main"
    app.write_text(app.read_text().replace("@hydra.main", trust, 1))
    sweep = tmp_path / "sweep"
    finals = ",".join(f"{number}e-5" for number in range(1, len(CORRUPTIONS) + 1))
    run_app(app, "-m", f"hydra.sweep.dir={sweep}", f"scheduler.final_lr={finals}", "+note='a|b'")
    for job, (name, text, _) in CORRUPTIONS.items():
        if text is None:
            (sweep / job / name).unlink()
        else:
            (sweep / job / name).write_text(text)
    SweepReport().report(sweep)  # rebuilt from the damaged files
    with (sweep / "sweep_report.csv").open() as stream:
        rows = {row["job"]: row for row in csv.DictReader(stream)}
    assert {job: row["problem"] for job, row in rows.items()} == {
        job: problem for job, (_, _, problem) in CORRUPTIONS.items()
    }
    statuses = {job: "UNKNOWN" if job in ("15", "16") else "COMPLETED" for job in CORRUPTIONS}
    assert {job: row["status"] for job, row in rows.items()} == statuses
    assert rows["17"]["final_loss"] == "0.25"
    assert rows["15"]["final_loss"] == repr(16e-5 * 10)  # its own files are fine
    assert rows["17"]["overrides"] == "scheduler.final_lr=0.00018 +note='a|b'"  # the CSV keeps them all
    assert rows["3"]["kind"] == ""  # no schedule, not plotted
    lines = (sweep / "sweep_report.md").read_text().splitlines()
    assert lines[:2] == [r"Overrides of every job: +note='a\|b'", ""]
    assert len(lines) == 2 + 2 + len(CORRUPTIONS)
    cells = [len(re.split(r"(?<!\\)\|", line)) for line in lines[2:]]
    assert len(set(cells)) == 1  # every row one row
    assert lines[-1].startswith("| 17 | scheduler.final_lr=0.00018 | multistep |")  # only the swept key
    assert (sweep / "sweep_report.png").read_bytes().startswith(b"\x89PNG")
