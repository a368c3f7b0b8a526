"""The jobs of one sweep, taken from the sweep itself, never from whatever lies in its folder.

A sweep folder can hold job folders of an earlier sweep (the same ``hydra.sweep.dir`` run twice)
or, for a while, of another sweep running at the same time. So that :class:`SweepReport
<bounded_lr_resolver.callbacks.SweepReport>` describes exactly this sweep:

- when the sweep starts, the launching process writes ``.bounded_lr_sweep.json`` into the sweep
  folder: a new sweep id, its process, and (for Hydra's basic sweeper) the list of jobs it will
  launch, expanded with Hydra's own parser; it says so in the log when the folder already holds
  jobs of an earlier sweep, or when another live sweep is writing into it;
- each job, in whichever process runs it, writes ``.bounded_lr_job.json`` into its own folder:
  the sweep id, its number and overrides, when it started, and at its end its status and error;
- the report lists the jobs that carry this sweep's id, plus each expected job that never started,
  and ignores a ``result.json`` older than its job (left by an earlier run).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bounded_lr_resolver.files import atomic_write_text

__all__ = [
    "JOB_FILE",
    "SWEEP_FILE",
    "end_sweep",
    "expected_jobs",
    "finish_job",
    "lock",
    "start_job",
    "start_sweep",
    "sweep_jobs",
]

SWEEP_FILE = ".bounded_lr_sweep.json"
JOB_FILE = ".bounded_lr_job.json"
_ENV = "BOUNDED_LR_SWEEP_ID"
_log = logging.getLogger("bounded_lr_resolver.callbacks")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def expected_jobs(config: DictConfig) -> list[list[str]] | None:
    """The overrides of every job Hydra's basic sweeper will launch, in job-number order.

    None for other sweepers (Optuna samples as it goes), whose jobs are known as they start.
    """
    sweeper = str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))
    if not sweeper.endswith("BasicSweeper"):
        return None
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from bounded_lr_resolver import _compat

    params = OmegaConf.select(config, "hydra.sweeper.params", default=None) or {}
    arguments = [f"{key}={value}" for key, value in params.items()]
    arguments += [str(item) for item in config.hydra.overrides.task]
    hydra = GlobalHydra.instance()
    loader = hydra.config_loader() if hydra.is_initialized() else None  # glob() lists a group's options
    try:
        parsed = OverridesParser.create(config_loader=loader).parse_overrides(arguments)
        batches = _compat.split_sweep(parsed)
    except Exception:  # a sweep Hydra's basic sweeper itself cannot expand: the jobs are known as they start
        return None
    return [list(job) for batch in batches for job in batch]


def start_sweep(config: DictConfig) -> str:
    """Record a new sweep in its folder (launching process); return its id."""
    sweep_dir = Path(config.hydra.sweep.dir)
    previous = _read(sweep_dir / SWEEP_FILE)
    host = socket.gethostname()
    if (
        previous is not None
        and previous.get("ended") is None
        and previous.get("host") == host
        and previous.get("pid") != os.getpid()
        and _alive(previous.get("pid"))
    ):
        _log.error(
            "SweepReport: another sweep (pid %s, started %s) is writing into %s right now; job folders "
            "of the same number overwrite each other. The report lists only this sweep's jobs.",
            previous.get("pid"),
            previous.get("started"),
            sweep_dir,
        )
    elif any(sweep_dir.glob("**/.hydra/config.yaml")):
        _log.info(
            "SweepReport: %s holds jobs of an earlier sweep; the report lists only this sweep's", sweep_dir
        )
    sweep_id = uuid.uuid4().hex
    record = {
        "id": sweep_id,
        "pid": os.getpid(),
        "host": host,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "ended": None,
        "expected": expected_jobs(config),
    }
    atomic_write_text(sweep_dir / SWEEP_FILE, json.dumps(record))
    os.environ[_ENV] = sweep_id  # workers started from here inherit it
    return sweep_id


def end_sweep(sweep_dir: Path, sweep_id: str) -> None:
    """Mark this sweep's record as ended (if it is still this sweep's)."""
    record = _read(sweep_dir / SWEEP_FILE)
    if record is not None and record.get("id") == sweep_id:
        record["ended"] = time.strftime("%Y-%m-%d %H:%M:%S")
        atomic_write_text(sweep_dir / SWEEP_FILE, json.dumps(record))


def current_sweep(sweep_dir: Path, sweep_id: str | None = None) -> dict[str, Any] | None:
    """A sweep's record: the one with ``sweep_id`` (the callback carries it into launcher workers),
    else the one the environment names, else the folder's latest."""
    record = _read(sweep_dir / SWEEP_FILE)
    wanted = sweep_id or os.environ.get(_ENV)
    if record is None or (wanted and record.get("id") != wanted):
        return {"id": wanted, "expected": None} if wanted else None
    return record


def start_job(config: DictConfig, sweep_id: str | None = None) -> None:
    """Record that a job of the sweep started (job process)."""
    sweep = current_sweep(Path(config.hydra.sweep.dir), sweep_id)
    if sweep is None:
        return
    record = {
        "sweep": sweep["id"],
        "num": OmegaConf.select(config, "hydra.job.num", default=None),
        "overrides": [str(item) for item in config.hydra.overrides.task],
        "started_ns": time.time_ns(),
        "status": "RUNNING",
        "error": "",
    }
    atomic_write_text(Path(config.hydra.runtime.output_dir) / JOB_FILE, json.dumps(record))


def finish_job(config: DictConfig, status: str, error: str) -> None:
    """Record a job's end: its status (COMPLETED, FAILED) and error (job process)."""
    path = Path(config.hydra.runtime.output_dir) / JOB_FILE
    record = _read(path)
    if record is None:
        return
    record.update(status=status, error=error)
    atomic_write_text(path, json.dumps(record))


@contextlib.contextmanager
def lock(sweep_dir: Path) -> Iterator[None]:
    """Serialize report rebuilds of one sweep folder across processes (jobs end in any of them)."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with (sweep_dir / ".bounded_lr_report.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sweep_jobs(
    sweep_dir: Path, sweep_id: str | None = None
) -> tuple[dict[str, Any] | None, list[tuple[Path | None, dict[str, Any]]]]:
    """A sweep and its jobs: ``(job folder, or None if it never started; job record)``, by number."""
    sweep = current_sweep(sweep_dir, sweep_id)
    if sweep is None:
        return None, []
    found: dict[object, tuple[Path | None, dict[str, Any]]] = {}
    for path in sweep_dir.glob(f"**/{JOB_FILE}"):
        record = _read(path)
        if record is not None and record.get("sweep") == sweep["id"]:
            found[record.get("num", str(path.parent))] = (path.parent, record)
    for num, overrides in enumerate(sweep.get("expected") or []):
        if num not in found:
            found[num] = (None, {"num": num, "overrides": overrides, "status": "NOT STARTED", "error": ""})
    return sweep, sorted(found.values(), key=lambda item: str(item[1].get("num")).zfill(12))
