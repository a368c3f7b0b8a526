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
_FP32_RTOL = float(torch.finfo(torch.float32).eps)


class BoundedLR(LRScheduler):
    """An LR scheduler that follows a validated :class:`~bounded_lr_resolver.bounds.Schedule`.

    Each param group ``g`` has its own base LR ``b_g`` and follows ``schedule.lr_at(t, b_g)``:
    linear warmup to ``b_g``, then ``n_updates`` decays by the same gamma to
    ``b_g * final_lr / initial_lr``, held after that. Call :meth:`step` once after each
    ``optimizer.step()``, as with any torch scheduler.

    Other code touching the same optimizer is honoured, never silently undone:

    - a param group added later (``optimizer.add_param_group``, e.g. Lightning's
      ``BackboneFinetuning``) joins the schedule at its own LR and from then on follows the same
      decays (its ratio to the schedule is kept), as torch's own schedulers do;
    - an LR changed from outside between two steps (``ReduceLROnPlateau``, a chained torch
      scheduler, ``group["lr"] = ...``) becomes a factor on the rest of that group's schedule:
      the next step writes ``factor * schedule.lr_at(t)``, so changes compound as with torch's
      chained schedulers. The factors are part of :meth:`state_dict`.

    Args:
        optimizer: the wrapped optimizer; every group's lr is a float or a 0-dim float32/float64
            tensor.
        plan: one ``(schedule, base_lr)`` pair per param group.
        last_epoch: as in torch; ``-1`` starts a new schedule.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        plan: Sequence[tuple[Schedule, float]],
        last_epoch: int = -1,
    ) -> None:
        groups = optimizer.param_groups
        if len(plan) != len(groups):
            raise bad_value(
                "BoundedLR",
                "plan",
                "one (schedule, base_lr) pair per param group",
                {"plan entries": len(plan), "param groups": len(groups)},
            )
        for index, group in enumerate(groups):
            _check_group_lr("BoundedLR", index, group["lr"])
        self._plan = list(plan)
        self._declared = len(self._plan)
        self._factors = [1.0] * len(self._plan)
        # The tensors behind tensor LRs: compiled graphs hold them, so every write fills these same
        # objects in place (older torch versions assign a float over them in their own step()).
        self._lr_tensors: list[torch.Tensor | None] = [
            group["lr"] if isinstance(group["lr"], torch.Tensor) else None for group in groups
        ]
        self._written: list[tuple[object, int, float]] | None = None
        super().__init__(optimizer, last_epoch)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The schedule each param group follows."""
        return tuple(schedule for schedule, _ in self._plan)

    @property
    def base_lrs_exact(self) -> tuple[float, ...]:
        """Each param group's base LR as the float64 value the schedule uses."""
        return tuple(base for _, base in self._plan)

    @property
    def factors(self) -> tuple[float, ...]:
        """Each param group's factor from LR changes made outside the scheduler (1.0: none)."""
        return tuple(self._factors)

    def lrs_at(self, step: int) -> list[float]:
        """Every group's LR after ``step`` scheduler steps (no stepping, no side effects)."""
        return [
            schedule.lr_at(step, base) * factor
            for (schedule, base), factor in zip(self._plan, self._factors, strict=True)
        ]

    def get_lr(self) -> list[float | torch.Tensor]:
        """The LRs at :attr:`last_epoch`, in closed form."""
        return list(self.lrs_at(self.last_epoch))

    def _get_closed_form_lr(self) -> list[float | torch.Tensor]:
        return self.get_lr()

    def step(self, epoch: int | None = None) -> None:
        """Advance one step (or to ``epoch``) and write the new LRs into the optimizer.

        Param groups added and LRs changed since the last step are taken into account first
        (see the class docstring); a change that cannot be honoured raises before anything is
        changed. The first call (and the deprecated ``epoch`` form) goes through torch's own
        ``step`` so its call-order warnings still apply; later calls take a short path.
        """
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0):
            raise bad_value("BoundedLR.step", "epoch", "a whole number >= 0 (or left out)", {"epoch": epoch})
        self._follow_outside_changes()
        if epoch is not None or self._step_count < 2:
            super().step(epoch)
        else:
            self._step_count += 1
            self._update_lr(None)

    def _update_lr(self, epoch: int | None = None) -> None:
        """torch's ``step`` calls this; the bare ``zip(..., strict=True)`` there knows no new groups."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._write(self.last_epoch)

    def _follow_outside_changes(self) -> None:
        """Adopt param groups added since the last step and fold outside LR changes into factors."""
        groups = self.optimizer.param_groups
        if len(groups) < len(self._plan):
            raise bad_value(
                "BoundedLR.step",
                "optimizer.param_groups",
                f"at least the {len(self._plan)} param groups this scheduler follows "
                "(groups cannot be removed)",
                {"param groups": len(groups)},
            )
        factors = list(self._factors)
        if self._written is not None:
            for index, (group, written) in enumerate(zip(groups, self._written, strict=False)):
                now = _changed_lr(group["lr"], written)
                if now is None:
                    continue
                before = _stored(written)
                if before == 0.0:
                    raise bad_value(
                        "BoundedLR.step",
                        f"param group {index}'s lr",
                        "changed from outside only while the schedule's LR is above 0 "
                        "(a factor on 0 is undefined)",
                        {"lr": now, "scheduled lr": before, "step": self.last_epoch},
                        "Start the warmup above 0 (warmup_start_factor > 0), or change the LR "
                        "after the first step",
                    )
                factors[index] *= now / before
        adopted = [
            self._adopt(index, group["lr"]) for index, group in enumerate(groups) if index >= len(self._plan)
        ]
        self._factors = factors
        for entry, factor, tensor in adopted:
            self._plan.append(entry)
            self._factors.append(factor)
            self._lr_tensors.append(tensor)

    def _adopt(self, index: int, lr: object) -> tuple[tuple[Schedule, float], float, torch.Tensor | None]:
        """A group added after the build: it follows the main schedule at its own ratio."""
        _check_group_lr("BoundedLR.step", index, lr)
        schedule, base = self._plan[_main(self.base_lrs_exact)]
        value = float(lr)  # type: ignore[arg-type]
        now = schedule.lr_at(max(self.last_epoch, 0), base)
        entry, factor = ((schedule, value), 1.0) if now == 0.0 else ((schedule, base), value / now)
        return entry, factor, lr if isinstance(lr, torch.Tensor) else None

    def _write(self, step: int) -> None:
        """Write every group's LR for ``step`` (filling tensor LRs in place)."""
        written: list[tuple[object, int, float]] = []
        groups = self.optimizer.param_groups
        for group, tensor, lr in zip(groups, self._lr_tensors, self.lrs_at(step), strict=True):
            if tensor is None:
                group["lr"] = lr
                written.append((None, 0, lr))
            else:
                tensor.fill_(lr)
                group["lr"] = tensor
                written.append((tensor, tensor._version, lr))  # noqa: SLF001 - bumped by in-place writes
        self._written = written
        self._last_lr = [
            lr if tensor is None else _as_stored(tensor, lr)
            for tensor, (_, _, lr) in zip(self._lr_tensors, written, strict=True)
        ]

    def get_last_lr(self) -> list[float | torch.Tensor]:
        """The LRs this scheduler last wrote, with the groups' own types (tensors are new copies)."""
        return [lr.clone() if isinstance(lr, torch.Tensor) else lr for lr in self._last_lr]

    def __repr__(self) -> str:
        schedule = self._plan[_main(self.base_lrs_exact)][0]
        fields = ", ".join(f"{key}={value!r}" for key, value in schedule.bounds().items())
        return f"BoundedLR({fields}, param_groups={len(self._plan)}, step={self.last_epoch})"

    def _bounds(self) -> list[dict[str, object]]:
        return [dict(schedule.bounds(), base_lr=base) for schedule, base in self._plan[: self._declared]]

    def state_dict(self) -> dict[str, Any]:
        """The step count, the bounds and the outside factors, as plain data (``weights_only`` loads)."""
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": [float(base) for base in self.base_lrs],
            "_last_lr": [float(lr) for lr in self._last_lr],
            "bounds": self._bounds(),
            "factors": self._factors[: self._declared],
            "adopted": [
                {"base_lr": base, "factor": factor}
                for (_, base), factor in zip(
                    self._plan[self._declared :], self._factors[self._declared :], strict=True
                )
            ],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step count and factors; refuse a checkpoint saved under other bounds.

        The whole dict is validated before anything is applied. After loading, the optimizer's
        LRs are rewritten for the restored step, so the order in which the optimizer and the
        scheduler are restored does not matter.

        Raises:
            ResumeMismatchError: the checkpoint's bounds differ from this scheduler's, naming
                every differing field with both values.
            BoundsError, BoundsTypeError: a truncated or foreign checkpoint, naming the field.
        """
        state = _validated_state(state_dict, self._bounds())
        groups = self.optimizer.param_groups
        main = self._plan[_main(self.base_lrs_exact)][0]
        adopted = state["adopted"]
        if self._declared + len(adopted) > len(groups):
            raise bad_value(
                _LOAD,
                "adopted",
                "param groups the optimizer has (add them before loading the scheduler)",
                {"groups in checkpoint": self._declared + len(adopted), "optimizer groups": len(groups)},
            )
        for index in range(self._declared, self._declared + len(adopted)):
            _check_group_lr(_LOAD, index, groups[index]["lr"])
        self._plan = self._plan[: self._declared] + [(main, entry["base_lr"]) for entry in adopted]
        self._factors = state["factors"] + [entry["factor"] for entry in adopted]
        self._lr_tensors = self._lr_tensors[: self._declared] + [
            groups[index]["lr"] if isinstance(groups[index]["lr"], torch.Tensor) else None
            for index in range(self._declared, self._declared + len(adopted))
        ]
        self.last_epoch = state["last_epoch"]
        self._step_count = state["_step_count"]
        self._written = None
        self._write(self.last_epoch)


_LOAD = "BoundedLR.load_state_dict"
_REQUIRED = ("last_epoch", "_step_count", "bounds")
_OPTIONAL = ("base_lrs", "_last_lr", "factors", "adopted", "_get_lr_called_within_step", "_is_initial")


def _validated_state(state: object, ours: list[dict[str, object]]) -> dict[str, Any]:
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
                if not math.isclose(old[key], value, rel_tol=_FP32_RTOL):  # type: ignore[arg-type]
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


def _main(bases: Sequence[float]) -> int:
    """The group whose base LR is the largest (the one at initial_lr)."""
    return max(range(len(bases)), key=bases.__getitem__)


def _as_stored(tensor: torch.Tensor, lr: float) -> torch.Tensor:
    return torch.tensor(lr, dtype=tensor.dtype)


def _stored(written: tuple[object, int, float]) -> float:
    """The value a write left in the group: the float, or the float rounded to the tensor's dtype."""
    tensor, _, lr = written
    return lr if tensor is None else float(_as_stored(tensor, lr))  # type: ignore[arg-type]


def _changed_lr(lr: object, written: tuple[object, int, float]) -> float | None:
    """The group's LR if it differs from what we wrote, else None (no device sync unless touched)."""
    tensor, version, value = written
    if tensor is None:
        now = float(lr)  # type: ignore[arg-type]
        return None if now == value else now
    if lr is tensor and tensor._version == version:  # type: ignore[attr-defined]  # noqa: SLF001
        return None
    now = float(lr)  # type: ignore[arg-type]
    return None if now == _stored(written) else now


def _check_group_lr(where: str, index: int, lr: object) -> None:
    """A group's lr is a float, or a 0-dim float32/float64 tensor (others cannot hold the decays)."""
    rule = "a float, or a 0-dim float32 or float64 tensor"
    name = f"param group {index}'s lr"
    if isinstance(lr, torch.Tensor):
        if lr.dtype not in (torch.float32, torch.float64):
            raise bad_type(
                where,
                name,
                rule,
                lr,
                f"A {lr.dtype} LR cannot hold the decays exactly (bf16 keeps ~3 digits, integers round "
                "to 0); give a float or a float32 tensor",
            )
        if lr.dim() != 0:
            raise bad_value(where, name, rule, {"lr shape": tuple(lr.shape)})
    elif isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise bad_type(where, name, rule, lr)


def _group_lrs(optimizer: Optimizer) -> list[float]:
    """Each group's starting LR: its ``initial_lr`` if a scheduler or checkpoint set one."""
    return [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]


def _same_lr(group_lr: float, declared: float, is_tensor: bool) -> bool:
    rtol = _FP32_RTOL if is_tensor else _FLOAT_RTOL
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
    for index, group in enumerate(optimizer.param_groups):
        _check_group_lr(_WHERE, index, group["lr"])
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
