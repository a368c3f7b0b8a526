"""A :class:`~bounded_lr_resolver.scheduler.BoundedLR` checkpoint, checked whole before it is applied.

A truncated, foreign or hand-edited state dict is refused with an error naming the field and its
value; a checkpoint saved under other bounds is refused naming every differing field with both
values. Nothing is applied unless everything is valid.
"""

from __future__ import annotations

import math
from typing import Any, Final

from bounded_lr_resolver.errors import ResumeMismatchError, bad_type, bad_value

__all__ = ["FP32_RTOL", "validated_state"]

FP32_RTOL: Final = 2.0**-23
"""One fp32 rounding, relative: how far a float LR and the same LR in an fp32 tensor may differ."""

_LOAD = "BoundedLR.load_state_dict"
_REQUIRED = ("last_epoch", "_step_count", "bounds")
_OPTIONAL = ("base_lrs", "_last_lr", "factors", "adopted", "_get_lr_called_within_step", "_is_initial")


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
        rule = f"a dict with the keys {list(_REQUIRED)} (and optionally {list(_OPTIONAL[:4])})"
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
    if not _same_bounds(saved, ours):
        raise ResumeMismatchError(_describe_mismatch(saved, ours))
    factors = state.get("factors", [1.0] * len(ours))
    _check_factors("factors", factors, len(ours), hint)
    adopted = state.get("adopted", [])
    if not isinstance(adopted, list) or not all(
        isinstance(entry, dict) and set(entry) == {"base_lr", "factor"} for entry in adopted
    ):
        raise bad_type(_LOAD, "adopted", "a list of {'base_lr': ..., 'factor': ...} dicts", adopted, hint)
    _check_factors("adopted factors", [entry["factor"] for entry in adopted], len(adopted), hint)
    _check_factors("adopted base_lr", [entry["base_lr"] for entry in adopted], len(adopted), hint)
    return {"last_epoch": last_epoch, "_step_count": step_count, "factors": list(factors), "adopted": adopted}


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


def _describe_mismatch(saved: list[dict[str, object]], ours: list[dict[str, object]]) -> str:
    if len(saved) != len(ours):
        return (
            "BoundedLR.load_state_dict: the checkpoint must have as many param groups as the "
            f"optimizer, got checkpoint groups={len(saved)}, optimizer groups={len(ours)}"
        )
    diffs = [
        f"group {index} {key}: checkpoint {key}={old.get(key)!r}, config {key}={value!r}"
        for index, (old, new) in enumerate(zip(saved, ours, strict=True))
        for key, value in new.items()
        if old.get(key) != value
    ]
    return (
        "BoundedLR.load_state_dict: the checkpoint's bounds must equal the config's, got "
        + "; ".join(diffs)
        + ". Resume with the config the checkpoint was trained with, or start a new schedule"
    )
