"""A declared phase list (``kind="phases"``), validated: ``[{shape, steps, end_lr, ...}, ...]`` -> phases.

Each entry is a mapping of ``shape``, ``steps`` (steps or a duration), ``end_lr`` (left out: the
phase ends where it started, or, given a parameter that leads it such as ``inverse_sqrt``'s
``timescale``, where its curve leads: :attr:`~bounded_lr_resolver.shapes.Param.leads`),
``rewarm`` (the LR may rise), ``start_lr`` (a restart) and its shape's parameters. The steps of the
phases add up to ``max_steps - warmup_steps``; ``final_lr``, if given, is the last ``end_lr``.
Against a horizon known only at run time, durations are rounded down to whole steps and the last
phase given as a duration takes up the rest, so the phases still add up exactly.

A cooldown branch's ``cooldown`` (:mod:`bounded_lr_resolver.branch`) is such a list too, checked
here when it is declared (:func:`declared_cooldown`) and planned when a checkpoint is loaded.
Every rule of :class:`~bounded_lr_resolver.phases.Plan` is then checked, naming the phase by its
own index (the warmup before it is not one of them).

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, Final

from bounded_lr_resolver.checks import check_floor
from bounded_lr_resolver.durations import Context, exact_steps, is_duration, steps_of
from bounded_lr_resolver.errors import bad_type, bad_value
from bounded_lr_resolver.phases import Phase, Plan
from bounded_lr_resolver.shapes import SHAPES, Shape

__all__ = ["COOLDOWN_KEYS", "PHASE_KEYS", "declared_cooldown", "declared_phases"]

PHASE_KEYS: Final = ("shape", "steps", "end_lr", "start_lr", "rewarm")
"""The keys of a declared phase, besides its shape's parameters."""


def declared_phases(
    where: str,
    phases: object,
    *,
    initial_lr: float,
    final_lr: object,
    final_lr_at: str,
    warmup_steps: int,
    context: Context,
    warmup_given: object = None,
    name: str = "phases",
) -> tuple[Phase, ...]:
    """The declared phases, validated against the run (``context.max_steps``) and its warmup.

    ``name`` is what the messages call the list (``phases``; a branch's ``cooldown``)."""
    if final_lr_at != "max_steps":
        raise bad_value(
            where,
            "final_lr_at",
            "'max_steps' with phases (the phases say where each LR is reached)",
            {"final_lr_at": final_lr_at},
            "Append {shape: constant, steps: 1} to train the last step at the final LR",
        )
    if not isinstance(phases, Sequence) or isinstance(phases, (str, bytes)) or not phases:
        raise bad_type(where, "phases", "a non-empty list of {shape, steps, end_lr, ...} mappings", phases)
    declared: list[Phase] = []
    at = initial_lr
    for index, entry in enumerate(phases):
        declared.append(_phase(where, index, entry, at, context, name))
        at = declared[-1].end_lr
    max_steps = context.max_steps or 0
    total = warmup_steps + sum(phase.steps for phase in declared)
    durations = [index for index, entry in enumerate(phases) if is_duration(_get(entry, "steps"))]
    if context.at_run_time and durations and total < max_steps:
        # durations of a run-time horizon were rounded down: if they add up exactly before the
        # rounding, the last phase given as a duration takes up what the rounding left
        lengths = [warmup_given if warmup_given is not None else warmup_steps]
        lengths += [_get(entry, "steps") for entry in phases]
        exact = sum(_exact(length, context) for length in lengths)
        if exact == max_steps:
            rest = durations[-1]
            declared[rest] = dataclasses.replace(
                declared[rest], steps=declared[rest].steps + max_steps - total
            )
            total = max_steps
    if total != max_steps:
        raise bad_value(
            where,
            "phases",
            "steps that add up to max_steps - warmup_steps",
            {
                "sum of phases' steps": total - warmup_steps,
                "max_steps": max_steps,
                "warmup_steps": warmup_steps,
            },
            f"Make them add up to {max_steps - warmup_steps}, or use durations ('0.5dur')",
        )
    last = declared[-1].end_lr
    if final_lr is not None and check_floor(where, "final_lr", final_lr) != last:
        raise bad_value(
            where,
            "final_lr",
            "the last phase's end_lr (or left out)",
            {"final_lr": final_lr, f"phases[{len(declared) - 1}].end_lr": last},
        )
    Plan(initial_lr, declared, initial_lr, where, label=name)  # every rule, named by the phases' own index
    return tuple(declared)


def _exact(length: object, context: Context) -> Fraction:
    """A length's exact number of steps: a duration's value, or the steps it gives."""
    value = exact_steps(length, context)
    return Fraction(str(length)) if value is None else value


def _get(entry: object, key: str) -> object:
    return entry.get(key) if isinstance(entry, Mapping) else None


def _entry(where: str, name: str, entry: object, keys: tuple[str, ...], hint: str = "") -> Shape:
    """A declared phase's mapping, its shape known and its keys among ``keys`` and the shape's
    parameters; its shape."""
    if not isinstance(entry, Mapping):
        raise bad_type(where, name, "a mapping {shape, steps, end_lr, ...}", entry)
    shape = SHAPES.get(str(entry.get("shape")))
    if shape is None:
        got = {f"{name}.shape": entry.get("shape")}
        raise bad_value(where, f"{name}.shape", f"one of {list(SHAPES)}", got)
    known = (*keys, *(p.name for p in shape.params))
    unknown = sorted(str(key) for key in entry if key not in known)
    if unknown:
        raise bad_value(where, f"{name} keys", f"among {list(known)}", {f"{name} keys": unknown}, hint)
    return shape


def _phase(where: str, index: int, entry: object, at: float, context: Context, label: str) -> Phase:
    name = f"{label}[{index}]"
    shape = _entry(where, name, entry, PHASE_KEYS)
    assert isinstance(entry, Mapping)
    steps = steps_of(where, f"{name}.steps", entry.get("steps"), context)
    restart = entry.get("start_lr")
    if index == 0 and restart is not None:
        raise bad_value(
            where,
            f"{name}.start_lr",
            "left out for the first phase (it starts where warmup ends, at initial_lr)",
            {f"{name}.start_lr": restart},
            "A restart is a later phase's start_lr; to start lower, lower initial_lr",
        )
    start = at if restart is None else check_floor(where, f"{name}.start_lr", restart)
    rewarm = entry.get("rewarm", False)
    if not isinstance(rewarm, bool):
        raise bad_type(where, f"{name}.rewarm", "true or false", rewarm)
    values = {p.name: entry[p.name] for p in shape.params if entry.get(p.name) is not None}
    end = entry.get("end_lr")
    lead = next((p for p in shape.params if p.leads is not None and p.name in values), None)
    if end is None and lead is not None and lead.leads is not None:
        end = lead.leads(start, steps, lead.check(where, values[lead.name], f"{name}.{lead.name}"))
    elif end is None:
        end = start  # a phase without end_lr ends where it started
    elif lead is not None:
        raise bad_value(
            where,
            f"{name}.end_lr",
            f"left out when {lead.name} is given (the phase ends where its curve leads)",
            {f"{name}.end_lr": end, lead.name: values[lead.name]},
        )
    end = check_floor(where, f"{name}.end_lr", end)
    return Phase(shape.name, steps, end, tuple(values.items()), None if restart is None else start, rewarm)


COOLDOWN_KEYS: Final = tuple(key for key in PHASE_KEYS if key not in ("start_lr", "rewarm"))
"""The keys of a cooldown phase, besides its shape's parameters (it starts where the run is, and falls)."""


def declared_cooldown(where: str, cooldown: object) -> tuple[dict[str, Any], ...]:
    """A declared cooldown as a tuple of plain phase mappings, its structure checked (lengths later).

    One mapping is one phase. Each needs a known ``shape`` and ``steps`` (steps or a duration);
    ``end_lr``, if given, is a number >= 0 (left out: the phase holds).
    """
    if cooldown is None:
        return ()
    entries = [cooldown] if isinstance(cooldown, Mapping) else cooldown
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)) or not entries:
        rule = "a phase {shape, steps, end_lr} or a non-empty list of them"
        raise bad_type(where, "cooldown", rule, cooldown)
    phases = []
    hint = "A cooldown starts at the LR the checkpoint trains at and never rises"
    for index, entry in enumerate(entries):
        name = f"cooldown[{index}]"
        _entry(where, name, entry, COOLDOWN_KEYS, hint)
        assert isinstance(entry, Mapping)
        steps = entry.get("steps")
        if not is_duration(steps):
            steps_of(where, f"{name}.steps", steps, Context())
        if entry.get("end_lr") is not None:
            check_floor(where, f"{name}.end_lr", entry["end_lr"])
        phases.append({str(key): value for key, value in entry.items()})
    return tuple(phases)
