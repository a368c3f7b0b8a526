"""Cooldown branches: one stable run, many endings, each planned from a checkpoint of it (torch-free).

Warmup-stable-decay is popular because one long stable run can be cooled down at many points
(Hägele et al. 2024, arXiv:2405.18392). The stable run is a schedule whose LR ends in a hold:
``kind="constant"`` (after its warmup; ``max_steps`` may be left out: it holds for as long as
training runs) or ``kind="phases"`` ending in a ``constant`` phase. A branch is the same
declaration plus a ``cooldown``: the phases that follow the checkpoint it is loaded from, at step
``r``::

    cooldown: {shape: sqrt, steps: 2000, end_lr: 0.0}        # or a list of such phases

Loading the stable run's checkpoint into a scheduler that declares a cooldown plans the branch:
every step up to ``r`` keeps its LR bitwise (the checkpoint's own plan), the cooldown starts at
the LR the checkpoint trains at and each phase ends exactly at its ``end_lr``, the last at
``r + length``. The ``end_lr`` s are in the LRs of the declared ``initial_lr``: a param group whose
base LR differs ends at its own ratio (as its stable run holds at it); with per-group bounds
(lists), each group's cooldown ends at the ``end_lr`` as written. A phase's ``steps`` are steps,
``"<n>ep"``, ``"<n>tok"``, or ``"<f>dur"``: a fraction of the branch's whole run, ``r + length``
(Hägele et al.'s "a cooldown of 20%": ``0.2dur`` from ``r = 8000`` is 2000 steps). ``r`` is known
only when the checkpoint loads, so a length that is not a whole number of steps is rounded down,
as against any run-time horizon; one that rounds to no step at all is refused.

The declaration is checked when it is made (:func:`~bounded_lr_resolver.declared.declared_cooldown`);
what a branch refuses when it loads, naming the field, the value and what works (:func:`check_root`,
:func:`cooldown_rest`): a checkpoint of another run (the declaration without its cooldown must be
the checkpoint's), a step still in warmup or in a phase that is not the stable hold, a cooldown
that rises or whose shape cannot reach its floor, and a checkpoint taken inside a branch (a
branch of a branch is almost always a mistake: ``branch_of_branch=True`` allows it). Resuming a
branch's own checkpoint with the same declaration continues it, as any resume does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from bounded_lr_resolver.checkpoint import LOAD, Saved, same_bounds
from bounded_lr_resolver.checks import check_floor
from bounded_lr_resolver.declared import declared_phases
from bounded_lr_resolver.durations import Context, exact_steps, steps_of, unit_of
from bounded_lr_resolver.errors import ResumeMismatchError, bad_value
from bounded_lr_resolver.phases import Plan

__all__ = ["check_root", "cooldown_rest", "inside_branch", "root_bounds"]


def inside_branch(saved: Saved) -> bool:
    """Whether the checkpoint was taken inside a cooldown branch (it trained in one)."""
    return bool(saved.branches) and saved.branches[-1] != saved.last_epoch


def root_bounds(bounds: Mapping[str, Any]) -> dict[str, Any]:
    """A declaration's bounds without its cooldown: the stable run it branches from."""
    return {key: value for key, value in bounds.items() if key != "cooldown"}


def check_root(saved: Saved, ours: list[dict[str, Any]], branch_of_branch: bool) -> None:
    """Refuse a checkpoint that is not of the stable run this branch declares (or is inside a branch)."""
    if inside_branch(saved) and not branch_of_branch:
        raise ResumeMismatchError(
            f"{LOAD}: a cooldown branch must start from a checkpoint of its stable run, got a checkpoint "
            f"taken inside a branch (branched at step {saved.branches[-1]}, now at step {saved.last_epoch}). "
            "Load a checkpoint the stable run saved, or pass branch_of_branch=True if a branch of a "
            "branch is what you mean"
        )
    mine = [root_bounds(bounds) for bounds in ours]
    theirs = [root_bounds(bounds) for bounds in saved.bounds]
    if not same_bounds(theirs, mine):
        diffs = [
            f"group {index} {key}: checkpoint {key}={old.get(key)!r}, config {key}={new.get(key)!r}"
            for index, (old, new) in enumerate(zip(theirs, mine, strict=False))
            for key in dict.fromkeys([*new, *old])
            if old.get(key) != new.get(key) and key != "base_lr"
        ]
        raise ResumeMismatchError(
            f"{LOAD}: a cooldown branch must be declared as its stable run plus the cooldown, got a "
            f"checkpoint of another run: {'; '.join(diffs) or 'the param groups differ'}. Keep the "
            "stable run's declaration and add only cooldown"
        )


def cooldown_rest(
    cooldown: Sequence[Mapping[str, Any]], plan: Plan, step: int, context: Context, *, nested: bool = False
) -> Plan:
    """The branch after ``step`` of ``plan`` (the stable run the checkpoint followed), counted from ``step``.

    ``cooldown``'s ``end_lr`` s are in the LRs of ``plan`` (a param group's own scale). ``step`` must
    fall in the stable run's hold, unless ``nested``: a branch of a branch, asked for, starts
    wherever the first one was.
    """
    where = f"{LOAD} (the cooldown branch from step {step})"
    part = plan.part_at(step)
    at = plan.lr_at(step)
    if not part.holds and not nested:
        raise ResumeMismatchError(
            f"{LOAD}: a cooldown branch must start in the stable run's hold, got step {step}, which "
            f"falls in its {part.phase.shape} phase of steps {part.begin}..{part.stop} (warmup ends where "
            "the hold begins). Branch from a checkpoint taken during the hold"
        )
    lengths: list[int | None] = []
    fraction = Fraction(0)
    for index, entry in enumerate(cooldown):
        steps = entry.get("steps")
        share = exact_steps(steps, Context(max_steps=1)) if unit_of(steps) == "dur" else None
        if share is not None:
            fraction += share
            lengths.append(None)
        else:
            lengths.append(steps_of(where, f"cooldown[{index}].steps", steps, context))
        end = entry.get("end_lr")
        if end is not None and check_floor(where, f"cooldown[{index}].end_lr", end) > at:
            raise bad_value(
                where,
                f"cooldown[{index}].end_lr",
                f"<= the LR at the branch step ({at!r} at step {step}): a cooldown never rises",
                {f"cooldown[{index}].end_lr": end},
            )
    if fraction >= 1:
        raise bad_value(
            where,
            "cooldown steps",
            "fractions of the whole run ('dur') adding up to less than 1",
            {"sum of fractions": float(fraction)},
        )
    fixed = sum(length for length in lengths if length is not None)
    total = int((step + fixed) / (1 - fraction))  # the branch's whole run, rounded down
    shares = [
        int(exact_steps(entry.get("steps"), Context(max_steps=total)) or 0) if length is None else length
        for entry, length in zip(cooldown, lengths, strict=True)
    ]
    if fraction:  # what rounding left goes to the last phase given as a fraction
        last = max(index for index, length in enumerate(lengths) if length is None)
        shares[last] += total - step - sum(shares)
    for index, (entry, count) in enumerate(zip(cooldown, shares, strict=True)):
        if count < 1:
            raise bad_value(
                where,
                f"cooldown[{index}].steps",
                "at least 1 step of the branch",
                {f"cooldown[{index}].steps": entry.get("steps"), "steps": count, "branch from step": step},
                "Give a longer cooldown, in steps or as a larger fraction",
            )
    phases = [{**entry, "steps": share} for entry, share in zip(cooldown, shares, strict=True)]
    declared = declared_phases(
        where,
        phases,
        initial_lr=at,
        final_lr=None,
        final_lr_at="max_steps",
        warmup_steps=step,
        context=Context(step + sum(shares), context.steps_per_epoch, context.tokens_per_step),
        name="cooldown",
    )
    return Plan(at, declared, at, where)
