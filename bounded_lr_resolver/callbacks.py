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
``SweepReport`` runs once, in the launching process, after every job of a multirun: it overlays
all the schedules in ``sweep_report.png`` and tabulates their parameters (and each job's final
loss, if it wrote one) in ``sweep_report.csv`` and ``sweep_report.md``. It works with any
launcher whose jobs write to the sweep directory on a shared file system (basic, joblib,
submitit).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bounded_lr_resolver.bounds import SCHEDULE_FIELDS, Schedule
from bounded_lr_resolver.errors import BoundedLRError
from bounded_lr_resolver.files import atomic_write_text
from bounded_lr_resolver.record import resolved_yaml

__all__ = [
    "RESULT_FILE",
    "SaveResolvedConfig",
    "SweepReport",
    "failed_writes",
    "resolved_yaml",
    "schedule_from",
    "write_report",
]

RESULT_FILE = "result.json"
"""A job may write ``{"final_loss": ...}`` here; the sweep report then shows it."""

_log = logging.getLogger(__name__)

failed_writes: list[tuple[Path, str]] = []
"""Files our callbacks could not write in this process, with the reason. Hydra turns a callback's
exception into a warning and lets the job exit 0; the ``bounded-lr`` job checks this list."""


def schedule_from(node: Any, where: str = "sweep report") -> Schedule:
    """Build the :class:`Schedule` a scheduler config node (e.g. ``bounded_lr@scheduler: step``) declares."""
    values = {key: node[key] for key in SCHEDULE_FIELDS if key in node}
    return Schedule(where=where, **values)


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
            failed_writes.append((path, str(error)))
            raise


class SweepReport(Callback):
    """After a multirun, overlay every job's schedule and tabulate their parameters.

    Args:
        key: where the scheduler node sits in each job's config (default ``scheduler``).
    """

    def __init__(self, key: str = "scheduler") -> None:
        self.key = key

    def _jobs(self, sweep_dir: Path) -> list[dict[str, Any]]:
        jobs = [
            read_job(file.parent.parent, sweep_dir, self.key)
            for file in sweep_dir.glob("**/.hydra/config.yaml")
        ]
        return sorted(jobs, key=lambda job: (len(job["job"]), job["job"]))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = self._jobs(sweep_dir)
        if not jobs:
            _log.error("SweepReport: no job configs under %s", sweep_dir)
            return
        for job in jobs:
            if job["problem"]:
                _log.error("SweepReport: %s: %s", job["job"], job["problem"])
        write_report(sweep_dir, jobs)


def _load_yaml(path: Path) -> Any:
    """A job file as data; raises ValueError saying what is wrong with it."""
    if not path.is_file():
        raise ValueError("missing")
    try:
        return OmegaConf.load(path)
    except Exception as error:  # a cut-off or hand-edited file: YAML and OmegaConf errors alike
        raise ValueError(f"unreadable ({type(error).__name__})") from None


def read_job(job_dir: Path, sweep_dir: Path, key: str = "scheduler") -> dict[str, Any]:
    """One job of a sweep: its overrides, schedule and final loss, or what is wrong with its files.

    A bad file never stops the report: the job's row says what is wrong (``problem``) and the
    other jobs are reported as usual. A job without a valid schedule is listed but not plotted.
    """
    job: dict[str, Any] = {
        "job": str(job_dir.relative_to(sweep_dir)),
        "overrides": "",
        "schedule": None,
        "final_loss": None,
        "problem": "",
    }
    problems = []
    try:
        overrides = _load_yaml(job_dir / ".hydra" / "overrides.yaml")
        if not isinstance(overrides, ListConfig):
            raise ValueError("not a list")
        job["overrides"] = " ".join(str(item) for item in overrides)
    except ValueError as error:
        problems.append(f".hydra/overrides.yaml: {error}")
    try:
        config = _load_yaml(job_dir / ".hydra" / "config.yaml")
        if not isinstance(config, DictConfig):
            raise ValueError("not a mapping")
        node = OmegaConf.select(config, key)
        if node is None:
            raise ValueError(f"no '{key}' node")
        job["schedule"] = schedule_from(node)
    except (ValueError, BoundedLRError, OmegaConfBaseException, TypeError) as error:
        problems.append(f".hydra/config.yaml: {error}")
    result_file = job_dir / RESULT_FILE
    if result_file.is_file():
        try:
            result = json.loads(result_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problems.append(f"{RESULT_FILE}: unreadable ({type(error).__name__})")
        else:
            loss = result.get("final_loss") if isinstance(result, dict) else None
            if not isinstance(result, dict):
                problems.append(f"{RESULT_FILE}: not a mapping")
            elif isinstance(loss, bool) or not isinstance(loss, (int, float)) or loss != loss:
                problems.append(f"{RESULT_FILE}: final_loss is not a number: {loss!r}")
            else:
                job["final_loss"] = float(loss)
    job["problem"] = "; ".join(problems)
    return job


_COLUMNS = (
    "job",
    "overrides",
    "kind",
    "initial_lr",
    "final_lr",
    "max_steps",
    "n_updates",
    "warmup_steps",
    "final_lr_at",
    "gamma",
    "step_size",
    "final_loss",
    "problem",
)


def _rows(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for job in jobs:
        row: dict[str, Any] = dict.fromkeys(_COLUMNS, "")
        row.update(job=job["job"], overrides=job["overrides"], problem=job["problem"])
        s: Schedule | None = job["schedule"]
        if s is not None:
            row.update(
                kind=s.kind,
                initial_lr=s.initial_lr,
                final_lr=s.final_lr,
                max_steps=s.max_steps,
                n_updates=s.count,
                warmup_steps=s.warmup_steps,
                final_lr_at=s.final_lr_at,
                gamma=s.gamma,
                step_size="" if s.step_size is None else s.step_size,
            )
        if job["final_loss"] is not None:
            row["final_loss"] = job["final_loss"]
        rows.append(row)
    return rows


def _cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, line breaks folded, so a row stays one row."""
    return " ".join(str(value).split()).replace("\\", "\\\\").replace("|", "\\|")


def write_report(sweep_dir: Path, jobs: list[dict[str, Any]]) -> None:
    """Write ``sweep_report.{png,csv,md}`` for ``jobs`` (as collected by :class:`SweepReport`).

    Every job is a row; jobs whose files are broken say so in ``problem`` and are not plotted.
    """
    from bounded_lr_resolver.curve import lr_curve
    from bounded_lr_resolver.report import write_png

    rows = _rows(jobs)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(sweep_dir / "sweep_report.csv", buffer.getvalue())
    header = "| " + " | ".join(_COLUMNS) + " |\n|" + "---|" * len(_COLUMNS) + "\n"
    body = "".join("| " + " | ".join(_cell(value) for value in row.values()) + " |\n" for row in rows)
    atomic_write_text(sweep_dir / "sweep_report.md", header + body)
    plotted = [job for job in jobs if job["schedule"] is not None]
    curves = {
        f"{job['job']}: {job['overrides'] or '(defaults)'}": (job["schedule"], lr_curve(job["schedule"]))
        for job in plotted
    }
    losses = [
        (job["schedule"].final_lr, job["final_loss"]) for job in plotted if job["final_loss"] is not None
    ]
    title = f"sweep of {len(jobs)} jobs: {sweep_dir.name}" + (
        f" ({len(jobs) - len(plotted)} not plotted, see sweep_report.md)" if len(plotted) < len(jobs) else ""
    )
    write_png(sweep_dir / "sweep_report.png", curves, title, losses)
