"""A :class:`~bounded_lr_resolver.scheduler.BoundedLR` checkpoint, checked whole before it is applied.

A truncated, foreign or hand-edited state dict is refused with an error naming the field and its
value. Whether the checkpoint's bounds equal the config's is reported (``same``), with the message
naming every differing field with both values (:func:`describe_mismatch`): the scheduler refuses
or re-plans. The tails of earlier re-planned resumes (``segments``) are rebuilt as validated
schedules. Nothing is applied unless everything is valid.
"""

from __future__ import annotations

import math
from typing import Any, Final

from bounded_lr_resolver.errors import BoundedLRError, ResumeMismatchError, bad_type, bad_value
from bounded_lr_resolver.schedule import Schedule

__all__ = ["FP32_RTOL", "describe_mismatch", "validated_state"]

FP32_RTOL: Final = 2.0**-23
"""One fp32 rounding, relative: how far a float LR and the same LR in an fp32 tensor may differ."""

_LOAD = "BoundedLR.load_state_dict"
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
)


def validated_state(state: object, ours: list[dict[str, object]]) -> dict[str, Any]:
    """Check a whole scheduler state dict; return its parts, or raise before anything is applied."""
    hint = "Nothing was loaded: the checkpoint is truncated or was not written by BoundedLR.state_dict()"
    if not isinstance(state, dict):
        raise bad_type(_LOAD, "state_dict", "a dict from BoundedLR.state_dict()", state, hint)
    if "bounds" not in state:
        raise ResumeMismatchError(
            f"{_LOAD}: state_dict must come from BoundedLR.state_dict(), got one without 'bounds' "
            f"(keys {sorted(map(str, state))}; a torch scheduler's checkpoint?)"
        )
    missing = [key for key in _REQUIRED if key not in state]
    foreign = sorted(str(key) for key in state if key not in _REQUIRED + _OPTIONAL)
    if missing or foreign:
        rule = f"a dict with the keys {list(_REQUIRED)} (and optionally {list(_OPTIONAL[:6])})"
        raise bad_value(_LOAD, "state_dict", rule, {"missing keys": missing, "unknown keys": foreign}, hint)
    last_epoch, step_count = state["last_epoch"], state["_step_count"]
    for name, value, minimum in (("last_epoch", last_epoch, 0), ("_step_count", step_count, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_type(_LOAD, name, f"a whole number >= {minimum}", value, hint)
        if value < minimum:
            raise bad_value(_LOAD, name, f"a whole number >= {minimum}", {name: value}, hint)
    saved = state["bounds"]
    if not isinstance(saved, list) or not all(isinstance(entry, dict) for entry in saved):
        raise bad_type(_LOAD, "bounds", "a list of dicts, one per param group", saved, hint)
    if len(saved) != len(ours):
        raise ResumeMismatchError(describe_mismatch(saved, ours))
    segments = _segments(state.get("segments", []), len(saved), last_epoch, hint)
    origin = _origin(state.get("origin", []), len(saved) if segments else 0, hint)
    factors = state.get("factors", [1.0] * len(ours))
    _check_factors("factors", factors, len(ours), hint)
    adopted = state.get("adopted", [])
    if not isinstance(adopted, list) or not all(
        isinstance(entry, dict) and set(entry) == {"base_lr", "factor"} for entry in adopted
    ):
        raise bad_type(_LOAD, "adopted", "a list of {'base_lr': ..., 'factor': ...} dicts", adopted, hint)
    _check_factors("adopted factors", [entry["factor"] for entry in adopted], len(adopted), hint)
    _check_factors("adopted base_lr", [entry["base_lr"] for entry in adopted], len(adopted), hint)
    return {
        "last_epoch": last_epoch,
        "_step_count": step_count,
        "factors": list(factors),
        "adopted": adopted,
        "bounds": saved,
        "same": _same_bounds(saved, ours),
        "segments": segments,
        "origin": origin,
    }


def _origin(value: object, groups: int, hint: str) -> list[tuple[Schedule, float]]:
    """What each group followed before the first re-plan: one ``bounds + base_lr`` dict per group."""
    rule = (
        f"a list of {groups} dicts (a schedule's bounds and base_lr), one per param group"
        if groups
        else "[] while segments is empty (the first re-plan records it)"
    )
    if not isinstance(value, list) or len(value) != groups or not all(isinstance(v, dict) for v in value):
        raise bad_type(_LOAD, "origin", rule, value, hint)
    rebuilt = []
    for group, entry in enumerate(value):
        fields = {key: item for key, item in entry.items() if key != "base_lr"}
        base = entry.get("base_lr")
        if isinstance(base, bool) or not isinstance(base, (int, float)) or not 0 < base < math.inf:
            raise bad_value(
                _LOAD,
                "origin",
                "dicts with a base_lr > 0 and finite",
                {f"origin[{group}] base_lr": base},
                hint,
            )
        where = f"{_LOAD} (origin, group {group})"
        schedule = _rebuilt(fields, where, "origin", rule, {f"origin[{group}]": entry}, hint)
        rebuilt.append((schedule, float(base)))
    return rebuilt


def _segments(value: object, groups: int, last_epoch: int, hint: str) -> list[tuple[int, list[Schedule]]]:
    """The recorded tails: ``[{"step": r, "groups": [bounds of each group's tail]}, ...]``, rebuilt."""
    rule = "a list of {'step': r, 'groups': [one tail's bounds per param group]} with increasing r"
    if not isinstance(value, list):
        raise bad_type(_LOAD, "segments", rule, value, hint)
    rebuilt: list[tuple[int, list[Schedule]]] = []
    for index, entry in enumerate(value):
        ok = isinstance(entry, dict) and set(entry) == {"step", "groups"}
        step = entry.get("step") if ok else None
        parts = entry.get("groups") if ok else None
        if not (
            isinstance(step, int)
            and not isinstance(step, bool)
            and (rebuilt[-1][0] if rebuilt else -1) < step <= last_epoch
            and isinstance(parts, list)
            and len(parts) == groups
            and all(isinstance(part, dict) for part in parts)
        ):
            raise bad_value(
                _LOAD, "segments", rule, {f"segments[{index}]": entry, "last_epoch": last_epoch}, hint
            )
        got = {f"segments[{index}]": entry}
        schedules = [
            _rebuilt(part, f"{_LOAD} (segments[{index}], group {group})", "segments", rule, got, hint)
            for group, part in enumerate(parts)
        ]
        rebuilt.append((step, schedules))
    return rebuilt


def _rebuilt(
    fields: dict[str, Any], where: str, name: str, rule: str, got: dict[str, object], hint: str
) -> Schedule:
    """A recorded schedule's bounds as a validated :class:`Schedule`; an unknown or missing field is
    refused as a bad ``name`` (the Schedule's own errors name the bound)."""
    try:
        return Schedule(where=where, **fields)
    except BoundedLRError:
        raise
    except TypeError as error:  # an unknown or missing field
        raise bad_value(_LOAD, name, rule, got, f"{hint} ({error})") from None


def _check_factors(name: str, values: object, count: int, hint: str) -> None:
    if not isinstance(values, list) or len(values) != count:
        raise bad_type(_LOAD, name, f"a list of {count} positive finite numbers", values, hint)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise bad_value(_LOAD, name, "positive finite numbers", {name: values}, hint)


def _same_bounds(saved: list[dict[str, object]], ours: list[dict[str, object]]) -> bool:
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
            "BoundedLR.load_state_dict: the checkpoint must have as many param groups as the "
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
        "BoundedLR.load_state_dict: the checkpoint's bounds must equal the config's, got "
        + "; ".join(diffs)
        + ". Resume with the config the checkpoint was trained with"
        + ending
    )
