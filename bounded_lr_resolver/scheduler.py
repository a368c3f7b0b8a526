"""The torch side: :class:`BoundedLR`, a closed-form LR scheduler.

``BoundedLR`` computes every LR from the step count in float64 (each param group's
:class:`~bounded_lr_resolver.phases.Plan`) and writes it into the optimizer (filling a tensor LR
in place), so there is no drift from chained fp32 multiplication, resuming is bitwise exact, and
the bounds hold exactly. It is built by :func:`~bounded_lr_resolver.factory.build_scheduler`;
loading a checkpoint is parse (:mod:`bounded_lr_resolver.checkpoint`), decide
(:mod:`bounded_lr_resolver.resume`), apply.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from bounded_lr_resolver.errors import missing_extra  # before the optional imports it names

try:
    import torch
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler
except ModuleNotFoundError as error:
    raise missing_extra(error, "BoundedLR (the torch scheduler)") from None

from bounded_lr_resolver.built import record_build
from bounded_lr_resolver.checkpoint import LOAD, parse, tail_record
from bounded_lr_resolver.errors import ResumeMismatchError, StepCountWarning, bad_type, bad_value
from bounded_lr_resolver.group_lrs import GroupLRs, as_stored, check_group_lr, main_group, tensor_of
from bounded_lr_resolver.phases import Plan
from bounded_lr_resolver.resume import ON_RESUME_CHANGE, Decision, decide
from bounded_lr_resolver.schedule import Schedule

__all__ = ["BoundedLR", "check_group_lr", "main_group"]

_STEP_SLACK = 100  # AMP's GradScaler skips optimizer steps while it calibrates its scale
_WARNED = 2**62  # optimizer steps counted once StepCountWarning was given


class BoundedLR(GroupLRs, LRScheduler):
    """An LR scheduler that follows a validated :class:`~bounded_lr_resolver.schedule.Schedule`.

    Each param group ``g`` has its own base LR ``b_g`` and follows the schedule's plan scaled to
    it (every LR ``v`` becomes ``b_g * v / initial_lr``): warmup to ``b_g``, then the phases down
    to ``b_g * final_lr / initial_lr``, held after that. Call :meth:`step` once after each
    ``optimizer.step()``, as with any torch scheduler.

    Other code touching the same optimizer is honoured, never silently undone:

    - a param group added later (``optimizer.add_param_group``, e.g. Lightning's
      ``BackboneFinetuning``) joins the schedule at its own LR and from then on follows the same
      plan (its ratio to the schedule is kept), as torch's own schedulers do;
    - an LR changed from outside between two steps (``ReduceLROnPlateau``, a chained torch
      scheduler, ``group["lr"] = ...``) becomes a factor on the rest of that group's schedule:
      the next step writes ``factor * plan(t)``, so changes compound as with torch's chained
      schedulers. The factors are part of :meth:`state_dict`.

    Args:
        optimizer: the wrapped optimizer; every group's lr is a float or a 0-dim float32/float64
            tensor.
        plan: one ``(schedule, base_lr)`` pair per param group.
        last_epoch: as in torch; ``-1`` starts a new schedule.
        on_resume_change: what :meth:`load_state_dict` does with a checkpoint saved under other
            bounds: ``"refuse"`` (raise :class:`~bounded_lr_resolver.errors.ResumeMismatchError`)
            or ``"replan"`` (plan the rest of the run, see :mod:`bounded_lr_resolver.resume`).
        branch_of_branch: a schedule with a ``cooldown`` may branch from a checkpoint taken inside
            another branch (refused by default, see :mod:`bounded_lr_resolver.branch`).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        plan: Sequence[tuple[Schedule, float]],
        last_epoch: int = -1,
        on_resume_change: str = "refuse",
        branch_of_branch: bool = False,
    ) -> None:
        if on_resume_change not in ON_RESUME_CHANGE:
            rule = f"one of {list(ON_RESUME_CHANGE)}"
            raise bad_value("BoundedLR", "on_resume_change", rule, {"on_resume_change": on_resume_change})
        self._on_resume_change = on_resume_change
        if not isinstance(branch_of_branch, bool):
            raise bad_type("BoundedLR", "branch_of_branch", "true or false", branch_of_branch)
        self._branch_of_branch = branch_of_branch
        # a declared cooldown is planned from the stable run's checkpoint: stepping before one is
        # loaded would train the stable run under the branch's name
        self._branch_pending = any(schedule.cooldown for schedule, _ in plan)
        self.horizon: int | None = None  # where training ends, if the trainer says (lightning.py)
        groups = optimizer.param_groups
        if len(plan) != len(groups):
            raise bad_value(
                "BoundedLR",
                "plan",
                "one (schedule, base_lr) pair per param group",
                {"plan entries": len(plan), "param groups": len(groups)},
            )
        for index, group in enumerate(groups):
            check_group_lr("BoundedLR", index, group["lr"])
        self._schedules = list(plan)  # (schedule, base) of each declared group
        self._declared = len(self._schedules)
        # what each group follows (declared groups, then added ones), in its own LRs
        self._plans: list[Plan] = [schedule.plan_for(base) for schedule, base in self._schedules]
        self._bases = [base for _, base in self._schedules]
        self._factors = [1.0] * len(self._plans)
        # The tensors behind tensor LRs: compiled graphs hold them, so every write fills these same
        # objects in place (older torch versions assign a float over them in their own step()).
        self._lr_tensors: list[torch.Tensor | None] = [tensor_of(group["lr"]) for group in groups]
        self._written: list[float] | None = None  # the LR last written into each group (float64)
        self._versions: list[int] = []  # each tensor LR's version counter after the last write
        # groups a loaded checkpoint had adopted that the optimizer has not re-added yet
        self._pending: list[tuple[float, float]] = []
        self._decision = Decision(list(self._plans), [], [])  # the record of re-planned resumes
        # scheduler and optimizer steps since the build (or the last load), for StepCountWarning
        self._steps_taken = 0
        self._optimizer_steps = 0
        self._hook = optimizer.register_step_post_hook(self._count_optimizer_step)
        super().__init__(optimizer, last_epoch)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The schedule each param group follows (an added group: the main group's)."""
        main = self._schedules[main_group(self._bases[: self._declared])][0]
        return tuple(schedule for schedule, _ in self._schedules) + (main,) * (
            len(self._plans) - self._declared
        )

    @property
    def base_lrs_exact(self) -> tuple[float, ...]:
        """Each param group's base LR as the float64 value its plan starts from."""
        return tuple(self._bases)

    @property
    def plans(self) -> tuple[Plan, ...]:
        """Each declared group's whole plan: its schedule, then the rests of re-planned resumes."""
        return tuple(self._plans[: self._declared])

    @property
    def resumed_at(self) -> tuple[int, ...]:
        """The steps at which a resume re-planned the rest of the run (empty: never)."""
        return self._decision.resumed_at

    @property
    def checkpoint_plans(self) -> tuple[Plan, ...]:
        """What each declared group followed in the last checkpoint loaded (before any re-plan)."""
        before = self._decision.before
        return tuple(self.plans if before is None else before)

    @property
    def checkpoint_schedules(self) -> tuple[Schedule, ...]:
        """What the config of the last checkpoint loaded declared, per declared group."""
        declared = self._decision.declared
        return tuple(schedule for schedule, _ in self._schedules) if declared is None else tuple(declared)

    def replanned(self, group: int) -> Plan | None:
        """The rest of the run the last re-plan gave ``group``, counted from its step (None: none)."""
        segments = self._decision.segments
        return segments[-1][1][group] if segments else None

    @property
    def branches(self) -> tuple[int, ...]:
        """The steps at which a loaded checkpoint began a cooldown branch (see ``branch.py``)."""
        return self._decision.branches

    @property
    def factors(self) -> tuple[float, ...]:
        """Each param group's factor from LR changes made outside the scheduler (1.0: none)."""
        return tuple(self._factors)

    def lrs_at(self, step: int) -> list[float]:
        """Every group's LR after ``step`` scheduler steps (no stepping, no side effects)."""
        return [plan.lr_at(step) * factor for plan, factor in zip(self._plans, self._factors, strict=True)]

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
        if self._branch_pending and self.last_epoch >= 0:
            raise ResumeMismatchError(
                "BoundedLR.step: a cooldown branch must load its stable run's checkpoint before it "
                "steps, got none loaded. Load it (scheduler.load_state_dict(...), Lightning's "
                "ckpt_path, the main job's resume_from), or leave cooldown out to train the stable run"
            )
        self._steps_taken += 1
        if self._steps_taken > 2 * self._optimizer_steps + _STEP_SLACK:
            self._warn_step_count()
        if self._touched():
            self._follow_outside_changes()
        if epoch is not None or self._step_count < 2:
            super().step(epoch)
        else:
            self._step_count += 1
            self.last_epoch += 1
            self._write(self.last_epoch)

    def _count_optimizer_step(self, *_: object) -> None:
        self._optimizer_steps += 1

    def _warn_step_count(self) -> None:
        """Once: the scheduler stepped more than twice per optimizer step (plus AMP's skipped steps)."""
        warnings.warn(
            f"BoundedLR.step: scheduler.step() was called {self._steps_taken} times while the optimizer "
            f"stepped {self._optimizer_steps} times since the scheduler was built or loaded. Call it once "
            "per optimizer.step(): stepping it per micro-batch or once per process runs the schedule "
            "that many times too fast (accelerate#2773). Stepping without the optimizer on purpose? "
            "warnings.filterwarnings('ignore', category=bounded_lr_resolver.errors.StepCountWarning)",
            StepCountWarning,
            stacklevel=3,
        )
        self._optimizer_steps = _WARNED  # the step() check is false from now on: warned once

    def _update_lr(self, epoch: int | None = None) -> None:
        """torch's ``step`` calls this; the bare ``zip(..., strict=True)`` there knows no new groups."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._write(self.last_epoch)

    def get_last_lr(self) -> list[float | torch.Tensor]:
        """The LRs this scheduler last wrote, with the groups' own types (tensors are new copies)."""
        return [
            lr if tensor is None else as_stored(tensor, lr)
            for tensor, lr in zip(self._lr_tensors, self._written or (), strict=True)
        ]

    def __repr__(self) -> str:
        schedule = self._schedules[main_group(self._bases[: self._declared])][0]
        fields = ", ".join(f"{key}={value!r}" for key, value in schedule.bounds().items())
        return f"BoundedLR({fields}, param_groups={len(self._plans)}, step={self.last_epoch})"

    def _bounds(self) -> list[dict[str, object]]:
        return [dict(schedule.bounds(), base_lr=base) for schedule, base in self._schedules]

    def state_dict(self) -> dict[str, Any]:
        """The step count, the bounds and the outside factors, as plain data (``weights_only`` loads)."""
        decision = self._decision
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": [float(base) for base in self.base_lrs],
            "_last_lr": list(self._written or ()),
            "bounds": self._bounds(),
            "factors": self._factors[: self._declared],
            "adopted": [
                {"base_lr": base, "factor": factor}
                for base, factor in zip(
                    self._bases[self._declared :], self._factors[self._declared :], strict=True
                )
            ]
            + [{"base_lr": base, "factor": factor} for base, factor in self._pending],
            "segments": [
                {"step": step, "groups": [tail_record(rest) for rest in rests]}
                for step, rests in decision.segments
            ],
            "origin": [dict(schedule.bounds(), base_lr=base) for schedule, base in decision.origin],
            **({"branches": list(decision.branches)} if decision.branches else {}),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step count and factors; refuse or re-plan a checkpoint saved under other bounds.

        Parse (the whole dict is validated), decide (keep, accept an unchanged future, re-plan or
        refuse), then apply: nothing is changed unless everything is valid. After loading, the
        optimizer's LRs are rewritten for the restored step, so the order in which the optimizer
        and the scheduler are restored does not matter. Bounds that differ but give the same LR at
        every step after the checkpoint's (``kind`` step <-> multistep with the same milestones,
        ``warmup_start_factor`` after warmup) are accepted as they are; other differences are
        refused, or with ``on_resume_change="replan"`` the rest of the run is re-planned.

        Raises:
            ResumeMismatchError: the checkpoint's bounds differ from this scheduler's, naming
                every differing field with both values (or, re-planning, the change that
                cannot be honoured and what would).
            BoundsError, BoundsTypeError: a truncated or foreign checkpoint, naming the field.
        """
        saved = parse(state_dict, self._declared)
        decision = decide(saved, self._schedules, self._on_resume_change, self._branch_of_branch)
        groups = self.optimizer.param_groups
        adopted = saved.adopted
        present = min(len(adopted), len(groups) - self._declared)  # the others join when added
        for index in range(self._declared, self._declared + present):
            check_group_lr(LOAD, index, groups[index]["lr"])
        main = main_group(self._bases[: self._declared])
        main_plan = decision.plans[main]
        branched = bool(decision.branches) and decision.branches[-1] == saved.last_epoch
        if branched and self.horizon is not None and main_plan.total != self.horizon:
            r = saved.last_epoch
            raise ResumeMismatchError(
                f"{LOAD}: a cooldown branch must end where training does, got a branch from step {r} "
                f"that ends at step {main_plan.total} and a trainer that trains to step {self.horizon}. "
                f"Give the trainer max_steps={main_plan.total}, or a cooldown of {self.horizon - r} steps"
            )
        if decision.segments:  # what the run follows from now on is on record (in a Hydra job), first
            schedules = [schedule for schedule, _ in self._schedules]
            resumed, branches = decision.resumed_at, decision.branches
            record_build(schedules, None, main_plan, main, resumed_at=resumed, branches=branches)
        # -- apply: nothing below raises
        self._decision = decision
        self._branch_pending = self._branch_pending and not decision.branches
        self._steps_taken = 0
        if self._optimizer_steps < _WARNED:
            self._optimizer_steps = 0
        self._plans = list(decision.plans)
        self._bases = self._bases[: self._declared]
        for entry in adopted[:present]:
            base = entry["base_lr"]
            self._plans.append(main_plan if base == self._bases[main] else main_plan.scaled(base))
            self._bases.append(base)
        self._pending = [(entry["base_lr"], entry["factor"]) for entry in adopted[present:]]
        self._factors = saved.factors + [entry["factor"] for entry in adopted[:present]]
        self._lr_tensors = self._lr_tensors[: self._declared] + [
            tensor_of(groups[index]["lr"]) for index in range(self._declared, self._declared + present)
        ]
        self.last_epoch = saved.last_epoch
        self._step_count = saved.step_count
        self._written = None
        self._write(self.last_epoch)
