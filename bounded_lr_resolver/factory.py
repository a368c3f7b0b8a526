"""Build a :class:`~bounded_lr_resolver.scheduler.BoundedLR` from declared bounds: the Hydra ``_target_``.

:func:`build_scheduler` validates the declared bounds against the optimizer before building. Called
without an optimizer (as the shipped ``bounded_lr`` options are instantiated), it checks the
config's derived keys against the config's own bounds and returns a plain ``functools.partial``
of itself that remembers those bounds (``derived_from``), so that a bound given only at call time
(``make(optimizer=o, max_steps=trainer.estimated_stepping_batches)``) re-derives everything while
a hand-edited derived key in the config is still caught. An exact partial of an allowed target is
what hydra-core 1.4's execution whitelist accepts as a callable result.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from bounded_lr_resolver import _compat
from bounded_lr_resolver.built import record_build
from bounded_lr_resolver.checkpoint import FP32_RTOL
from bounded_lr_resolver.derived import (
    check_derived,
    check_on_resume_change,
    declared,
    is_sequence,
    plain,
    plain_phases,
)
from bounded_lr_resolver.errors import bad_type, bad_value, missing_extra
from bounded_lr_resolver.schedule import Schedule

if TYPE_CHECKING:  # torch is imported when an optimizer is given: the partial is pure (a base install)
    from torch.optim import Optimizer

    from bounded_lr_resolver.scheduler import BoundedLR

__all__ = ["build_scheduler"]

_WHERE = "build_scheduler"
_FLOAT_RTOL = 1e-12


def _group_lrs(optimizer: Optimizer) -> list[float]:
    """Each group's starting LR: its ``initial_lr`` if a scheduler or checkpoint set one."""
    return [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]


def _node_key() -> dict[str, str]:
    """``{"key": <the config key of the node Hydra is instantiating>}``, or ``{}`` outside Hydra."""
    key = _compat.hydra_node_key()
    return {} if key is None else {"key": key}


def _lr_source(node_key: str | None) -> str:
    """Where the optimizer's lr should come from: the scheduler node's own ``initial_lr``, by its key.

    The key is the one Hydra instantiated (remembered by the partial), or the one of the Hydra
    partial being called (``_partial_: true``); a direct call has none.
    """
    key = node_key or _compat.hydra_node_key()
    if key is None:
        return "lr=initial_lr (in a config, lr: ${<the scheduler node's key>.initial_lr})"
    return f"lr=${{{key}.initial_lr}}"


def _same_lr(group_lr: float, declared: float, is_tensor: bool) -> bool:
    rtol = FP32_RTOL if is_tensor else _FLOAT_RTOL
    return math.isclose(group_lr, declared, rel_tol=rtol)


def _plan(
    optimizer: Optimizer,
    initial_lr: float | Sequence[float] | None,
    final_lr: float | Sequence[float] | None,
    fields: dict[str, Any],
    node_key: str | None = None,
) -> list[tuple[Schedule, float]]:
    group_lrs = _group_lrs(optimizer)
    import torch

    if initial_lr is None:  # left out: the optimizer's (largest group's) lr is the peak
        initial_lr = max(group_lrs)
        fields = {**fields, "at_run_time": (*fields.get("at_run_time", ()), "initial_lr")}

    tensors = [isinstance(group["lr"], torch.Tensor) for group in optimizer.param_groups]
    if is_sequence(initial_lr) or is_sequence(final_lr):
        return _plan_per_group(group_lrs, tensors, initial_lr, final_lr, fields)
    schedule = Schedule(initial_lr=initial_lr, final_lr=final_lr, where=_WHERE, **fields)
    peak = max(group_lrs)
    if not _same_lr(peak, schedule.initial_lr, tensors[group_lrs.index(peak)]):
        raise bad_value(
            _WHERE,
            "initial_lr",
            "the optimizer's (largest param group's) lr",
            {"initial_lr": schedule.initial_lr, "optimizer lrs": group_lrs},
            f"Build the optimizer with {_lr_source(node_key)}, or give per-group lists: "
            "initial_lr=[...], final_lr=[...]",
        )
    return [
        (schedule, schedule.initial_lr if _same_lr(lr, schedule.initial_lr, t) else lr)
        for lr, t in zip(group_lrs, tensors, strict=True)
    ]


def _plan_per_group(
    group_lrs: list[float],
    tensors: list[bool],
    initial_lr: object,
    final_lr: object,
    fields: dict[str, Any],
) -> list[tuple[Schedule, float]]:
    for name, value in (("initial_lr", initial_lr), ("final_lr", final_lr)):
        if not is_sequence(value):
            raise bad_type(_WHERE, name, "a list like the other bound when one of them is a list", value)
        if len(value) != len(group_lrs):  # type: ignore[arg-type]
            raise bad_value(
                _WHERE,
                name,
                "a list with one entry per param group",
                {name: list(value), "param groups": len(group_lrs)},  # type: ignore[call-overload]
            )
    plan = []
    for index, (eta0, eta_f) in enumerate(zip(initial_lr, final_lr, strict=True)):  # type: ignore[call-overload]
        schedule = Schedule(initial_lr=eta0, final_lr=eta_f, where=f"{_WHERE} (group {index})", **fields)
        if not _same_lr(group_lrs[index], schedule.initial_lr, tensors[index]):
            raise bad_value(
                _WHERE,
                f"initial_lr[{index}]",
                f"param group {index}'s lr",
                {f"initial_lr[{index}]": schedule.initial_lr, "group lr": group_lrs[index]},
            )
        plan.append((schedule, schedule.initial_lr))
    return plan


@overload
def build_scheduler(optimizer: Optimizer, **bounds: Any) -> BoundedLR: ...


@overload
def build_scheduler(optimizer: None = None, **bounds: Any) -> functools.partial[BoundedLR]: ...


def build_scheduler(
    optimizer: Optimizer | None = None,
    *,
    initial_lr: float | Sequence[float] | None = None,
    final_lr: float | Sequence[float] | None = None,
    max_steps: int | str | None = None,
    n_updates: int | None = None,
    kind: str | None = None,
    final_lr_at: str = "max_steps",
    warmup_steps: int | str = 0,
    warmup_start_factor: float = 0.0,
    warmup_shape: str = "linear",
    decay_steps: int | str | None = None,
    decay_shape: str | None = None,
    phases: Sequence[Mapping[str, Any]] | None = None,
    steps_per_epoch: int | None = None,
    tokens_per_step: int | None = None,
    cooldown: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    on_resume_change: str = "refuse",
    branch_of_branch: bool = False,
    expected_max_steps: int | None = None,
    gamma: float | None = None,
    step_size: int | None = None,
    milestones: Sequence[int] | None = None,
    derived_from: Mapping[str, Any] | None = None,
    **shape_params: Any,
) -> BoundedLR | functools.partial[BoundedLR]:
    """Build a scheduler that decays from ``initial_lr`` to ``final_lr``, exactly, in the shape ``kind``.

    .. math::

        \\eta(M) = \\eta_f \\text{ (or } \\eta(M - 1) = \\eta_f \\text{ with final\\_lr\\_at="last\\_step")},
        \\qquad \\text{step kinds:} \\gamma = (\\eta_f / \\eta_0)^{1/m}, \\; \\eta(t) = \\eta_0 \\gamma^{k(t)}

    Usable as a Hydra ``_target_``. Without an optimizer (the shipped ``bounded_lr`` options) it
    checks the derived keys against the bounds now and returns ``functools.partial(build_scheduler,
    ..., derived_from=<those bounds>)``: call it with ``optimizer=`` and, optionally, bounds known
    only at run time (``max_steps=...``), which re-derive everything. With ``_partial_: true`` in
    your own config, every derived key given is checked against the bounds of the call.

    Args:
        optimizer: a ``torch.optim.Optimizer``. Its largest param-group lr must equal
            ``initial_lr``; other groups keep their ratio and end at ``lr * final_lr / initial_lr``.
        initial_lr: the peak LR (where warmup ends and the first phase starts). A list gives one
            per group. Left out, the optimizer's lr (its largest param group's) is the peak.
        final_lr: the LR the schedule ends at, in ``[0, initial_lr]`` (``> 0`` for the step kinds
            and multiplicative shapes). A list gives one per group. Left out with ``phases`` (the
            last phase's ``end_lr``) and ``kind="constant"``.
        max_steps: the training length in scheduler steps (one ``step()`` per optimizer step), or
            a duration: ``"3ep"`` (with ``steps_per_epoch``) or ``"2Btok"`` (with
            ``tokens_per_step``). A config may leave it ``null`` (set at run time): the partial
            then needs ``max_steps=`` when it is called. A bound given to the partial that differs
            from the config's (the trainer's horizon) is set at run time: durations are then
            rounded down to whole steps instead of refused, and the records say so.
        n_updates: the number of decays of a step kind. For ``kind="exponential"`` (a decay
            every step) leave it out, or give exactly ``max_steps - warmup_steps`` (one less with
            ``"last_step"``).
        kind: the step kinds ``"step"`` (evenly every ``step_size`` steps; the step count must
            divide evenly), ``"multistep"`` (``n_updates`` evenly spread milestones, any
            ``max_steps``) and ``"exponential"``; a shape of
            :data:`~bounded_lr_resolver.shapes.SHAPES` (``"cosine"``, ``"linear"``, ...: one
            phase of it); ``"wsd"`` (warmup, stable, decay); ``"phases"`` (the ``phases`` list;
            the default when ``phases`` is given, else ``"step"``).
        final_lr_at: ``"max_steps"``: the LR is ``final_lr`` after ``max_steps`` steps (torch's
            convention); ``"last_step"``: the last training step ``max_steps - 1`` trains at it.
        warmup_steps: steps of warmup before the phases, in ``[0, max_steps)``, or a duration
            (``"0.05dur"``: a twentieth of ``max_steps``).
        warmup_start_factor: the warmup starts at ``initial_lr * warmup_start_factor``.
        warmup_shape: ``"linear"`` (default), ``"cosine"`` or ``"exponential"`` (needs a start
            factor above 0).
        decay_steps: ``kind="wsd"`` only: the length of the final decay, in
            ``[1, max_steps - warmup_steps]`` (or a duration); the LR holds at ``initial_lr``
            before it.
        decay_shape: ``kind="wsd"`` only: the cooldown's shape, ``"cosine"`` by default.
        phases: ``kind="phases"``: ``[{"shape": ..., "steps": ..., "end_lr": ..., ...}, ...]``
            after warmup, adding up to ``max_steps - warmup_steps`` (see
            :mod:`bounded_lr_resolver.schedule`).
        steps_per_epoch: what ``"ep"`` durations count against (scheduler steps per epoch).
        tokens_per_step: what ``"tok"`` durations count against (tokens per scheduler step).
        expected_max_steps: with ``max_steps`` left to run time (``null``), the horizon the run
            expects: the declaration is checked against it when the config is read and before a
            sweep starts (:class:`~bounded_lr_resolver.callbacks.SweepPreflight`); the scheduler
            is built with the ``max_steps`` of the call.
        cooldown: a stable run's branch (``kind="constant"``, or phases ending in a hold): the
            phases ``{shape, steps, end_lr}`` (one mapping or a list) that follow the step of the
            stable run's checkpoint, planned when it is loaded (see :mod:`bounded_lr_resolver.branch`).
        branch_of_branch: with ``cooldown``, also branch from a checkpoint taken inside a branch.
        on_resume_change: what loading a checkpoint saved under other bounds does: ``"refuse"``
            (the default: ``ResumeMismatchError`` naming every changed field) or ``"replan"``
            (continue from the checkpoint's step and LR and plan the rest of the run under the
            new bounds, exactly; see :mod:`bounded_lr_resolver.resume`). Bounds that give the
            same LR at every later step are accepted either way.
        gamma: a derived value a config may show (``${lr_gamma:...}``); if given it must equal
            what is derived here, else an error is raised.
        step_size: derived, as ``gamma``.
        milestones: derived, as ``gamma``.
        derived_from: set by ``build_scheduler`` itself when called without an optimizer: the
            bounds and derived keys of the config. Where a bound of the call differs from it, the
            config's derived keys are derived again; a derived key given in the call is checked.
        **shape_params: the kind's shape parameters: ``power`` (``"polynomial"``), ``T_0`` and
            ``T_mult`` (``"cosine_restarts"``).

    Returns:
        A :class:`BoundedLR` (a ``torch.optim.lr_scheduler.LRScheduler``), or without an optimizer
        a ``functools.partial`` of this function taking ``optimizer=`` (and any bound).

    Examples:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=12, n_updates=3)
        >>> for _ in range(12):
        ...     opt.step()
        ...     sched.step()
        >>> sched.get_last_lr()
        [0.0001]
    """
    fields = {
        "max_steps": max_steps,
        "n_updates": n_updates,
        "kind": kind,
        "final_lr_at": final_lr_at,
        "warmup_steps": warmup_steps,
        "warmup_start_factor": warmup_start_factor,
        "warmup_shape": warmup_shape,
        "decay_steps": decay_steps,
        "decay_shape": decay_shape,
        "phases": plain_phases(phases),
        "steps_per_epoch": steps_per_epoch,
        "tokens_per_step": tokens_per_step,
        "cooldown": dict(cooldown) if isinstance(cooldown, Mapping) else plain_phases(cooldown),
        **shape_params,
    }
    bounds = {"initial_lr": initial_lr, "final_lr": final_lr, **fields}
    derived = {"gamma": gamma, "step_size": step_size, "milestones": milestones}
    check_on_resume_change(on_resume_change)
    if optimizer is None:
        # a hand-edited derived key is caught as soon as the config is read; a horizon left to run
        # time is checked against expected_max_steps, if declared
        declared({**bounds, **derived, "expected_max_steps": expected_max_steps})
        given = {key: value for key, value in bounds.items() if value is not None or key in _REQUIRED}
        expected = {} if expected_max_steps is None else {"expected_max_steps": expected_max_steps}
        return functools.partial(
            build_scheduler,
            **given,
            **expected,
            **{key: value for key, value in derived.items() if value is not None},
            on_resume_change=on_resume_change,
            **({"branch_of_branch": True} if branch_of_branch else {}),
            derived_from={"bounds": plain(given), "derived": plain(derived), **_node_key()},
        )
    if derived_from is not None:
        # The partial remembers the config's bounds and what they derived. Where a bound of this
        # call replaced one, the config's derived keys are derived again; a derived key given in
        # this call (it differs from the config's) is checked against this call's bounds.
        current = plain(bounds)
        late = tuple(
            key for key, value in derived_from.get("bounds", {}).items() if current.get(key) != value
        )
        replaced = bool(late)
        fields["at_run_time"] = late
        remembered = derived_from.get("derived", {})
        if replaced:
            gamma = None if _same(gamma, remembered.get("gamma")) else gamma
            step_size = None if _same(step_size, remembered.get("step_size")) else step_size
            milestones = None if _same(milestones, remembered.get("milestones")) else milestones
    try:
        from torch.optim import Optimizer
    except ModuleNotFoundError as error:  # a base install: the partial needs no torch, the scheduler does
        raise missing_extra(error, "build_scheduler(optimizer=...)") from None
    from bounded_lr_resolver.scheduler import BoundedLR, check_group_lr, main_group

    if not isinstance(optimizer, Optimizer):
        raise bad_type(_WHERE, "optimizer", "a torch.optim.Optimizer", optimizer)
    if max_steps is None and kind != "constant":  # a stable run may hold for as long as training runs
        raise bad_type(
            _WHERE,
            "max_steps",
            "the training length, given when the scheduler is built (the config leaves it to run time)",
            None,
            "Call the partial with max_steps=... (e.g. trainer.estimated_stepping_batches), or build it "
            "with bounded_lr_resolver.lightning.configure_optimizers",
        )
    for index, group in enumerate(optimizer.param_groups):
        check_group_lr(_WHERE, index, group["lr"])
        if "initial_lr" in group:  # set by an earlier scheduler or a checkpoint: the group starts there
            check_group_lr(_WHERE, index, group["initial_lr"], key="initial_lr")
    plan = _plan(optimizer, initial_lr, final_lr, fields, (derived_from or {}).get("key"))
    check_derived(plan, gamma, step_size, milestones)
    scheduler = BoundedLR(
        optimizer, plan, on_resume_change=on_resume_change, branch_of_branch=branch_of_branch
    )
    # inside a Hydra job that keeps our records: what was built, horizon included, is on record
    main = main_group([base for _, base in plan])
    record_build(
        [schedule for schedule, _ in plan],
        None if derived_from is None else derived_from["bounds"],
        scheduler.plans[main],
        main,
    )
    return scheduler


# The public, documented name is the canonical one: hydra-core 1.4 authorizes the partial a target
# returns by its function's module and name, and a whitelist of "bounded_lr_resolver.build_scheduler"
# (the README's) must keep working. The package resolves that name to this same function.
build_scheduler.__module__ = "bounded_lr_resolver"
__test__ = {"build_scheduler": build_scheduler}  # doctest skips functions "from another module"


_REQUIRED = ("initial_lr", "max_steps")


def _same(value: object, remembered: object) -> bool:
    """Whether a derived key of the call is the one the partial brought from the config."""
    if value is None:
        return True
    same: bool = plain({"v": value})["v"] == remembered
    return same
