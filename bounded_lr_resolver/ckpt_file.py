"""A scheduler's state out of a checkpoint file, and what loading it into a declaration would do.

:func:`load_checkpoint` reads a checkpoint as plain data only (``torch.load(weights_only=True)``,
memory-mapped); :func:`scheduler_state` finds the scheduler's state in it:
``torch.save(scheduler.state_dict())`` itself, a dict holding one under ``"scheduler"`` (the main
job's ``task=train`` checkpoints) or a Lightning checkpoint (its first ``lr_schedulers`` entry).
:func:`check_resume` runs the load's parse and decision (:mod:`bounded_lr_resolver.checkpoint`,
:mod:`bounded_lr_resolver.resume`) against a declaration, without an optimizer: what the sweep
preflight does for every job that resumes or branches, before any job starts. Each file is read
once per process while it is unchanged (a sweep of many branches from one checkpoint reads it
once). torch is imported only when a file is read.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bounded_lr_resolver.errors import bad_value, missing_extra

__all__ = ["check_resume", "load_checkpoint", "scheduler_state"]


class Unreadable(Exception):
    """A checkpoint that exists but cannot be read as plain data here (a remote path, pickled objects)."""


def load_checkpoint(path: object, where: str, key: str) -> Any:
    """The checkpoint at ``path`` as plain data (named ``key`` in messages); our error if it is none."""
    try:
        return _read(path, where, key)
    except Unreadable as why:
        rule = "a checkpoint torch.load(weights_only=True) can read"
        raise bad_value(where, key, rule, {key: str(path)}, str(why)) from None


def _read(path: object, where: str, key: str) -> Any:
    if isinstance(path, str) and "://" in path:
        raise Unreadable("a remote path: the preflight reads local files only")
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise bad_value(where, key, "an existing checkpoint file", {key: path})
    file = Path(path).resolve()
    stat = file.stat()
    return _load(str(file), stat.st_mtime_ns, stat.st_size, key)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int, key: str) -> Any:
    try:
        import torch
    except ModuleNotFoundError as error:
        raise missing_extra(error, f"reading the checkpoint {key}") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # pickle, zip and torch's own errors alike
        reason = f"torch.load(weights_only=True) refused it: {type(error).__name__}: {error}"
        raise Unreadable(reason[:240]) from None


def scheduler_state(data: Any, where: str, key: str, path: object) -> dict[str, Any]:
    """The scheduler state dict in a loaded checkpoint ``data`` (from ``path``, named ``key``)."""
    if isinstance(data, dict) and isinstance(data.get("lr_schedulers"), list) and data["lr_schedulers"]:
        data = data["lr_schedulers"][0]  # a Lightning checkpoint
    elif isinstance(data, dict) and isinstance(data.get("scheduler"), dict):
        data = data["scheduler"]
    if not isinstance(data, dict):
        raise bad_value(where, key, "a checkpoint holding a scheduler state dict", {key: str(path)})
    return data


def check_resume(path: object, values: Mapping[str, Any], where: str, key: str) -> str | None:
    """Raise what loading the checkpoint at ``path`` into the declaration ``values`` would raise; or
    say (returned) why it could not be checked.

    ``values`` are a scheduler node's keys; each param group of the checkpoint follows the
    declaration at its own base LR, as a scheduler built for the same optimizer would. An
    ``initial_lr`` left to the optimizer is the checkpoint's (the optimizer resumes with it).
    """
    from bounded_lr_resolver.checkpoint import parse
    from bounded_lr_resolver.derived import declared
    from bounded_lr_resolver.resume import decide

    try:
        data = _read(path, where, key)
    except Unreadable as why:
        return f"not checked against {key}={path}: {why}"
    state = scheduler_state(data, where, key, path)
    bounds = state.get("bounds")
    saved = parse(state, len(bounds) if isinstance(bounds, list) else 0)
    values = dict(values)
    if values.get("initial_lr") is None and saved.bounds:
        values["initial_lr"] = saved.bounds[0].get("initial_lr")
    plan = declared(values, where)
    if not plan:
        return f"not checked against {key}: max_steps is set at run time (declare expected_max_steps)"
    if len(plan) == len(saved.bounds):  # one declared schedule per group (per-group lists)
        groups = plan
    else:
        schedule = plan[0][0]
        groups = [(schedule, float(entry.get("base_lr", schedule.initial_lr))) for entry in saved.bounds]
    decide(saved, groups, str(values.get("on_resume_change", "refuse")), bool(values.get("branch_of_branch")))
    return None
