"""Write ``sweep_report.{csv,md,png}`` for a sweep's jobs: every job a row, whatever its files.

Each job is read by :func:`~bounded_lr_resolver.job_files.read_job` (its overrides, the schedule it
ran, its final loss from ``result.json``: ``{"final_loss": <number>, ...}``, and what is wrong with
its files); its status and error come from :mod:`bounded_lr_resolver.sweep`. A row also has the
step a cooldown branch began at (``branch_from``) and the two numbers that predict a run's final
loss from its schedule, S1 and S2 (:mod:`bounded_lr_resolver.areas`). Jobs whose schedule is known
and that ran are plotted; a sweep of cooldown branches is drawn as one family
(:mod:`bounded_lr_resolver.family`).

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
import re
from pathlib import Path
from typing import Any

from bounded_lr_resolver.areas import areas
from bounded_lr_resolver.errors import missing_extra
from bounded_lr_resolver.files import atomic_write_text
from bounded_lr_resolver.job_files import RESULT_FILE, followed, read_job, schedule_from
from bounded_lr_resolver.schedule import Schedule

__all__ = ["RESULT_FILE", "read_job", "schedule_from", "swept", "write_report"]

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
    "branch_from",
    "S1",
    "S2",
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


MAX_AREA_STEPS = 10**8
"""S1 and S2 are summed step by step (about half a second per 10**6 steps): past this many steps a
job's are left empty."""


def _rows(jobs: list[dict[str, Any]], with_areas: bool) -> list[dict[str, Any]]:
    """One row per job; S1 and S2 only ``with_areas`` (the final report: the ones while jobs end
    would sum every finished job again each time)."""
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
        plan, steps = followed(job)
        if job.get("branch_at") is not None and plan is not None:  # a branch ends where its cooldown does
            row.update(branch_from=job["branch_at"], final_lr=plan.final, max_steps=plan.total)
            cooldown = [part for part in plan.parts if part.begin >= job["branch_at"]]
            row["shape"] = "cooldown=" + ",".join(
                f"{part.phase.shape}:{part.phase.steps}->{part.end:g}" for part in cooldown
            )
        if with_areas and plan is not None and 0 < steps <= MAX_AREA_STEPS:
            row["S1"], row["S2"] = areas(plan, steps, warmup=s.warmup_steps if s is not None else 0)
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


def _family(
    png: Path,
    plotted: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    labels: dict[int, str],
    name: str,
    count: int,
    failed: dict[Path, BaseException],
) -> dict[Path, BaseException]:
    """The PNG of a sweep of cooldown branches (:mod:`bounded_lr_resolver.family`)."""
    from bounded_lr_resolver.family import write_family_png

    by_job = {row["job"]: row for row in rows}
    branches, others = [], []
    for job in plotted:
        plan, steps = followed(job)
        entry = {"job": job["job"], "label": labels[id(job)] or str(job["job"]), "plan": plan, "steps": steps}
        if job["branch_at"] is not None and steps:
            row = by_job[job["job"]]
            entry.update(branch_at=job["branch_at"], S1=row["S1"], S2=row["S2"], final_loss=job["final_loss"])
            branches.append(entry)
        elif steps:
            others.append(entry)
    title = f"{len(branches)} cooldown branches of one stable run: {name}" + (
        f" ({count - len(branches) - len(others)} not plotted, see sweep_report.md)"
        if len(branches) + len(others) < count
        else ""
    )
    try:
        write_family_png(png, branches, others, title)
    except OSError as error:
        failed[png] = error
    return failed


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
    rows = _rows(jobs, with_areas=plot)
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
    if any(job["branch_at"] is not None for job in plotted):  # a family of cooldown branches
        return _family(png, plotted, rows, labels, name or sweep_dir.name, len(jobs), failed)
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
