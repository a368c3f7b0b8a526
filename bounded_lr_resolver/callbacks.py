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
a run are on record and the file loads where this package is absent. A value whose resolution
would read the environment (``${oc.env:...}``, by any path) or call a resolver not known to be
pure stays interpolation text, as in Hydra's own file, so secrets never land in the record (see
:mod:`bounded_lr_resolver.record`).
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

Shared state, on purpose: the one channel from a callback to the code that decides the exit
status. Hydra turns a callback's exception into a warning and lets the process exit 0, and offers
the task function no way to reach the callback objects, so the ``bounded-lr`` job reads this
module-level list: before its task runs (``resolved_config.yaml`` of its own output folder) and
after a sweep (the report files), and exits 1 naming each file. ``SaveResolvedConfig`` appends to
it; ``SweepReport`` appends a report file it could not write and removes it again once a later
rebuild writes that file. It lives for the process (one entry per failed write), holds nothing
else, and nothing else reads it; in a launcher worker it is that worker's own list (the sweep's
process rebuilds the report at the end and records what fails there)."""


class SaveResolvedConfig(Callback):
    """Write ``resolved_config.yaml`` into each job's output directory when the job starts."""

    def __init__(self, filename: str = "resolved_config.yaml") -> None:
        self.filename = filename

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        out = Path(config.hydra.runtime.output_dir)
        try:
            text = resolved_yaml(config)
        except OmegaConfBaseException as error:
            from bounded_lr_resolver.job_schema import JobConf

            # The bounded-lr job resolves the same key and reports why as its one message and exit 1,
            # so there this line is DEBUG (hydra.verbose shows it). Any other app may never read the
            # key and exit 0: its log must say which record is missing.
            job_reports = OmegaConf.get_type(config) is JobConf
            _log.log(
                logging.DEBUG if job_reports else logging.ERROR,
                "SaveResolvedConfig: %s not written: the config does not resolve at %s (%s)",
                self.filename,
                getattr(error, "full_key", None) or "<root>",
                type(error).__name__,
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
    FAILED and its error. A report file that cannot be written is logged as an ERROR naming it
    (once per process; after the sweep, one line lists every missing file), the others are
    written all the same, and it goes into :data:`failed_writes` until a later rebuild writes it.

    Args:
        key: where the scheduler node sits in each job's config (default ``scheduler``).
    """

    def __init__(self, key: str = "scheduler") -> None:
        self.key = key
        self.sweep_id: str | None = None  # set in the launching process; pickled into launcher workers
        self._logged: set[tuple[str, str]] = set()  # each failed write is logged once per process

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
            plot = at_end or ended
            failed = write_report(sweep_dir, jobs, plot=plot, name=name)
        self._account(sweep_dir, failed, plot, at_end)

    def _account(self, sweep_dir: Path, failed: dict[Path, BaseException], plot: bool, at_end: bool) -> None:
        """Log each report file not written (once) and keep :data:`failed_writes` current."""
        names = ("sweep_report.csv", "sweep_report.md") + (("sweep_report.png",) if plot else ())
        written = {str(sweep_dir / name) for name in names} - {str(path) for path in failed}
        failed_writes[:] = [error for error in failed_writes if error.filename not in written]
        for path, error in failed.items():
            if not isinstance(error, OSError):  # an extra is missing: not a failed write
                if at_end:
                    _log.warning("SweepReport: %s not written: %s", path.name, error)
                continue
            if all(lost.filename != error.filename for lost in failed_writes):
                failed_writes.append(error)
            if (str(path), str(error)) not in self._logged:
                self._logged.add((str(path), str(error)))
                _log.error("SweepReport: could not write %s: %s", path, error.strerror or error)
        lost = sorted(path.name for path, error in failed.items() if isinstance(error, OSError))
        if lost and at_end:
            _log.error("SweepReport: the report in %s is missing %s", sweep_dir, ", ".join(lost))

    def _job(self, sweep_dir: Path, folder: Path | None, record: dict[str, Any]) -> dict[str, Any]:
        job: dict[str, Any]
        if folder is None:  # expected, never started: its error is in the sweep's log
            job = {"job": str(record.get("num")), "overrides": list(record.get("overrides") or [])}
            job.update(schedule=None, final_loss=None, problem="")
        else:
            job = read_job(folder, sweep_dir, self.key, record.get("started_ns"))
            if record.get("overrides") is not None and job["overrides"] is None:
                job["overrides"] = list(record["overrides"])
        problems = [str(record.get("problem") or ""), job["problem"]]
        job.update(
            status=str(record.get("status", "")),
            error=str(record.get("error", "")),
            problem="; ".join(problem for problem in problems if problem),
        )
        return job


def _in_sweep(config: DictConfig) -> bool:
    return bool(OmegaConf.select(config, "hydra.mode", default=None) == RunMode.MULTIRUN)
