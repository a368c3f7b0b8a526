"""A :class:`~bounded_lr_resolver.scheduler.BoundedLR` checkpoint read whole into a typed :class:`Saved`.

A truncated, foreign or hand-edited state dict is refused with an error naming the field and its
value, before anything is applied. The plans a checkpoint records (``origin``: what each group
declared before the first re-plan; ``segments``: each re-planned rest, from its step) are rebuilt
as validated :class:`~bounded_lr_resolver.phases.Plan` s: :func:`recorded_plans`. What the
scheduler does with a checkpoint is decided in :mod:`bounded_lr_resolver.resume`.

Torch-free: a checkpoint is plain data (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bounded_lr_resolver.errors import BoundedLRError, ResumeMismatchError, bad_type, bad_value
from bounded_lr_resolver.phases import Phase, Plan
from bounded_lr_resolver.schedule import Schedule

__all__ = [
    "FP32_RTOL",
    "Saved",
    "describe_mismatch",
    "parse",
    "plan_from_record",
    "recorded_plans",
    "tail_record",
]

FP32_RTOL: Final = 2.0**-23
"""One fp32 rounding, relative: how far a float LR and the same LR in an fp32 tensor may differ."""

LOAD: Final = "BoundedLR.load_state_dict"
_REQUIRED = ("last_epoch", "_step_count", "bounds")
_OPTIONAL = (
    "base_lrs",
    "_last_lr",
    "factors",
    "adopted",
    "segments",
    "origin",
    "_get_lr_called_within_step",
    "_is_initial",
    "branches",
)
NOTHING: Final = (
    "Nothing was loaded: the checkpoint is truncated or was not written by BoundedLR.state_dict()"
)
_EDITED: Final = (
    "Nothing was loaded: the checkpoint's record of its re-planned resumes is damaged or hand-edited"
)


@dataclass(frozen=True)
class Saved:
    """A checkpoint, checked: its step, each declared group's bounds, and its recorded plans."""

    last_epoch: int
    step_count: int
    bounds: list[dict[str, Any]]  # per declared group: the schedule's bounds and base_lr
    factors: list[float]
    adopted: list[dict[str, float]]  # added groups: base_lr and factor
    origin: list[tuple[Schedule, float]]  # before the first re-plan (empty: never re-planned)
    segments: list[tuple[int, list[Plan]]]  # each re-planned rest, per group, counted from its step
    branches: tuple[int, ...] = ()  # the steps at which a cooldown branch was planned (see branch.py)


def parse(state: object, groups: int) -> Saved:
    """Check a whole scheduler state dict for ``groups`` declared groups; raise before anything is applied."""
    if not isinstance(state, dict):
        raise bad_type(LOAD, "state_dict", "a dict from BoundedLR.state_dict()", state, NOTHING)
    if "bounds" not in state:
        raise ResumeMismatchError(
            f"{LOAD}: state_dict must come from BoundedLR.state_dict(), got one without 'bounds' "
            f"(keys {sorted(map(str, state))}; a torch scheduler's checkpoint?)"
        )
    missing = [key for key in _REQUIRED if key not in state]
    foreign = sorted(str(key) for key in state if key not in _REQUIRED + _OPTIONAL)
    if missing or foreign:
        rule = f"a dict with the keys {list(_REQUIRED)} (and optionally {list(_OPTIONAL[:6])})"
        raise bad_value(LOAD, "state_dict", rule, {"missing keys": missing, "unknown keys": foreign}, NOTHING)
    last_epoch, step_count = state["last_epoch"], state["_step_count"]
    for name, value, minimum in (("last_epoch", last_epoch, 0), ("_step_count", step_count, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_type(LOAD, name, f"a whole number >= {minimum}", value, NOTHING)
        if value < minimum:
            raise bad_value(LOAD, name, f"a whole number >= {minimum}", {name: value}, NOTHING)
    saved = state["bounds"]
    if not isinstance(saved, list) or not all(isinstance(entry, dict) for entry in saved):
        raise bad_type(LOAD, "bounds", "a list of dicts, one per param group", saved, NOTHING)
    if len(saved) != groups:
        raise ResumeMismatchError(describe_mismatch(saved, [{}] * groups))
    segments = _segments(state.get("segments", []), len(saved), last_epoch)
    origin = _origin(state.get("origin", []), len(saved) if segments else 0)
    factors = state.get("factors", [1.0] * groups)
    _check_factors("factors", factors, groups)
    adopted = state.get("adopted", [])
    if not isinstance(adopted, list) or not all(
        isinstance(entry, dict) and set(entry) == {"base_lr", "factor"} for entry in adopted
    ):
        raise bad_type(LOAD, "adopted", "a list of {'base_lr': ..., 'factor': ...} dicts", adopted, NOTHING)
    _check_factors("adopted factors", [entry["factor"] for entry in adopted], len(adopted))
    _check_factors("adopted base_lr", [entry["base_lr"] for entry in adopted], len(adopted))
    branches = state.get("branches", [])
    steps = [step for step, _ in segments]
    if not isinstance(branches, list) or not all(
        isinstance(step, int) and not isinstance(step, bool) and step in steps for step in branches
    ):
        rule = "a list of the steps of recorded segments at which a cooldown branch was planned"
        raise bad_value(LOAD, "branches", rule, {"branches": branches, "segment steps": steps}, _EDITED)
    return Saved(last_epoch, step_count, saved, list(factors), adopted, origin, segments, tuple(branches))


def _origin(value: object, groups: int) -> list[tuple[Schedule, float]]:
    """What each group followed before the first re-plan: one ``bounds + base_lr`` dict per group."""
    rule = (
        f"a list of {groups} dicts (a schedule's bounds and base_lr), one per param group"
        if groups
        else "[] while segments is empty (the first re-plan records it)"
    )
    if not isinstance(value, list) or len(value) != groups or not all(isinstance(v, dict) for v in value):
        raise bad_type(LOAD, "origin", rule, value, _EDITED)
    rebuilt = []
    for group, entry in enumerate(value):
        base = entry.get("base_lr")
        if isinstance(base, bool) or not isinstance(base, (int, float)) or not 0 < base < math.inf:
            raise bad_value(
                LOAD,
                "origin",
                "dicts with a base_lr > 0 and finite",
                {f"origin[{group}] base_lr": base},
                _EDITED,
            )
        fields = {key: item for key, item in entry.items() if key != "base_lr"}
        where = f"{LOAD} (origin, group {group})"
        schedule = _schedule(fields, where, "origin", rule, {f"origin[{group}]": entry})
        rebuilt.append((schedule, float(base)))
    return rebuilt


def _segments(value: object, groups: int, last_epoch: int) -> list[tuple[int, list[Plan]]]:
    """The recorded rests: ``[{"step": r, "groups": [each group's rest]}, ...]``, r never decreasing."""
    rule = "a list of {'step': r, 'groups': [one re-planned rest per param group]} with r not decreasing"
    if not isinstance(value, list):
        raise bad_type(LOAD, "segments", rule, value, _EDITED)
    rebuilt: list[tuple[int, list[Plan]]] = []
    for index, entry in enumerate(value):
        ok = isinstance(entry, dict) and set(entry) == {"step", "groups"}
        step = entry.get("step") if ok else None
        parts = entry.get("groups") if ok else None
        if not (
            isinstance(step, int)
            and not isinstance(step, bool)
            and (rebuilt[-1][0] if rebuilt else 0) <= step <= last_epoch
            and isinstance(parts, list)
            and len(parts) == groups
            and all(isinstance(part, dict) for part in parts)
        ):
            raise bad_value(
                LOAD, "segments", rule, {f"segments[{index}]": entry, "last_epoch": last_epoch}, _EDITED
            )
        got = {f"segments[{index}]": entry}
        rests = [
            _rest(part, f"{LOAD} (segments[{index}], group {group})", rule, got)
            for group, part in enumerate(parts)
        ]
        rebuilt.append((step, rests))
    return rebuilt


def _rest(record: dict[str, Any], where: str, rule: str, got: dict[str, object]) -> Plan:
    """A re-planned rest: ``{"start_lr": L, "phases": [...]}``, or (before the phases) a schedule's bounds."""
    if "kind" in record:  # written before the phases: the rest was a schedule of its own
        return _schedule(record, where, "segments", rule, got).plan
    if (
        set(record) != {"start_lr", "phases"}
        or not isinstance(record["phases"], list)
        or not record["phases"]
    ):
        raise bad_value(LOAD, "segments", rule, got, _EDITED)
    phases = []
    for entry in record["phases"]:
        numbers = [
            entry.get(key) for key in ("end_lr", "start_lr") if isinstance(entry, dict) and key in entry
        ]
        if not isinstance(entry, dict) or not all(_is_number(value) for value in numbers):
            raise bad_value(LOAD, "segments", rule, got, f"{_EDITED} (the phases' LRs must be numbers)")
        fields = {key: entry[key] for key in ("shape", "steps", "end_lr") if key in entry}
        extra = {key: entry[key] for key in ("start_lr", "rewarm", "offset", "span") if key in entry}
        params = tuple((key, item) for key, item in entry.items() if key not in {*fields, *extra})
        try:
            phases.append(Phase(**fields, params=params, **extra))
        except TypeError as error:  # a missing field
            raise bad_value(LOAD, "segments", rule, got, f"{_EDITED} ({error})") from None
    start = record["start_lr"]
    if not _is_number(start):
        raise bad_value(LOAD, "segments", rule, got, f"{_EDITED} (the phases' LRs must be numbers)")
    try:
        declared = [
            start,
            *(phase.end_lr for phase in phases),
            *(p.start_lr for p in phases if p.start_lr is not None),
        ]
        return Plan(start, phases, max(declared), where)
    except TypeError as error:  # e.g. a count of the wrong type inside a phase
        raise bad_value(LOAD, "segments", rule, got, f"{_EDITED} ({error})") from None


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _schedule(fields: dict[str, Any], where: str, name: str, rule: str, got: dict[str, object]) -> Schedule:
    """A recorded schedule's bounds as a validated :class:`Schedule` (its own errors name the bound)."""
    try:
        return Schedule(where=where, **fields)
    except BoundedLRError:
        raise
    except TypeError as error:  # a missing field
        raise bad_value(LOAD, name, rule, got, f"{_EDITED} ({error})") from None


def _check_factors(name: str, values: object, count: int) -> None:
    if not isinstance(values, list) or len(values) != count:
        raise bad_type(LOAD, name, f"a list of {count} positive finite numbers", values, NOTHING)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise bad_value(LOAD, name, "positive finite numbers", {name: values}, NOTHING)


def recorded_plans(
    origin: Sequence[tuple[Schedule, float]], segments: Sequence[tuple[int, Sequence[Plan]]]
) -> list[Plan]:
    """Each declared group's whole plan: its schedule at its base LR, then each re-planned rest."""
    plans = [schedule.plan_for(base) for schedule, base in origin]
    for step, rests in segments:
        plans = [plan.resumed(step, rest) for plan, rest in zip(plans, rests, strict=True)]
    return plans


def tail_record(rest: Plan) -> dict[str, Any]:
    """A re-planned rest (or any plan) as plain data (``segments``), loadable by :func:`parse`."""
    return {"start_lr": rest.start_lr, "phases": [phase.as_dict() for phase in rest.phases]}


def plan_from_record(record: object, where: str) -> Plan:
    """A plan :func:`tail_record` wrote (e.g. in a job's ``scheduler.json``), rebuilt and validated."""
    rule = "a plan {'start_lr': ..., 'phases': [{shape, steps, end_lr, ...}, ...]}"
    if not isinstance(record, dict):
        raise bad_type(where, "plan", rule, record)
    try:
        return _rest(record, where, rule, {"plan": "as recorded"})
    except BoundedLRError as error:  # its message speaks of a checkpoint's segments: say where it was
        raise type(error)(f"{where}: plan must be {rule}, got a damaged one ({error})") from None


def same_bounds(saved: list[dict[str, object]], ours: list[dict[str, object]]) -> bool:
    """Equal bounds; a group's base LR may differ by one fp32 rounding (float <-> fp32 tensor LRs)."""
    if len(saved) != len(ours):
        return False
    for old, new in zip(saved, ours, strict=True):
        if set(old) != set(new):
            return False
        for key, value in new.items():
            if key == "base_lr" and isinstance(value, float) and isinstance(old[key], float):
                if not math.isclose(old[key], value, rel_tol=FP32_RTOL):  # type: ignore[arg-type]
                    return False
            elif old[key] != value:
                return False
    return True


def describe_mismatch(
    saved: list[dict[str, object]], ours: list[dict[str, object]], *, readable: bool = True
) -> str:
    """The refusal: every differing field of every group, with the checkpoint's and the config's value.

    ``readable=False``: the checkpoint's bounds are no schedule this version can rebuild, so a
    re-plan is impossible and not offered."""
    if len(saved) != len(ours):
        return (
            f"{LOAD}: the checkpoint must have as many param groups as the "
            f"optimizer, got checkpoint groups={len(saved)}, optimizer groups={len(ours)}"
        )
    diffs = [
        f"group {index} {key}: checkpoint {key}={old.get(key)!r}, config {key}={new.get(key)!r}"
        for index, (old, new) in enumerate(zip(saved, ours, strict=True))
        for key in [*new, *(key for key in old if key not in new)]
        if old.get(key) != new.get(key)
    ]
    ending = (
        ", start a new schedule, or set on_resume_change='replan' to plan the rest of the run under the "
        "new bounds"
        if readable
        else " or start a new schedule (the checkpoint's are no schedule's bounds: they cannot be re-planned)"
    )
    return (
        f"{LOAD}: the checkpoint's bounds must equal the config's, got "
        + "; ".join(diffs)
        + ". Resume with the config the checkpoint was trained with"
        + ending
    )
