"""Hydra callbacks: a resolved record of what each job ran, and a report after a sweep.

Add them to any Hydra app through its config::

    hydra:
      callbacks:
        resolved_config:
          _target_: bounded_lr_resolver.callbacks.SaveResolvedConfig
        sweep_report:
          _target_: bounded_lr_resolver.callbacks.SweepReport

``SaveResolvedConfig`` writes ``resolved_config.yaml`` (every ``${lr_gamma:...}`` replaced by its
value) next to Hydra's unresolved ``.hydra/config.yaml``, so the concrete gamma and step size of
a run are on record and the file loads where this package is absent. Values read from the
environment (``${oc.env:...}``, and values derived from them) stay interpolation text, as in
Hydra's own file, so secrets never land in the record (see :mod:`bounded_lr_resolver.record`).
``SweepReport`` reports every job of a multirun (from the sweep itself, see
:mod:`bounded_lr_resolver.sweep`): it overlays the schedules in ``sweep_report.png`` and tabulates
their parameters, status, error and final loss (if a job wrote one) in ``sweep_report.csv`` and
``sweep_report.md``. It works with any launcher whose jobs write to the sweep directory on a
shared file system (basic, joblib, submitit).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bounded_lr_resolver import _compat
from bounded_lr_resolver.files import atomic_write_text
from bounded_lr_resolver.preflight import SweepPreflight
from bounded_lr_resolver.record import resolved_yaml
from bounded_lr_resolver.sweep import end_sweep, finish_job, lock, start_job, start_sweep, sweep_jobs
from bounded_lr_resolver.sweep_report import RESULT_FILE, read_job, schedule_from, write_report

__all__ = [
    "RESULT_FILE",
    "SaveResolvedConfig",
    "SweepPreflight",
    "SweepReport",
    "failed_writes",
    "resolved_yaml",
    "schedule_from",
    "write_report",
]

_log = logging.getLogger(__name__)

failed_writes: list[OSError] = []
"""The errors of the files our callbacks could not write in this process (each names its file).
Hydra turns a callback's exception into a warning and lets the job exit 0; the ``bounded-lr`` job
checks this list."""


class SaveResolvedConfig(Callback):
    """Write ``resolved_config.yaml`` into each job's output directory when the job starts."""

    def __init__(self, filename: str = "resolved_config.yaml") -> None:
        self.filename = filename

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        out = Path(config.hydra.runtime.output_dir)
        try:
            text = resolved_yaml(config)
        except OmegaConfBaseException as error:  # the job itself reports why, with its key
            _log.error(
                "SaveResolvedConfig: nothing written, the config does not resolve (%s)", type(error).__name__
            )
            return
        path = out / self.filename
        try:
            atomic_write_text(path, text)
        except OSError as error:
            _log.error("SaveResolvedConfig: could not write %s (a previous file is intact): %s", path, error)
            failed_writes.append(error)
            raise


class SweepReport(Callback):
    """Report every job of a multirun: overlay their schedules, tabulate parameters, status and loss.

    The job list comes from the sweep itself (:mod:`bounded_lr_resolver.sweep`), never from a
    glob of the folder: a re-run into the same ``hydra.sweep.dir`` reports only its own jobs and
    ignores results an earlier run left. The report is rebuilt as each job ends (under a lock, in
    whichever process ran the job) and once more after the sweep, so a failing job (after which
    hydra-core 1.3 skips ``on_multirun_end``) still leaves a complete report with the job marked
    FAILED and its error.

    Args:
        key: where the scheduler node sits in each job's config (default ``scheduler``).
    """

    def __init__(self, key: str = "scheduler") -> None:
        self.key = key
        self.sweep_id: str | None = None  # set in the launching process; pickled into launcher workers

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.sweep_id = start_sweep(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _in_sweep(config):
            start_job(config, self.sweep_id)

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        if not _in_sweep(config):
            return
        status = getattr(getattr(job_return, "status", None), "name", "UNKNOWN")
        error = _compat.job_error(job_return) if status == "FAILED" else None
        finish_job(config, status, "" if error is None else f"{type(error).__name__}: {error}")
        self.report(Path(config.hydra.sweep.dir), at_end=False)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        self.report(sweep_dir, at_end=True)
        if self.sweep_id is not None:
            end_sweep(sweep_dir, self.sweep_id)

    def report(self, sweep_dir: Path, at_end: bool = True) -> None:
        """Rebuild the report from the sweep's job records (the PNG when every job has ended)."""
        if not sweep_dir.is_dir():  # nothing was launched (e.g. SweepPreflight stopped the sweep)
            return
        with lock(sweep_dir):
            sweep, entries = sweep_jobs(sweep_dir, self.sweep_id)
            jobs = [self._job(sweep_dir, folder, record) for folder, record in entries]
            if not jobs:
                if at_end:
                    _log.error("SweepReport: no jobs of this sweep under %s", sweep_dir)
                return
            if at_end:
                for job in jobs:
                    if job["problem"]:
                        _log.error("SweepReport: %s: %s", job["job"], job["problem"])
            ended = all(job["status"] in ("COMPLETED", "FAILED") for job in jobs)
            name = f"{sweep_dir.name} ({sweep['id'][:8]})" if sweep else sweep_dir.name
            missing = write_report(sweep_dir, jobs, plot=at_end or ended, name=name)
            if missing is not None and at_end:
                _log.warning("SweepReport: sweep_report.png not written: %s", missing)

    def _job(self, sweep_dir: Path, folder: Path | None, record: dict[str, Any]) -> dict[str, Any]:
        job: dict[str, Any]
        if folder is None:  # expected, never started: its error is in the sweep's log
            overrides = " ".join(record.get("overrides") or [])
            job = {"job": str(record.get("num")), "overrides": overrides, "schedule": None}
            job.update(final_loss=None, problem="")
        else:
            job = read_job(folder, sweep_dir, self.key, record.get("started_ns"))
        job.update(status=str(record.get("status", "")), error=str(record.get("error", "")))
        return job


def _in_sweep(config: DictConfig) -> bool:
    return bool(OmegaConf.select(config, "hydra.mode", default=None) == RunMode.MULTIRUN)
