"""Read a sweep's job folders and write ``sweep_report.{csv,md,png}``: every job a row, whatever its files.

A job's row has its overrides, the schedule its config declares, its final loss (if it wrote
``result.json``), its status and error (from :mod:`bounded_lr_resolver.sweep`), and what is wrong
with its files (``problem``): a cut-off or foreign file never stops the report. Jobs whose
schedule is known and that ran are plotted.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bounded_lr_resolver.errors import BoundedLRError, missing_extra
from bounded_lr_resolver.files import atomic_write_text
from bounded_lr_resolver.schedule import SCHEDULE_FIELDS, Schedule

__all__ = ["RESULT_FILE", "read_job", "schedule_from", "write_report"]

RESULT_FILE = "result.json"
"""A job may write ``{"final_loss": ...}`` here; the sweep report then shows it."""


def schedule_from(node: Any, where: str = "sweep report") -> Schedule:
    """Build the :class:`Schedule` a scheduler config node (e.g. ``bounded_lr@scheduler: step``) declares."""
    values = {key: node[key] for key in SCHEDULE_FIELDS if key in node}
    return Schedule(where=where, **values)


def _load_yaml(path: Path) -> Any:
    """A job file as data; raises ValueError saying what is wrong with it."""
    if not path.is_file():
        raise ValueError("missing")
    try:
        return OmegaConf.load(path)
    except Exception as error:  # a cut-off or hand-edited file: YAML and OmegaConf errors alike
        raise ValueError(f"unreadable ({type(error).__name__})") from None


def read_job(
    job_dir: Path, sweep_dir: Path, key: str = "scheduler", started_ns: int | None = None
) -> dict[str, Any]:
    """One job of a sweep: its overrides, schedule and final loss, or what is wrong with its files.

    A bad file never stops the report: the job's row says what is wrong (``problem``) and the
    other jobs are reported as usual. A job without a valid schedule is listed but not plotted.
    A ``result.json`` older than ``started_ns`` (the job's start) was left by an earlier run and
    is ignored, with a note.
    """
    job: dict[str, Any] = {
        "job": str(job_dir.relative_to(sweep_dir)),
        "overrides": "",
        "schedule": None,
        "final_loss": None,
        "status": "",
        "error": "",
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
    if result_file.is_file() and started_ns is not None and result_file.stat().st_mtime_ns < started_ns:
        problems.append(f"{RESULT_FILE}: older than this job (left by an earlier run), ignored")
    elif result_file.is_file():
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
    "shape",
    "final_loss",
    "status",
    "error",
    "problem",
)


def _rows(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for job in jobs:
        row: dict[str, Any] = dict.fromkeys(_COLUMNS, "")
        row.update({key: job[key] for key in ("job", "overrides", "status", "error", "problem")})
        s: Schedule | None = job["schedule"]
        if s is not None:
            row.update(
                kind=s.kind,
                initial_lr=s.initial_lr,
                final_lr=s.final_lr,
                max_steps=s.max_steps,
                n_updates=s.count if s.stepwise else "",
                warmup_steps=s.warmup_steps,
                final_lr_at=s.final_lr_at,
                gamma=s.gamma if s.stepwise else "",
                step_size="" if s.step_size is None else s.step_size,
                shape=_shape(s),
            )
        if job["final_loss"] is not None:
            row["final_loss"] = job["final_loss"]
        rows.append(row)
    return rows


def _shape(s: Schedule) -> str:
    """The shape column: a shape's parameters (from the registry), wsd's cooldown, or each phase in short."""
    words = [f"{key}={value}" for key, value in s.params.items()]
    if s.kind == "wsd":
        words += [f"decay_steps={s.decay_steps}", f"decay_shape={s.decay_shape}"]
    if s.kind == "phases":
        words.append("phases=" + ",".join(f"{p.shape}:{p.steps}->{p.end_lr:g}" for p in s.phases))
    return " ".join(words)


def _cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, line breaks folded, so a row stays one row."""
    return " ".join(str(value).split()).replace("\\", "\\\\").replace("|", "\\|")


def write_report(
    sweep_dir: Path, jobs: list[dict[str, Any]], plot: bool = True, name: str = ""
) -> BaseException | None:
    """Write ``sweep_report.{csv,md}`` (and with ``plot``, ``.png``) for ``jobs`` (see :func:`read_job`).

    Returns why the PNG was not drawn where an extra is missing (numpy, matplotlib), else None.

    Every job is a row; jobs whose files are broken say so in ``problem``; jobs that failed or did
    not run, and jobs without a schedule, are not plotted.
    """
    rows = _rows(jobs)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(sweep_dir / "sweep_report.csv", buffer.getvalue())
    header = "| " + " | ".join(_COLUMNS) + " |\n|" + "---|" * len(_COLUMNS) + "\n"
    body = "".join("| " + " | ".join(_cell(value) for value in row.values()) + " |\n" for row in rows)
    atomic_write_text(sweep_dir / "sweep_report.md", header + body)
    if not plot:
        return None
    try:  # numpy and matplotlib: the [plot] extra; the CSV and the table need neither
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
    except ModuleNotFoundError as error:
        return missing_extra(error, "sweep_report.png", "plot")
    from bounded_lr_resolver.preview import preview
    from bounded_lr_resolver.report import write_png

    plotted = [job for job in jobs if job["schedule"] is not None and job["status"] in ("", "COMPLETED")]
    curves = {
        f"{job['job']}: {job['overrides'] or '(defaults)'}": preview(job["schedule"], max_points=20_000)
        for job in plotted
    }
    losses = [
        (job["schedule"].final_lr, job["final_loss"]) for job in plotted if job["final_loss"] is not None
    ]
    title = f"sweep of {len(jobs)} jobs: {name or sweep_dir.name}" + (
        f" ({len(jobs) - len(plotted)} not plotted, see sweep_report.md)" if len(plotted) < len(jobs) else ""
    )
    write_png(sweep_dir / "sweep_report.png", curves, title, losses)
    return None
