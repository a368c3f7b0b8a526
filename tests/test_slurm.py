"""Sweeps on a real SLURM cluster (``hydra/launcher=submitit_slurm``), started and stopped here.

The cluster is one node on this machine (``tests/slurm.py``); ``.ci/run`` installs its packages.
Each sweep runs under an outer timeout: a job that fails or is cancelled must end the sweep with a
clear error, never a hang.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import slurm
from tests.conftest import write_app
from tests.test_main_job import BOUNDED_LR

pytestmark = pytest.mark.slow  # a real SLURM cluster

LAUNCHER = [
    "hydra/launcher=submitit_slurm",
    "hydra.launcher.timeout_min=5",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slurm.Cluster]:
    try:
        started = slurm.start(tmp_path_factory.mktemp("slurm"))
    except slurm.Unavailable as reason:
        pytest.skip(f"no SLURM cluster here: {reason}")
    try:
        yield started
    finally:
        started.stop()


def sweep(
    cluster: slurm.Cluster, args: list[str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run a sweep as a user on the cluster's login node would; bounded by ``timeout``."""
    env = {key: value for key, value in cluster.env.items() if not key.startswith("HYDRA_")}
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_main_job_sweep_runs_on_slurm(cluster: slurm.Cluster, tmp_path: Path) -> None:
    """bounded-lr -m on SLURM: each job's files, and the sweep report over both."""
    out = tmp_path / "sweep"
    args = [
        BOUNDED_LR,
        "-m",
        "scheduler.final_lr=1e-3,1e-5",
        f"hydra.sweep.dir={out}",
        "plot=false",
        *LAUNCHER,
    ]
    result = sweep(cluster, args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for job, final in (("0", 1e-3), ("1", 1e-5)):
        saved = yaml.safe_load((out / job / "resolved_config.yaml").read_text())
        assert saved["scheduler"]["final_lr"] == final
        assert saved["scheduler"]["gamma"] == pytest.approx((final / 0.1) ** (1 / 10_000), rel=1e-15)
        rows = (out / job / "schedule.csv").read_text().splitlines()
        assert rows[-1] == f"1000000,{final!r}"
    logs = "".join(path.read_text() for path in out.glob(".submitit/*/*_log.out"))
    assert logs.count("bounds       HOLD") == 2  # each job ran on a SLURM node and printed its summary
    with (out / "sweep_report.csv").open() as stream:
        report = list(csv.DictReader(stream))
    assert [(row["final_lr"], row["status"]) for row in report] == [
        ("0.001", "COMPLETED"),
        ("1e-05", "COMPLETED"),
    ]


USER_CONFIG = """\
defaults:
  - bounded_lr@scheduler: cosine
  - _self_
scheduler:
  max_steps: 1000
"""

USER_TASK = """\
import json, time
from pathlib import Path
from hydra.core.hydra_config import HydraConfig
if cfg.scheduler.final_lr == 1e-2:
    raise RuntimeError("diverged at final_lr=1e-2")
if cfg.scheduler.final_lr == 2e-2:
    time.sleep(600)  # cancelled by the test
out = Path(HydraConfig.get().runtime.output_dir)
job = __import__("os").environ.get("SLURM_JOB_ID")
(out / "seen.json").write_text(json.dumps({"final_lr": cfg.scheduler.final_lr, "job": job}))
"""


def user_sweep(tmp_path: Path, finals: str) -> tuple[list[str], Path]:
    """The command line of a user's app sweeping ``scheduler.final_lr=<finals>`` on SLURM, and its dir."""
    app = write_app(tmp_path, USER_TASK, {"config.yaml": USER_CONFIG})
    out = tmp_path / "sweep"
    args = [sys.executable, str(app), "-m", f"scheduler.final_lr={finals}", f"hydra.sweep.dir={out}"]
    return [*args, *LAUNCHER], out


def test_user_app_sweep_runs_on_slurm(cluster: slurm.Cluster, tmp_path: Path) -> None:
    """A user's own app, the shipped group resolved on the SLURM node by the installed plugin."""
    args, out = user_sweep(tmp_path, "1e-3,1e-4")
    result = sweep(cluster, args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = [json.loads((out / job / "seen.json").read_text()) for job in ("0", "1")]
    assert [record["final_lr"] for record in seen] == [1e-3, 1e-4]
    assert all(record["job"] for record in seen)  # ran as SLURM jobs


def test_failing_job_ends_the_sweep_with_its_error(cluster: slurm.Cluster, tmp_path: Path) -> None:
    args, _ = user_sweep(tmp_path, "1e-3,1e-2")
    started = time.monotonic()
    result = sweep(cluster, args, tmp_path)
    assert result.returncode != 0
    assert "diverged at final_lr=1e-2" in result.stdout + result.stderr
    assert time.monotonic() - started < 120


def test_cancelled_job_ends_the_sweep_never_a_hang(cluster: slurm.Cluster, tmp_path: Path) -> None:
    """scancel a running job: submitit reports it (state CANCELLED) and the sweep exits non-zero."""
    args, out = user_sweep(tmp_path, "2e-2")
    env = {key: value for key, value in cluster.env.items() if not key.startswith("HYDRA_")}
    with subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            deadline = time.monotonic() + 60
            running = ""
            while not running and time.monotonic() < deadline:
                time.sleep(0.5)
                running = cluster.run("squeue", "-h", "-t", "RUNNING", "-o", "%i").stdout.strip()
            assert running, "the job never started"
            cluster.run("scancel", *running.split())
            output, _ = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode != 0
    assert "CANCELLED" in output, output
    assert os.path.isdir(out)
