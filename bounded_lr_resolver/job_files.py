"""One job of a sweep, read from its files: the schedule it ran, its loss, and what is wrong with them.

Every job file is untrusted input, read within bounds (:func:`bounded_lr_resolver.files.load_json`,
:func:`~bounded_lr_resolver.files.load_yaml`): a cut-off, huge, deeply nested or foreign file, or
a ``final_loss`` that is not a finite number, is that job's ``problem`` and never stops the
report. The schedule a job ran is the one its scheduler was built with (``scheduler.json``, see
:mod:`bounded_lr_resolver.built`: a horizon set at run time, the plan after a re-planned resume or
a cooldown branch) where the job recorded one, else the one its config declares.
:mod:`bounded_lr_resolver.sweep_report` writes the report from these.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from bounded_lr_resolver.built import RECORD_FILE
from bounded_lr_resolver.checkpoint import plan_from_record
from bounded_lr_resolver.files import load_json, load_yaml
from bounded_lr_resolver.phases import Plan
from bounded_lr_resolver.schedule import SCHEDULE_FIELDS, Schedule

__all__ = ["RESULT_FILE", "followed", "read_job", "schedule_from"]

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
        "plan": None,  # the LR at every step as it was followed (scheduler.json), if recorded
        "branch_at": None,  # the step a cooldown branch was planned from, if one was
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
            job.update(_built(load_json(built)))
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


def _built(record: object) -> dict[str, Any]:
    """What a job's ``scheduler.json`` says: the schedule it was built with, what was set at run
    time, the plan it followed and where a cooldown branch began."""
    if not isinstance(record, dict) or record.get("format") != 1:
        raise ValueError("not a scheduler record of this version")
    schedules, late = record.get("schedules"), record.get("set_at_run_time")
    if not isinstance(schedules, list) or not schedules or not isinstance(schedules[0], dict):
        raise ValueError("no schedules")
    if not isinstance(late, list) or not all(isinstance(name, str) for name in late):
        raise ValueError("set_at_run_time is not a list of names")
    branches = record.get("branches", [])
    if not isinstance(branches, list) or not all(type(step) is int and step >= 0 for step in branches):
        raise ValueError("branches is not a list of steps")
    main = record.get("main_group", 0)
    if type(main) is not int or not 0 <= main < len(schedules) or not isinstance(schedules[main], dict):
        raise ValueError("main_group is not the index of one of its schedules")
    found: dict[str, Any] = {"schedule": Schedule(where=RECORD_FILE, **schedules[main])}
    found["set_at_run_time"] = " ".join(late)
    if "plan" in record:
        found["plan"] = plan_from_record(record["plan"], RECORD_FILE)
    found["branch_at"] = branches[-1] if branches else None
    return found


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


def followed(job: dict[str, Any]) -> tuple[Plan | None, int]:
    """The plan a job followed (recorded, else its schedule's) and the steps it trained (0: unknown)."""
    plan: Plan | None = job.get("plan")
    schedule: Schedule | None = job["schedule"]
    if plan is None and schedule is not None:
        plan = schedule.plan
    if plan is None:
        return None, 0
    open_ended = schedule is not None and schedule.open_ended and job.get("branch_at") is None
    return plan, 0 if open_ended else plan.total
