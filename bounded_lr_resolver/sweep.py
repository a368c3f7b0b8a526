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

Every record is read as untrusted input (:func:`bounded_lr_resolver.files.load_json`, with each
field's type checked): a damaged sweep record is as good as none, and a damaged job record written
since this sweep started is a row whose ``problem`` says what is wrong, never the report's end.

No state is kept in the process: the sweep id travels in the sweep record and in the
``SweepReport`` callback itself, which Hydra pickles into every launcher worker (joblib, submitit,
ray) with the rest of its ``HydraContext``; nothing is written into ``os.environ``, so a process
the job starts (another Hydra app, a sweep of its own) inherits nothing of this sweep.
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

from bounded_lr_resolver.files import atomic_write_text, load_json

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
_log = logging.getLogger("bounded_lr_resolver.callbacks")


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_SWEEP_FIELDS = {
    "id": ("text", lambda value: isinstance(value, str)),
    "started_ns": ("a whole number", lambda value: value is None or _whole(value)),
    "expected": (
        "a list of override lists",
        lambda value: value is None or (isinstance(value, list) and all(_strings(job) for job in value)),
    ),
}
_JOB_FIELDS = {
    "sweep": ("text", lambda value: isinstance(value, str)),
    "num": ("a whole number", lambda value: value is None or _whole(value)),
    "overrides": ("a list of texts", _strings),
    "started_ns": ("a whole number", _whole),
    "status": ("text", lambda value: isinstance(value, str)),
    "error": ("text", lambda value: isinstance(value, str)),
}


def _record(path: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """A record file, its fields checked; ValueError says what is wrong with it."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    for key, (what, valid) in fields.items():
        if not valid(data.get(key)):
            raise ValueError(f"'{key}' is not {what}")
    return data


def _read(path: Path) -> dict[str, Any] | None:
    """The sweep record, or None where it is missing or damaged."""
    try:
        return _record(path, _SWEEP_FIELDS)
    except ValueError:
        return None


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
        "started_ns": time.time_ns(),
        "ended": None,
        "expected": expected_jobs(config),
    }
    atomic_write_text(sweep_dir / SWEEP_FILE, json.dumps(record))
    return sweep_id


def end_sweep(sweep_dir: Path, sweep_id: str) -> None:
    """Mark this sweep's record as ended (if it is still this sweep's)."""
    record = _read(sweep_dir / SWEEP_FILE)
    if record is not None and record.get("id") == sweep_id:
        record["ended"] = time.strftime("%Y-%m-%d %H:%M:%S")
        atomic_write_text(sweep_dir / SWEEP_FILE, json.dumps(record))


def current_sweep(sweep_dir: Path, sweep_id: str | None = None) -> dict[str, Any] | None:
    """A sweep's record: the one with ``sweep_id`` (the callback carries it into launcher workers),
    else the folder's latest."""
    record = _read(sweep_dir / SWEEP_FILE)
    if record is None or (sweep_id and record["id"] != sweep_id):
        return {"id": sweep_id, "expected": None} if sweep_id else None
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
    try:
        record = _record(path, _JOB_FIELDS)
    except ValueError:
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
    """A sweep and its jobs: ``(job folder, or None if it never started; job record)``, by number.

    A job record that cannot be read, written since the sweep started (an earlier sweep's are
    older), is a job of status ``UNKNOWN`` with a ``problem``: in place of the expected job of its
    folder's name (Hydra names job folders by number), else a row of its own.
    """
    sweep = current_sweep(sweep_dir, sweep_id)
    if sweep is None:
        return None, []
    found: dict[object, tuple[Path | None, dict[str, Any]]] = {}
    damaged: dict[str, tuple[Path, dict[str, Any]]] = {}
    since = sweep.get("started_ns") or 0
    for path in sweep_dir.glob(f"**/{JOB_FILE}"):
        try:
            record = _record(path, _JOB_FIELDS)
        except ValueError as error:
            if _modified_ns(path) >= since:
                name = str(path.parent.relative_to(sweep_dir))
                unknown = {"num": name, "status": "UNKNOWN", "error": "", "problem": f"{JOB_FILE}: {error}"}
                damaged[name] = (path.parent, unknown)
            continue
        if record["sweep"] == sweep["id"]:
            found[record["num"] if record["num"] is not None else str(path.parent)] = (path.parent, record)
    for num, overrides in enumerate(sweep.get("expected") or []):
        if num not in found:
            folder, unknown = damaged.pop(str(num), (None, {"status": "NOT STARTED", "error": ""}))
            found[num] = (folder, {**unknown, "num": num, "overrides": overrides})
    found.update(damaged)
    return sweep, sorted(found.values(), key=lambda item: str(item[1].get("num")).zfill(12))


def _modified_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
