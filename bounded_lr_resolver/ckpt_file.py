"""A scheduler's state out of a checkpoint file, and what loading it into a declaration would do.

:func:`scheduler_state` reads ``torch.save(scheduler.state_dict())``, a dict holding one under
``"scheduler"`` (the main job's ``task=train`` checkpoints) or a Lightning checkpoint (its first
``lr_schedulers`` entry), as plain data only (``torch.load(weights_only=True)``).
:func:`check_resume` runs the load's parse and decision (:mod:`bounded_lr_resolver.checkpoint`,
:mod:`bounded_lr_resolver.resume`) against a declaration, without an optimizer: what the sweep
preflight does for every job that resumes or branches, before any job starts. torch is imported
only when a file is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bounded_lr_resolver.errors import bad_value, missing_extra

__all__ = ["check_resume", "scheduler_state"]


def scheduler_state(path: object, where: str, key: str) -> dict[str, Any]:
    """The scheduler state dict in the checkpoint at ``path`` (named ``key`` in messages)."""
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise bad_value(where, key, "an existing checkpoint file", {key: path})
    try:
        import torch
    except ModuleNotFoundError as error:
        raise missing_extra(error, f"reading the checkpoint {key}") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch's own errors alike
        raise bad_value(
            where,
            key,
            "a checkpoint torch.load(weights_only=True) can read",
            {key: str(path), "error": f"{type(error).__name__}: {error}"[:200]},
        ) from None
    if isinstance(data, dict) and isinstance(data.get("lr_schedulers"), list) and data["lr_schedulers"]:
        data = data["lr_schedulers"][0]  # a Lightning checkpoint
    elif isinstance(data, dict) and isinstance(data.get("scheduler"), dict):
        data = data["scheduler"]
    if not isinstance(data, dict):
        raise bad_value(where, key, "a checkpoint holding a scheduler state dict", {key: str(path)})
    return data


def check_resume(path: object, values: Mapping[str, Any], where: str, key: str) -> None:
    """Raise what loading the checkpoint at ``path`` into the declaration ``values`` would raise.

    ``values`` are a scheduler node's keys; each param group of the checkpoint follows the
    declaration at its own base LR, as a scheduler built for the same optimizer would.
    """
    from bounded_lr_resolver.checkpoint import parse
    from bounded_lr_resolver.derived import declared
    from bounded_lr_resolver.resume import decide

    state = scheduler_state(path, where, key)
    bounds = state.get("bounds")
    saved = parse(state, len(bounds) if isinstance(bounds, list) else 0)
    plan = declared(values, where)
    if not plan:
        return  # left to run time: nothing to compare yet
    if len(plan) == len(saved.bounds):  # one declared schedule per group (per-group lists)
        groups = plan
    else:
        schedule = plan[0][0]
        groups = [(schedule, float(entry.get("base_lr", schedule.initial_lr))) for entry in saved.bounds]
    decide(saved, groups, str(values.get("on_resume_change", "refuse")), bool(values.get("branch_of_branch")))
