"""Read a sweep's job folders and write ``sweep_report.{csv,md,png}``: every job a row, whatever its files.

A job's row has its overrides, the schedule it ran (the one its scheduler was built with, from
``scheduler.json`` where :mod:`bounded_lr_resolver.built` wrote one, so a horizon set at run time
is the one shown, and ``set_at_run_time`` names such fields; else the one its config declares),
its final loss (if it wrote ``result.json``: ``{"final_loss": <number>, ...}``), its status and
error (from :mod:`bounded_lr_resolver.sweep`), and what is wrong
with its files (``problem``). Every job file is untrusted input, read within bounds
(:func:`bounded_lr_resolver.files.load_json`, :func:`~bounded_lr_resolver.files.load_yaml`): a
cut-off, huge, deeply nested or foreign file, or a ``final_loss`` that is not a finite number, is
that row's ``problem`` and never stops the report. Jobs whose schedule is known and that ran are
plotted.

What the files show, and how they are made safe to open:

- ``sweep_report.md`` and the PNG's legend show, of each job's overrides, only those of a key
  whose override is not the same in every job (the swept ones, see :func:`swept`); the overrides
  every job shares are one line above the table. ``sweep_report.csv`` keeps each job's full
  overrides (it is the data to analyse).
- Markdown cells are escaped: ``&``, ``<`` and ``>`` as HTML entities (an override cannot add
  markup), ``\\ ` * [ ] | ~`` and a ``_`` that could start emphasis with a backslash, and
  line breaks folded, so a row stays one row of text.
- A CSV text cell that a spreadsheet would read as a formula (one beginning with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return) is prefixed with a single quote, as OWASP recommends
  against CSV injection: a spreadsheet shows the quote-prefixed ``'+lr=0.1`` (Hydra's append
  syntax) as the text ``+lr=0.1``; a program reading the CSV drops the one leading ``'`` of such
  a cell. Numbers are written as numbers (a negative loss stays a number).
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from bounded_lr_resolver.built import RECORD_FILE
from bounded_lr_resolver.errors import missing_extra
from bounded_lr_resolver.files import atomic_write_text, load_json, load_yaml
from bounded_lr_resolver.schedule import SCHEDULE_FIELDS, Schedule

__all__ = ["RESULT_FILE", "read_job", "schedule_from", "swept", "write_report"]

RESULT_FILE = "result.json"
"""A job may write ``{"final_loss": ...}`` here; the sweep report then shows it."""


def schedule_from(node: Any, where: str = "sweep report") -> Schedule:
    """Build the :class:`Schedule` a scheduler config node (e.g. ``bounded_lr@scheduler: step``) declares."""
    values = {key: node[key] for key in SCHEDULE_FIELDS if key in node}
    return Schedule(where=where, **values)


def read_job(
    job_dir: Path, sweep_dir: Path, key: str = "scheduler", started_ns: int | None = None
) -> dict[str, Any]:
    """One job of a sweep: its overrides, schedule and final loss, or what is wrong with its files.

    A bad file never stops the report: the job's row says what is wrong (``problem``) and the
    other jobs are reported as usual. A job without a valid schedule is listed but not plotted.
    A ``result.json`` older than ``started_ns`` (the job's start) was left by an earlier run and
    is ignored, with a note. ``overrides`` is the job's list of overrides, or None if unknown.
    """
    job: dict[str, Any] = {
        "job": str(job_dir.relative_to(sweep_dir)),
        "overrides": None,
        "schedule": None,
        "final_loss": None,
        "status": "",
        "error": "",
        "problem": "",
        "set_at_run_time": "",
    }
    problems = []
    try:
        overrides = load_yaml(job_dir / ".hydra" / "overrides.yaml")
        if not isinstance(overrides, ListConfig):
            raise ValueError("not a list")
        job["overrides"] = [str(item) for item in overrides]
    except ValueError as error:
        problems.append(f".hydra/overrides.yaml: {error}")
    built = job_dir / RECORD_FILE  # what the job's scheduler was built with comes before the config
    if built.exists() and started_ns is not None and built.stat().st_mtime_ns < started_ns:
        problems.append(f"{RECORD_FILE}: older than this job (left by an earlier run), ignored")
    elif built.exists():
        try:
            job["schedule"], job["set_at_run_time"] = _built(load_json(built))
        except Exception as error:  # a damaged or foreign record is its row's problem
            problems.append(f"{RECORD_FILE}: {error}")
    if job["schedule"] is None:
        try:
            config = load_yaml(job_dir / ".hydra" / "config.yaml")
            if not isinstance(config, DictConfig):
                raise ValueError("not a mapping")
            node = OmegaConf.select(config, key)
            if node is None:
                raise ValueError(f"no '{key}' node")
            late = [name for name in ("initial_lr", "max_steps") if name in node and node[name] is None]
            if late:
                raise ValueError(
                    f"{' and '.join(late)} set at run time, and the job recorded no {RECORD_FILE} (it "
                    "built no scheduler, or not through build_scheduler)"
                )
            job["schedule"] = schedule_from(node)
        except Exception as error:  # the job's values and schedule: any error is its row's
            problems.append(f".hydra/config.yaml: {error}")
    result_file = job_dir / RESULT_FILE
    if result_file.exists() and started_ns is not None and result_file.stat().st_mtime_ns < started_ns:
        problems.append(f"{RESULT_FILE}: older than this job (left by an earlier run), ignored")
    elif result_file.exists():
        try:
            job["final_loss"] = _final_loss(load_json(result_file))
        except ValueError as error:
            problems.append(f"{RESULT_FILE}: {error}")
    job["problem"] = "; ".join(problems)
    return job


def _built(record: object) -> tuple[Schedule, str]:
    """The schedule a job's ``scheduler.json`` says it was built with, and what was set at run time."""
    if not isinstance(record, dict) or record.get("format") != 1:
        raise ValueError("not a scheduler record of this version")
    schedules, late = record.get("schedules"), record.get("set_at_run_time")
    if not isinstance(schedules, list) or not schedules or not isinstance(schedules[0], dict):
        raise ValueError("no schedules")
    if not isinstance(late, list) or not all(isinstance(name, str) for name in late):
        raise ValueError("set_at_run_time is not a list of names")
    return Schedule(where=RECORD_FILE, **schedules[0]), " ".join(late)


def _final_loss(result: object) -> float:
    """The finite ``final_loss`` of a parsed ``result.json``; ValueError says what is wrong."""
    if not isinstance(result, dict):
        raise ValueError("not a mapping")
    loss = result.get("final_loss")
    if isinstance(loss, bool) or not isinstance(loss, (int, float)):
        raise ValueError(f"final_loss is not a number: {_short(loss)}")
    try:
        number = float(loss)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"final_loss is not finite: {_short(loss)}")
    return number


def _short(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters (a huge integer is not even converted)."""
    if isinstance(value, int) and value.bit_length() > 4 * limit:
        return f"<an integer of {value.bit_length()} bits>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    "set_at_run_time",
    "status",
    "error",
    "problem",
)


def _key(override: str) -> str:
    """An override's key as written (``+a.b`` of ``+a.b=1``, ``~a`` of ``~a``)."""
    return override.split("=", 1)[0]


def swept(jobs: list[dict[str, Any]]) -> tuple[list[str], list[list[str] | None]]:
    """The overrides every job shares, and each job's others (None where its overrides are unknown).

    An override is shared when every job whose overrides are known has it, exactly; the rest (the
    swept keys, and any key some jobs lack) are each job's own.
    """
    known = [job["overrides"] for job in jobs if job["overrides"] is not None]
    shared = [item for item in known[0] if all(item in others for others in known)] if known else []
    keys = {_key(item) for item in shared}
    return shared, [
        None if job["overrides"] is None else [item for item in job["overrides"] if _key(item) not in keys]
        for job in jobs
    ]


def _rows(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for job in jobs:
        row: dict[str, Any] = dict.fromkeys(_COLUMNS, "")
        row.update(
            {key: job.get(key, "") for key in ("job", "status", "error", "problem", "set_at_run_time")}
        )
        row["overrides"] = " ".join(job["overrides"] or [])
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


_MARKDOWN = re.compile(r"[\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _cell(value: object) -> str:
    """A Markdown table cell that shows ``value`` as text: no markup, no link, one row.

    HTML's ``& < >`` become entities; ``\\ ` * [ ] | ~`` and a ``_`` that could open or close
    emphasis (not one inside a word, as in ``final_lr``) get a backslash; line breaks are folded.
    """
    text = " ".join(str(value).split()).translate(_HTML)
    return _MARKDOWN.sub(lambda match: "\\" + match.group(0), text)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    """A CSV cell no spreadsheet runs as a formula: text beginning with one of ``= + - @``, tab
    or CR gets a leading ``'`` (OWASP); numbers are left as numbers."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA) else value


def _markdown(rows: list[dict[str, Any]], shared: list[str], own: list[list[str] | None]) -> str:
    lines = []
    if shared:
        lines += ["Overrides of every job: " + _cell(" ".join(shared)), ""]
    lines.append("| " + " | ".join(_COLUMNS) + " |")
    lines.append("|" + "---|" * len(_COLUMNS))
    for row, overrides in zip(rows, own, strict=True):
        cells = {**row, "overrides": " ".join(overrides or [])}
        lines.append("| " + " | ".join(_cell(cells[column]) for column in _COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, failed: dict[Path, BaseException]) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as error:
        failed[path] = error


def write_report(
    sweep_dir: Path, jobs: list[dict[str, Any]], plot: bool = True, name: str = ""
) -> dict[Path, BaseException]:
    """Write ``sweep_report.{csv,md}`` (and with ``plot``, ``.png``) for ``jobs`` (see :func:`read_job`).

    Each file is written on its own (atomically): one that cannot be written never stops the
    others. Returns every file not written, with why: the ``OSError`` of a failed write (which
    names the file), or where an extra is missing (numpy, matplotlib), the PNG's
    ``MissingExtraError``. Empty when every file was written.

    Every job is a row; jobs whose files are broken say so in ``problem``; jobs that failed or did
    not run, and jobs without a schedule, are not plotted.
    """
    failed: dict[Path, BaseException] = {}
    rows = _rows(jobs)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(_COLUMNS))
    writer.writeheader()
    writer.writerows({column: _csv_cell(value) for column, value in row.items()} for row in rows)
    _write(sweep_dir / "sweep_report.csv", buffer.getvalue(), failed)
    shared, own = swept(jobs)
    _write(sweep_dir / "sweep_report.md", _markdown(rows, shared, own), failed)
    if not plot:
        return failed
    png = sweep_dir / "sweep_report.png"
    try:  # numpy and matplotlib: the [plot] extra; the CSV and the table need neither
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
    except ModuleNotFoundError as error:
        failed[png] = missing_extra(error, png.name, "plot")
        return failed
    from bounded_lr_resolver.preview import preview
    from bounded_lr_resolver.report import write_png

    labels = {id(job): " ".join(overrides or []) for job, overrides in zip(jobs, own, strict=True)}
    plotted = [job for job in jobs if job["schedule"] is not None and job["status"] in ("", "COMPLETED")]
    curves = {
        f"{job['job']}: {labels[id(job)]}" if labels[id(job)] else str(job["job"]): preview(
            job["schedule"], max_points=20_000
        )
        for job in plotted
    }
    losses = [
        (job["schedule"].final_lr, job["final_loss"]) for job in plotted if job["final_loss"] is not None
    ]
    title = f"sweep of {len(jobs)} jobs: {name or sweep_dir.name}" + (
        f" ({len(jobs) - len(plotted)} not plotted, see sweep_report.md)" if len(plotted) < len(jobs) else ""
    )
    try:
        write_png(png, curves, title, losses)
    except OSError as error:
        failed[png] = error
    return failed
