"""The record of what a Hydra job's scheduler was built with: ``scheduler.json`` and ``resolved_config.yaml``.

A scheduler's horizon is often known only at run time (``make(optimizer=o,
max_steps=trainer.estimated_stepping_batches)``, the Lightning helper, ``max_steps: null`` in the
config), after Hydra composed the config and our callbacks wrote ``resolved_config.yaml``. So that
every record shows the schedule that ran, :func:`record_build` is called by ``build_scheduler``
each time it builds a scheduler inside a Hydra job whose config lists one of this package's
callbacks (the ``bounded-lr`` job does), and

- writes ``scheduler.json`` in the job's output directory: the bounds each param group's schedule
  was built with, every length in steps (``"as_given"`` keeps a duration such as ``"0.05dur"``),
  and which fields were ``"set_at_run_time"`` (the trainer's horizon, the optimizer's lr);
- rewrites ``resolved_config.yaml`` (if :class:`~bounded_lr_resolver.callbacks.SaveResolvedConfig`
  wrote one) with the values that ran in the scheduler's node, each changed line marked
  ``# set at run time`` (``max_steps: 4321  # set at run time``), ``# derived at run time``
  (``gamma``, ``step_size``), or with the duration it was given as (``warmup_steps: 43  # 0.01dur``).
  The node is the one whose declared values the scheduler's partial remembers; if no node or
  several match, or the file cannot be read back as plain YAML, it is left as it was
  (``scheduler.json`` still says what ran).

The sweep report reads ``scheduler.json`` before the config. Outside a Hydra job, or in an app
that does not use our callbacks, nothing is written. A job that builds several schedulers records
the last one. Both files are written atomically (:mod:`bounded_lr_resolver.files`); a failed write
is reported as the callbacks report theirs.

``scheduler.json``::

    {"format": 1, "set_at_run_time": ["max_steps"], "as_given": {"warmup_steps": "0.05dur"},
     "schedules": [{"initial_lr": 0.1, "final_lr": 0.0, "max_steps": 4321, "kind": "cosine", ...}],
     "open_ended": false,
     "plan": {"start_lr": 0.0, "phases": [{"shape": "linear", "steps": 216, "end_lr": 0.1, ...}, ...]},
     "resumed_at": [...], "branches": [...]}

``schedules`` are the declared bounds of each param group (``Schedule(**bounds)`` rebuilds one);
``plan`` is the first group's LR at every step as it is followed: after a load that re-planned
the rest or planned a cooldown branch, it is written again with the history and the new rest
(``resumed_at``, ``branches``: the steps where they begin; see :mod:`bounded_lr_resolver.branch`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from bounded_lr_resolver.checkpoint import tail_record
from bounded_lr_resolver.files import atomic_write_text

__all__ = ["RECORD_FILE", "annotate", "record_build", "recording_dir"]

RECORD_FILE: Final = "scheduler.json"
"""The file, in a job's output directory, that says what its scheduler was built with."""

_FORMAT: Final = 1
_TARGET: Final = "bounded_lr_resolver.build_scheduler"
_OURS: Final = "bounded_lr_resolver.callbacks."
_RESOLVED: Final = "resolved_config.yaml"
_DERIVED: Final = ("gamma", "step_size", "n_updates")
_LINE = re.compile(r"^( *)(- )?([^\s:#'\"][^:#]*?):(?: |$)")


def recording_dir() -> Path | None:
    """The running Hydra job's output directory if its config lists one of our callbacks, else None."""
    if "hydra" not in sys.modules:  # no Hydra loaded: not a Hydra job
        return None
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hydra: Any = HydraConfig.get()
    callbacks = hydra.get("callbacks") or {}
    if not any(str(node.get("_target_", "")).startswith(_OURS) for node in callbacks.values()):
        return None
    out = hydra.runtime.get("output_dir")
    return Path(out) if out else None


def record_build(
    schedules: list[Any],
    declared: Mapping[str, Any] | None,
    plan: Any = None,
    main: int = 0,
    *,
    resumed_at: tuple[int, ...] = (),
    branches: tuple[int, ...] = (),
) -> None:
    """Record the schedules a scheduler was built with (see the module docstring).

    Args:
        schedules: each param group's :class:`~bounded_lr_resolver.schedule.Schedule`.
        declared: the config node's bounds (``build_scheduler``'s ``derived_from``), to find the
            node in ``resolved_config.yaml``; None for a scheduler built without a config (or
            recorded again after a load).
        plan: the main param group's :class:`~bounded_lr_resolver.phases.Plan` as it is followed
            (after a resume: the history, then the re-planned rest or the cooldown branch).
        main: the main group's index (the one at ``initial_lr``, whose schedule the report shows).
        resumed_at: the steps at which a resume re-planned the rest of the run.
        branches: the steps at which a cooldown branch was planned.
    """
    out = recording_dir()
    if out is None or not schedules:
        return
    late = sorted({name for schedule in schedules for name in schedule.at_run_time})
    given: dict[str, Any] = {}
    for schedule in schedules:
        given.update(schedule.given)
    record: dict[str, Any] = {
        "format": _FORMAT,
        "set_at_run_time": late,
        "as_given": given,
        "schedules": [schedule.bounds() for schedule in schedules],
        "main_group": main,
        "open_ended": bool(schedules[main].open_ended),
    }
    if plan is not None:
        record["plan"] = tail_record(plan)
    if resumed_at:
        record["resumed_at"] = list(resumed_at)
    if branches:
        record["branches"] = list(branches)
    _write(out / RECORD_FILE, json.dumps(record, indent=1) + "\n")
    resolved = out / _RESOLVED
    if declared is not None and resolved.is_file():
        text = _updated(resolved.read_text(encoding="utf-8"), schedules[main], declared, late)
        if text is not None:
            _write(resolved, text)


def _write(path: Path, text: str) -> None:
    """Write a record atomically; a failure names the record and the file (the previous file is intact)."""
    try:
        atomic_write_text(path, text)
    except OSError as error:
        raise OSError(
            error.errno,
            f"build_scheduler: could not write the record of the scheduler it built ({error.strerror}; "
            "a previous file is intact)",
            str(path),
        ) from error


def _nodes(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every ``build_scheduler`` node of a loaded YAML mapping, with its path of keys."""
    found: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("_target_") == _TARGET:
            found.append((path, node))
        for key, value in node.items():
            found += _nodes(value, (*path, str(key)))
    return found


def _updated(text: str, schedule: Any, declared: Mapping[str, Any], late: list[str]) -> str | None:
    """``resolved_config.yaml``'s text with the built values in the matching node, or None if none matches."""
    import yaml
    from omegaconf import OmegaConf

    try:
        data = yaml.safe_load(text)  # plain data: interpolations kept as their text
    except yaml.YAMLError:  # e.g. a !!python tag OmegaConf wrote for a pathlib.Path value
        return None
    matches = [
        (path, node)
        for path, node in _nodes(data)
        if all(node.get(key) == value for key, value in declared.items() if not isinstance(value, list))
    ]
    if len(matches) != 1:  # no node, or several that declare the same: the file stays as it was
        return None
    path, node = matches[0]
    built = schedule.bounds()
    comments: dict[str, str] = {}
    for key in late:
        if key in built and node.get(key) != built[key]:
            node[key], comments[key] = built[key], "set at run time"
    for key, duration in schedule.given.items():  # a length given as a duration: its steps
        if key in built and node.get(key) == duration:
            node[key] = built[key]
            comments[key] = f"{duration}" + (" of the run-time horizon, rounded down" if late else "")
    for key, value in (("gamma", schedule.gamma), ("step_size", schedule.step_size), ("n_updates", None)):
        value = built.get(key) if value is None else value
        if key in node and node[key] is None and value is not None:
            node[key], comments[key] = value, "derived at run time"
    if not comments:
        return None
    try:
        dumped = OmegaConf.to_yaml(data)  # as SaveResolvedConfig wrote it
    except Exception:  # a value OmegaConf cannot hold: the file stays as it was
        return None
    for key, comment in comments.items():
        dumped = annotate(dumped, (*path, key), comment)
    return dumped


def annotate(text: str, path: tuple[str, ...], comment: str) -> str:
    """``text`` (block-style YAML) with ``  # comment`` after the line of the mapping key at ``path``.

    >>> print(annotate("a:\\n  b: 1\\n  c: 2\\n", ("a", "c"), "set at run time"), end="")
    a:
      b: 1
      c: 2  # set at run time
    """
    stack: list[tuple[int, str]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = _LINE.match(line)
        if match is None or match.group(2):  # not a plain mapping key (a list item, a scalar's line)
            continue
        indent, key = len(match.group(1)), match.group(3).strip()
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if tuple(name for _, name in stack) == path:
            lines[number] = f"{line}  # {comment}"
            break
    return "\n".join(lines) + "\n"
