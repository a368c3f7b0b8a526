"""The torch side: :class:`BoundedLR`, a closed-form LR scheduler, and :func:`build_scheduler`.

``BoundedLR`` computes every LR from the step count in float64 (``base * gamma**k``) and writes
it into the optimizer (filling a tensor LR in place), so there is no drift from chained fp32
multiplication, resuming is bitwise exact, and the bounds hold exactly. ``build_scheduler`` is
the Hydra ``_target_``: it validates the declared bounds against the optimizer before building.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from bounded_lr_resolver.bounds import Schedule
from bounded_lr_resolver.errors import ResumeMismatchError, bad_type, bad_value

__all__ = ["BoundedLR", "build_scheduler"]

_WHERE = "build_scheduler"
_FLOAT_RTOL = 1e-12


class BoundedLR(LRScheduler):
    """An LR scheduler that follows a validated :class:`~bounded_lr_resolver.bounds.Schedule`.

    Each param group ``g`` has its own base LR ``b_g`` and follows ``schedule.lr_at(t, b_g)``:
    linear warmup to ``b_g``, then ``n_updates`` decays by the same gamma to
    ``b_g * final_lr / initial_lr``, held after that. Call :meth:`step` once after each
    ``optimizer.step()``, as with any torch scheduler.

    Args:
        optimizer: the wrapped optimizer.
        plan: one ``(schedule, base_lr)`` pair per param group.
        last_epoch: as in torch; ``-1`` starts a new schedule.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        plan: Sequence[tuple[Schedule, float]],
        last_epoch: int = -1,
    ) -> None:
        self._plan = tuple(plan)
        # The tensors behind tensor LRs: compiled graphs hold them, so every write fills these same
        # objects in place (older torch versions assign a float over them in their own step()).
        self._lr_tensors = tuple(
            group["lr"] if isinstance(group["lr"], torch.Tensor) else None for group in optimizer.param_groups
        )
        super().__init__(optimizer, last_epoch)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The schedule each param group follows."""
        return tuple(schedule for schedule, _ in self._plan)

    @property
    def base_lrs_exact(self) -> tuple[float, ...]:
        """Each param group's base LR as the float64 value the schedule uses."""
        return tuple(base for _, base in self._plan)

    def lrs_at(self, step: int) -> list[float]:
        """Every group's LR after ``step`` scheduler steps (no stepping, no side effects)."""
        return [schedule.lr_at(step, base) for schedule, base in self._plan]

    def get_lr(self) -> list[float | torch.Tensor]:
        """The LRs at :attr:`last_epoch`, in closed form."""
        return list(self.lrs_at(self.last_epoch))

    def _get_closed_form_lr(self) -> list[float | torch.Tensor]:
        return self.get_lr()

    def step(self, epoch: int | None = None) -> None:
        """Advance one step and write the new LRs into the optimizer.

        The first call (and the deprecated ``epoch`` form) goes through torch's own ``step`` so
        its call-order warnings still apply; later calls take a short path with the same effect.
        """
        if epoch is not None or self._step_count < 2:
            super().step(epoch)
        else:
            self._step_count += 1
            self.last_epoch += 1
        self._write(self.last_epoch)

    def _write(self, step: int) -> None:
        """Write every group's LR for ``step`` (filling tensor LRs in place)."""
        groups = self.optimizer.param_groups
        for group, tensor, (schedule, base) in zip(groups, self._lr_tensors, self._plan, strict=True):
            lr = schedule.lr_at(step, base)
            if tensor is None:
                group["lr"] = lr
            else:
                tensor.fill_(lr)
                group["lr"] = tensor

    def get_last_lr(self) -> list[float | torch.Tensor]:
        """The LRs last written, with the groups' own types (tensors are copies)."""
        return [
            lr.clone() if isinstance(lr, torch.Tensor) else lr
            for lr in (group["lr"] for group in self.optimizer.param_groups)
        ]

    def _bounds(self) -> list[dict[str, object]]:
        return [dict(schedule.bounds(), base_lr=base) for schedule, base in self._plan]

    def state_dict(self) -> dict[str, Any]:
        """Torch's scheduler state plus the bounds, as plain data (safe for ``weights_only`` loads)."""
        state = {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("optimizer", "_plan", "_lr_tensors")
        }
        state["_last_lr"] = self.get_last_lr()
        state["bounds"] = self._bounds()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step count; refuse a checkpoint saved under other bounds.

        After loading, the optimizer's LRs are rewritten for the restored step, so the order in
        which the optimizer and the scheduler are restored does not matter.

        Raises:
            ResumeMismatchError: the checkpoint's bounds differ from this scheduler's, naming
                every differing field with both values.
        """
        saved = state_dict.get("bounds")
        ours = self._bounds()
        if saved is None:
            raise ResumeMismatchError(
                "BoundedLR.load_state_dict: state_dict must come from BoundedLR.state_dict(), "
                "got one without 'bounds' (a torch scheduler's checkpoint?)"
            )
        if saved != ours:
            raise ResumeMismatchError(_describe_mismatch(saved, ours))
        self.__dict__.update({key: value for key, value in state_dict.items() if key != "bounds"})
        self._write(self.last_epoch)


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


def _group_lrs(optimizer: Optimizer) -> list[float]:
    """Each group's starting LR: its ``initial_lr`` if a scheduler or checkpoint set one."""
    return [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]


def _same_lr(group_lr: float, declared: float, is_tensor: bool) -> bool:
    rtol = float(torch.finfo(torch.float32).eps) if is_tensor else _FLOAT_RTOL
    return math.isclose(group_lr, declared, rel_tol=rtol)


def _is_sequence(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _plan(
    optimizer: Optimizer,
    initial_lr: float | Sequence[float],
    final_lr: float | Sequence[float],
    fields: dict[str, Any],
) -> list[tuple[Schedule, float]]:
    group_lrs = _group_lrs(optimizer)
    tensors = [isinstance(group["lr"], torch.Tensor) for group in optimizer.param_groups]
    if _is_sequence(initial_lr) or _is_sequence(final_lr):
        return _plan_per_group(group_lrs, tensors, initial_lr, final_lr, fields)
    schedule = Schedule(initial_lr=initial_lr, final_lr=final_lr, where=_WHERE, **fields)  # type: ignore[arg-type]
    peak = max(group_lrs)
    if not _same_lr(peak, schedule.initial_lr, tensors[group_lrs.index(peak)]):
        raise bad_value(
            _WHERE,
            "initial_lr",
            "the optimizer's (largest param group's) lr",
            {"initial_lr": schedule.initial_lr, "optimizer lrs": group_lrs},
            "Build the optimizer with lr=${scheduler.initial_lr}, or give per-group lists: "
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
        if not _is_sequence(value):
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


def _check_derived(
    plan: list[tuple[Schedule, float]],
    gamma: float | None,
    step_size: int | None,
    milestones: Sequence[int] | None,
) -> None:
    """Derived values shown in a config (gamma, step_size, milestones) must match what we derive."""
    for schedule, _ in plan:
        if gamma is not None and not (
            isinstance(gamma, (int, float)) and math.isclose(gamma, schedule.gamma, rel_tol=1e-12)
        ):
            raise bad_value(
                _WHERE,
                "gamma",
                "the gamma derived from the bounds (or left out)",
                {"gamma": gamma, "derived gamma": schedule.gamma},
                "Change initial_lr, final_lr or n_updates instead of gamma",
            )
        if step_size is not None and step_size != schedule.step_size:
            raise bad_value(
                _WHERE,
                "step_size",
                "the step size derived from the bounds (or left out)",
                {"step_size": step_size, "derived step_size": schedule.step_size},
                "Change max_steps, n_updates or warmup_steps instead of step_size",
            )
        if milestones is not None and list(milestones) != schedule.milestones():
            raise bad_value(
                _WHERE,
                "milestones",
                "the milestones derived from the bounds (or left out)",
                {"milestones": list(milestones)[:8], "derived": schedule.milestones()[:8]},
                "Change max_steps, n_updates or warmup_steps instead of milestones",
            )


def build_scheduler(
    optimizer: Optimizer,
    *,
    initial_lr: float | Sequence[float],
    final_lr: float | Sequence[float],
    max_steps: int,
    n_updates: int | None = None,
    kind: str = "step",
    final_lr_at: str = "max_steps",
    warmup_steps: int = 0,
    warmup_start_factor: float = 0.0,
    gamma: float | None = None,
    step_size: int | None = None,
    milestones: Sequence[int] | None = None,
) -> BoundedLR:
    """Build a scheduler that decays from ``initial_lr`` to ``final_lr`` in ``n_updates`` decays.

    .. math::

        \\gamma = (\\eta_f / \\eta_0)^{1/m}, \\qquad \\eta(t) = \\eta_0 \\gamma^{k(t)}, \\qquad
        \\eta(M) = \\eta_f \\text{ (or } \\eta(M - 1) = \\eta_f \\text{ with final\\_lr\\_at="last\\_step")}

    Usable as a Hydra ``_target_`` with ``_partial_: true``; ``instantiate(cfg.scheduler)`` then
    returns a callable taking ``optimizer=``.

    Args:
        optimizer: a ``torch.optim.Optimizer``. Its largest param-group lr must equal
            ``initial_lr``; other groups keep their ratio and end at ``lr * final_lr / initial_lr``.
        initial_lr: the LR at the start of the decay (after warmup). A list gives one per group.
        final_lr: the LR the decay ends at, in ``(0, initial_lr]``. A list gives one per group.
        max_steps: the training length in scheduler steps (one ``step()`` per optimizer step).
        n_updates: the number of decays. For ``kind="exponential"`` (a decay every step) leave it
            out, or give exactly ``max_steps - warmup_steps`` (one less with ``"last_step"``).
        kind: ``"step"`` (evenly every ``step_size`` steps; the step count must divide evenly),
            ``"multistep"`` (``n_updates`` evenly spread milestones, any ``max_steps``) or
            ``"exponential"``.
        final_lr_at: ``"max_steps"``: the LR is ``final_lr`` after ``max_steps`` steps (torch's
            convention); ``"last_step"``: the last training step ``max_steps - 1`` trains at it.
        warmup_steps: steps of linear warmup before the decay, in ``[0, max_steps)``.
        warmup_start_factor: the warmup starts at ``initial_lr * warmup_start_factor``.
        gamma, step_size, milestones: derived values a config may show (``${lr_gamma:...}``);
            if given they must equal what is derived here, else an error is raised.

    Returns:
        A :class:`BoundedLR` (a ``torch.optim.lr_scheduler.LRScheduler``).

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
    if not isinstance(optimizer, Optimizer):
        raise bad_type(_WHERE, "optimizer", "a torch.optim.Optimizer", optimizer)
    fields = {
        "max_steps": max_steps,
        "n_updates": n_updates,
        "kind": kind,
        "final_lr_at": final_lr_at,
        "warmup_steps": warmup_steps,
        "warmup_start_factor": warmup_start_factor,
    }
    plan = _plan(optimizer, initial_lr, final_lr, fields)
    _check_derived(plan, gamma, step_size, milestones)
    return BoundedLR(optimizer, plan)
