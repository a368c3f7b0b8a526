"""A param group's LR on the torch side: what it may hold, writing it in place, following outside changes.

:func:`check_group_lr` says what a group's ``lr`` may be (a float, or a 0-dim float32/float64
tensor: compiled optimizers keep the LR in a tensor, filled in place). :class:`GroupLRs` is the
part of :class:`~bounded_lr_resolver.scheduler.BoundedLR` that writes every group's LR for a step
and, before each step, notices what changed from outside since the last write, cheaply: a group
added (it follows the main group's plan at its own ratio), an LR set by another library or by
hand (folded into the group's factor), a tensor filled in place (seen by its version counter,
without reading it, so no device sync; a tensor shared by several groups is not mistaken for one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from bounded_lr_resolver import _compat
from bounded_lr_resolver.errors import bad_type, bad_value
from bounded_lr_resolver.phases import Plan

__all__ = ["GroupLRs", "as_stored", "check_group_lr", "main_group", "tensor_of"]


class GroupLRs:
    """Writing and following each param group's LR; the state it keeps is :class:`BoundedLR`'s."""

    optimizer: Any
    last_epoch: int
    _plans: list[Plan]
    _bases: list[float]
    _factors: list[float]
    _declared: int
    _lr_tensors: list[torch.Tensor | None]
    _written: list[float] | None
    _versions: list[int]
    _pending: list[tuple[float, float]]
    _last_lr: Any

    def _touched(self) -> bool:
        """Whether any group was added or removed, or its LR changed, since our last write (cheap)."""
        groups = self.optimizer.param_groups
        written = self._written
        if written is None or len(groups) != len(written):
            return written is not None
        for group, lr, tensor, version in zip(groups, written, self._lr_tensors, self._versions):  # noqa: B905
            now = group["lr"]
            if tensor is None:
                if now != lr or now.__class__ is not float:
                    return True
            elif now is not tensor or _compat.version(tensor) != version:
                return True
        return False

    def _follow_outside_changes(self) -> None:
        """Adopt param groups added since the last step and fold outside LR changes into factors."""
        groups = self.optimizer.param_groups
        if len(groups) < len(self._plans):
            raise bad_value(
                "BoundedLR.step",
                "optimizer.param_groups",
                f"at least the {len(self._plans)} param groups this scheduler follows "
                "(groups cannot be removed)",
                {"param groups": len(groups)},
            )
        factors = list(self._factors)
        for index, (group, tensor, lr) in enumerate(
            zip(groups, self._lr_tensors, self._written or (), strict=False)
        ):
            check_group_lr("BoundedLR.step", index, group["lr"])  # whatever was written there
            before = lr if tensor is None else float(as_stored(tensor, lr))
            now = float(group["lr"])
            if now == before:
                continue
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
            self._adopt(index, group["lr"]) for index, group in enumerate(groups) if index >= len(self._plans)
        ]
        self._factors = factors
        for plan, base, factor, tensor in adopted:
            self._plans.append(plan)
            self._bases.append(base)
            self._factors.append(factor)
            self._lr_tensors.append(tensor)

    def _adopt(self, index: int, lr: object) -> tuple[Plan, float, float, torch.Tensor | None]:
        """A group added after the build: it follows the main group's plan at its own ratio.

        A group that a loaded checkpoint had adopted, re-added after the load (as Lightning's
        BackboneFinetuning does on a resume), takes its base LR and factor from the checkpoint.
        """
        check_group_lr("BoundedLR.step", index, lr)
        tensor = tensor_of(lr)
        main = main_group(self._bases[: self._declared])
        plan = self._plans[main]
        if self._pending:
            base, factor = self._pending.pop(0)
            return plan.scaled(base) if base != self._bases[main] else plan, base, factor, tensor
        value = float(lr)  # type: ignore[arg-type]
        now = plan.lr_at(max(self.last_epoch, 0))
        if now == 0.0:
            return plan.scaled(value), value, 1.0, tensor
        return plan, self._bases[main], value / now, tensor

    def _write(self, step: int) -> None:
        """Write every group's LR for ``step`` (filling tensor LRs in place); remember what was written.

        Groups that follow the same plan share one evaluation. ``_versions`` holds each tensor LR's
        version counter after every write, so an in-place change from outside is seen without
        reading the tensor (no device sync), and a tensor shared by several groups is not mistaken
        for one.
        """
        written: list[float] = []
        last_plan: Plan | None = None
        value = 0.0
        tensors = self._lr_tensors
        any_tensor = False
        for group, plan, factor, tensor in zip(  # noqa: B905
            self.optimizer.param_groups, self._plans, self._factors, tensors
        ):
            if plan is not last_plan:
                value, last_plan = plan.lr_at(step), plan
            lr = value if factor == 1.0 else value * factor
            if tensor is None:
                group["lr"] = lr
            else:
                tensor.fill_(lr)
                group["lr"] = tensor
                any_tensor = True
            written.append(lr)
        self._written = written
        self._last_lr = written  # floats; get_last_lr gives the groups' types
        if any_tensor or len(self._versions) != len(tensors):  # float LRs only: the zeros are kept
            self._versions = [0 if tensor is None else _compat.version(tensor) for tensor in tensors]


def main_group(bases: Sequence[float]) -> int:
    """The group whose base LR is the largest (the one at initial_lr)."""
    return max(range(len(bases)), key=bases.__getitem__)


def tensor_of(lr: object) -> torch.Tensor | None:
    """The tensor behind a group's lr (filled in place on every write), or None for a float lr."""
    return lr if isinstance(lr, torch.Tensor) else None


def as_stored(tensor: torch.Tensor, lr: float) -> torch.Tensor:
    return torch.tensor(lr, dtype=tensor.dtype)


def check_group_lr(where: str, index: int, lr: object, key: str = "lr") -> None:
    """A group's lr (or ``key``, e.g. ``initial_lr``) is a float, or a 0-dim float32/float64 tensor.

    Other tensors cannot hold the decays (float16 and bfloat16 keep ~3 digits, an integer or bool
    rounds them to 0, a complex number has no order), and neither can text, a bool or None.
    """
    rule = "a float, or a 0-dim float32 or float64 tensor"
    name = f"param group {index}'s {key}"
    if isinstance(lr, torch.Tensor):
        if lr.dtype not in (torch.float32, torch.float64):
            if lr.is_complex():
                why = "has no order (an optimizer compares lr < 0)"
            elif lr.is_floating_point():
                why = "cannot hold the decays exactly (it keeps about 3 significant digits)"
            else:
                why = "cannot hold the decays exactly (it rounds them to whole numbers, 0 below 1)"
            raise bad_type(where, name, rule, lr, f"A {lr.dtype} LR {why}; give a float or a float32 tensor")
        if lr.dim() != 0:
            raise bad_value(where, name, rule, {f"{key} shape": tuple(lr.shape)})
    elif isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise bad_type(where, name, rule, lr)
