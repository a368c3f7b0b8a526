"""What a scheduler declaration (a config node, ``build_scheduler``'s keywords) declares, checked torch-free.

:func:`declared` is every check ``build_scheduler(None, **values)`` makes: the bounds build, the
derived keys a config shows (``gamma``, ``step_size``, ``milestones``) equal what the bounds
derive, ``on_resume_change`` is known. The factory, the sweep preflight and the main job's preview
share it, so the preview and the preflight need no torch and say exactly what the factory would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bounded_lr_resolver.checks import check_count
from bounded_lr_resolver.errors import BoundedLRError, bad_value
from bounded_lr_resolver.resume import ON_RESUME_CHANGE
from bounded_lr_resolver.schedule import Schedule

__all__ = ["check_derived", "check_on_resume_change", "declared", "is_sequence", "plain", "plain_phases"]

_WHERE = "build_scheduler"
DERIVED = ("gamma", "step_size", "milestones")
"""The derived keys a config may show; given, each must equal what the bounds derive."""
_CALL = ("on_resume_change", "branch_of_branch", "derived_from", "expected_max_steps")
_REQUIRED = ("initial_lr", "max_steps")


def is_sequence(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def plain(bounds: Mapping[str, Any]) -> dict[str, Any]:
    """Bounds as comparable plain data (per-group lists as lists; OmegaConf lists arrive as such)."""
    return {key: list(value) if is_sequence(value) else value for key, value in bounds.items()}


def plain_phases(phases: object) -> object:
    """Declared phases as plain lists and dicts (OmegaConf's containers arrive as such)."""
    if isinstance(phases, Sequence) and not isinstance(phases, (str, bytes)):
        return [dict(entry) if isinstance(entry, Mapping) else entry for entry in phases]
    return phases


def check_on_resume_change(value: object, where: str = _WHERE) -> None:
    if value not in ON_RESUME_CHANGE:
        raise bad_value(
            where, "on_resume_change", f"one of {list(ON_RESUME_CHANGE)}", {"on_resume_change": value}
        )


def declared(values: Mapping[str, Any], where: str = _WHERE) -> list[tuple[Schedule, float]]:
    """Check ``values`` as ``build_scheduler(None, **values)`` does; the ``(schedule, base LR)`` they declare.

    ``values`` are a scheduler node's keys (without ``_target_`` and ``_partial_``) or the
    factory's keywords: the bounds, any derived keys, ``on_resume_change``. A per-group list of
    ``initial_lr`` declares one schedule per group. While ``initial_lr`` or ``max_steps`` is left
    for the call (a partial completed at run time) nothing can be built yet: ``[]``; a declared
    ``expected_max_steps`` stands in for a ``max_steps`` left to run time, so the declaration is
    checked against the horizon the run expects (durations rounded as they will be at run time).

    >>> [(s.kind, s.step_size) for s, _ in declared({"initial_lr": 0.1, "final_lr": 1e-4,
    ...     "max_steps": 10**6, "n_updates": 10**4, "step_size": 100})]
    [('step', 100)]
    """
    check_on_resume_change(values.get("on_resume_change", "refuse"), where)
    bounds = {key: value for key, value in values.items() if key not in DERIVED + _CALL}
    if "phases" in bounds:
        bounds["phases"] = plain_phases(bounds["phases"])
    expected = values.get("expected_max_steps")
    if expected is not None:
        expected = check_count(where, "expected_max_steps", expected)
        if bounds.get("max_steps") is not None:
            raise bad_value(
                where,
                "expected_max_steps",
                "left out when max_steps is given (it stands in for a max_steps set at run time)",
                {"expected_max_steps": expected, "max_steps": bounds["max_steps"]},
                "Set max_steps: null to leave the horizon to run time, or drop expected_max_steps",
            )
        bounds.update(max_steps=expected, at_run_time=("max_steps",))
    open_ended = bounds.get("kind") == "constant"  # a stable run may hold for as long as training runs
    if not all(bounds.get(key) is not None or (key == "max_steps" and open_ended) for key in _REQUIRED):
        return []
    fields = {key: value for key, value in bounds.items() if key not in ("initial_lr", "final_lr")}
    initial: Any = bounds["initial_lr"]
    final: Any = bounds.get("final_lr")
    pairs = [(initial, final)]
    if is_sequence(initial):
        pairs = list(zip(initial, final if is_sequence(final) else [final] * len(initial), strict=False))
    try:
        schedules = [
            Schedule(initial_lr=eta0, final_lr=eta_f, where=where, **fields) for eta0, eta_f in pairs
        ]
    except BoundedLRError as error:
        if expected is None:
            raise
        raise type(error)(
            f"{error} (max_steps is set at run time: checked against expected_max_steps)"
        ) from None
    plan = [(schedule, schedule.initial_lr) for schedule in schedules]
    gamma, step_size, milestones = (values.get(name) for name in DERIVED)
    check_derived(plan, gamma, step_size, milestones, where=where)
    return plan


def check_derived(
    plan: list[tuple[Schedule, float]],
    gamma: float | None,
    step_size: int | None,
    milestones: Sequence[int] | None,
    where: str = _WHERE,
) -> None:
    """Derived values shown in a config (gamma, step_size, milestones) must match what we derive."""
    for schedule, _ in plan:
        if not schedule.stepwise:
            given = {"gamma": gamma, "step_size": step_size, "milestones": milestones}
            for name, value in given.items():
                if value is not None:
                    raise bad_value(
                        where,
                        name,
                        f"left out for kind={schedule.kind!r} (it applies to the step kinds: "
                        "step, multistep, exponential)",
                        {name: value, "kind": schedule.kind},
                    )
            continue
        if gamma is not None and not (
            isinstance(gamma, (int, float)) and math.isclose(gamma, schedule.gamma, rel_tol=1e-12)
        ):
            raise bad_value(
                where,
                "gamma",
                "the gamma derived from the bounds (or left out)",
                {"gamma": gamma, "derived gamma": schedule.gamma},
                "Change initial_lr, final_lr or n_updates instead of gamma",
            )
        if step_size is not None and step_size != schedule.step_size:
            raise bad_value(
                where,
                "step_size",
                "the step size derived from the bounds (or left out)",
                {"step_size": step_size, "derived step_size": schedule.step_size},
                "Change max_steps, n_updates or warmup_steps instead of step_size",
            )
        if milestones is not None and list(milestones) != schedule.milestones():
            raise bad_value(
                where,
                "milestones",
                "the milestones derived from the bounds (or left out)",
                {"milestones": list(milestones)[:8], "derived": schedule.milestones()[:8]},
                "Change max_steps, n_updates or warmup_steps instead of milestones",
            )
