"""A declared schedule, validated, as phases: what a user writes, as a :class:`~.phases.Plan`.

Every kind is a list of phases (:mod:`bounded_lr_resolver.phases`) after an optional warmup of
``warmup_steps`` steps from ``initial_lr * warmup_start_factor`` to ``initial_lr``
(``warmup_shape``: linear, cosine or exponential):

- ``step``, ``multistep``, ``exponential``: one step phase of ``n_updates`` decays by gamma
  (:mod:`bounded_lr_resolver.bounds` has the formula);
- a shape of :data:`~bounded_lr_resolver.shapes.SHAPES` (``cosine``, ``linear``, ...): one phase of
  that shape from ``initial_lr`` to ``final_lr``;
- ``wsd``: a ``constant`` phase, then ``decay_steps`` steps of ``decay_shape`` to ``final_lr``;
- ``phases``: the declared ``phases``, ``[{shape, steps, end_lr, ...}, ...]``, summing to
  ``max_steps - warmup_steps``; ``final_lr`` is the last one's ``end_lr``.

With ``final_lr_at="last_step"`` a shape's decay ends one step early (at ``max_steps - 1``) and a
one-step hold follows; a step kind cuts its decays into ``n_updates + 1`` plateaus instead. Lengths
may be durations (``"3ep"``, ``"0.1dur"``, ``"2Btok"``, :mod:`bounded_lr_resolver.durations`),
exact against a declared horizon and rounded down against one given at run time (``at_run_time``).

What each kind takes is :mod:`bounded_lr_resolver.fields`; what the phases say once built (gamma,
milestones, the LR of any group at any step, the bounds as data) is
:class:`~bounded_lr_resolver.schedule_view.ScheduleView`, the base of :class:`Schedule`.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import math
from typing import Any, Final, cast

from bounded_lr_resolver import bounds as b
from bounded_lr_resolver.checks import (
    check_choice,
    check_count,
    check_factor,
    check_floor,
    check_lr,
    hint_for,
)
from bounded_lr_resolver.decays import derive_gamma
from bounded_lr_resolver.declared import PHASE_KEYS, declared_cooldown, declared_phases
from bounded_lr_resolver.durations import Context, steps_of
from bounded_lr_resolver.errors import bad_type, bad_value
from bounded_lr_resolver.fields import (
    DECAY_SHAPES,
    DEFAULT_DECAY_SHAPE,
    SCHEDULE_FIELDS,
    SHAPE_PARAMS,
    STABLE_KINDS,
    WARMUP_SHAPES,
    check_applies,
    owners,
)
from bounded_lr_resolver.phases import Phase, Plan
from bounded_lr_resolver.schedule_view import ScheduleView
from bounded_lr_resolver.shapes import SHAPES, ZERO_SHAPES, zero_refused

__all__ = [
    "DECAY_SHAPES",
    "KINDS",
    "PHASE_KEYS",
    "SCHEDULE_FIELDS",
    "SHAPE_PARAMS",
    "STEP_KINDS",
    "WARMUP_SHAPES",
    "Schedule",
]

KINDS: Final = b.KINDS
STEP_KINDS: Final = b.STEP_KINDS


class Schedule(ScheduleView):
    """A validated declaration and the phases it stands for; the LR at any step.

    Construction validates every field (raising :class:`~bounded_lr_resolver.errors.BoundsError`
    or :class:`~bounded_lr_resolver.errors.BoundsTypeError` with ``where`` in the message),
    normalizes counts to ints and durations to steps, and builds :attr:`plan`.

    Examples:
        >>> s = Schedule(initial_lr=0.1, final_lr=1e-4, max_steps=12, n_updates=3)
        >>> [s.lr_at(t) for t in (0, 4, 11, 12)] == [0.1, 0.1 * s.gamma, 0.1 * s.gamma**2, 1e-4]
        True
        >>> c = Schedule(initial_lr=0.1, final_lr=0.0, max_steps=100, kind="cosine")
        >>> c.lr_at(0), c.lr_at(50) == 0.1 / 2, c.lr_at(100)
        (0.1, True, 0.0)
        >>> w = Schedule(0.1, max_steps=100, warmup_steps=10, phases=[
        ...     {"shape": "constant", "steps": 70}, {"shape": "sqrt", "steps": 20, "end_lr": 0}])
        >>> w.lr_at(5), w.lr_at(80), w.lr_at(100), w.final_lr
        (0.05, 0.1, 0.0, 0.0)
    """

    def __init__(
        self,
        initial_lr: object,
        final_lr: object = None,
        max_steps: object = None,
        n_updates: object = None,
        kind: object = None,
        final_lr_at: object = "max_steps",
        warmup_steps: object = 0,
        warmup_start_factor: object = 0.0,
        *,
        decay_steps: object = None,
        decay_shape: object = None,
        warmup_shape: object = "linear",
        phases: object = None,
        steps_per_epoch: object = None,
        tokens_per_step: object = None,
        cooldown: object = None,
        at_run_time: tuple[str, ...] = (),
        where: str = "Schedule",
        **params: object,
    ) -> None:
        self.where = where
        self.at_run_time = tuple(at_run_time)  # fields given when the scheduler was built, not declared
        if kind is None:
            kind = "step" if phases is None else "phases"
        self.kind: str = check_choice(where, "kind", kind, KINDS)
        self.final_lr_at: str = check_choice(where, "final_lr_at", final_lr_at, b.FINAL_LR_AT)
        self.initial_lr: float = check_lr(where, "initial_lr", initial_lr)
        self.warmup_shape: str = check_choice(where, "warmup_shape", warmup_shape, WARMUP_SHAPES)
        self.steps_per_epoch = (
            None if steps_per_epoch is None else check_count(where, "steps_per_epoch", steps_per_epoch)
        )
        self.tokens_per_step = (
            None if tokens_per_step is None else check_count(where, "tokens_per_step", tokens_per_step)
        )
        self.given: dict[str, str] = {}  # lengths given as durations, as given
        late = bool({"max_steps", "steps_per_epoch", "tokens_per_step"} & set(self.at_run_time))
        context = Context(None, self.steps_per_epoch, self.tokens_per_step, late)
        # a stable run (kind="constant") may leave max_steps out: it holds for as long as training runs
        self.open_ended: bool = max_steps is None and self.kind == "constant"
        if self.open_ended:
            max_steps = steps_of(where, "warmup_steps", warmup_steps, context, minimum=0) + 1
        self.max_steps: int = self._length("max_steps", max_steps, context)
        context = Context(self.max_steps, self.steps_per_epoch, self.tokens_per_step, late)
        self._context = context
        self.warmup_steps: int = self._length("warmup_steps", warmup_steps, context, minimum=0)
        self.warmup_start_factor: float = check_factor(where, "warmup_start_factor", warmup_start_factor)
        if self.warmup_shape == "exponential" and self.warmup_steps and self.warmup_start_factor == 0.0:
            raise bad_value(
                where,
                "warmup_start_factor",
                "> 0 for warmup_shape='exponential' (a ramp in log space cannot start at 0)",
                {"warmup_start_factor": warmup_start_factor},
            )
        b.check_warmup(where, self.max_steps, self.warmup_steps)
        check_applies(where, self.kind, n_updates, decay_steps, decay_shape, phases, params)
        self.n_updates: int | None = None
        self.decay_steps: int | None = None
        self.decay_shape: str | None = None
        self.params: dict[str, Any] = {}
        self.phases: tuple[Phase, ...] = ()
        self.final_lr: float = math.nan  # set by _body
        self._gamma = math.nan
        self._plateaus = 0
        body = self._body(final_lr, n_updates, decay_steps, decay_shape, phases, params)
        start = self.initial_lr * self.warmup_start_factor if self.warmup_steps else self.initial_lr
        warmup = (
            [Phase(self.warmup_shape, self.warmup_steps, self.initial_lr, rewarm=True)]
            if self.warmup_steps
            else []
        )
        self.plan: Plan = Plan(start, [*warmup, *body], self.initial_lr, where)
        self._scaled: dict[float, Plan] = {}
        self.cooldown = declared_cooldown(where, cooldown)
        if self.cooldown and not (self.kind in STABLE_KINDS and self.plan.parts[-1].holds):
            raise bad_value(
                where,
                "cooldown",
                "declared on a stable run: a schedule that ends in a hold (kind='constant', or "
                "kind='phases' ending in a constant phase)",
                {"kind": self.kind},
                "Declare the stable run the checkpoint was trained with, and add cooldown to it",
            )

    # -- declaration -> phases ------------------------------------------------------------------

    def _length(self, name: str, value: object, context: Context, minimum: int = 1) -> int:
        if isinstance(value, str):
            self.given[name] = value
        if value is None and name == "max_steps":
            raise bad_type(self.where, name, "a whole number of steps or a duration", None, hint_for(None))
        return steps_of(self.where, name, value, context, minimum=minimum)

    def _final(self, final_lr: object) -> float:
        where, kind = self.where, self.kind
        if final_lr is None:
            if kind == "constant":
                return self.initial_lr
            raise bad_type(where, "final_lr", "a number (int or float)", None, hint_for(None))
        if kind in STEP_KINDS:
            value = b.check_step_final(where, "final_lr", final_lr, kind)
        else:
            value = check_floor(where, "final_lr", final_lr)
            if value == 0.0 and SHAPES.get(kind, SHAPES["constant"]).multiplicative:
                got = {"final_lr": final_lr}
                raise zero_refused(where, "final_lr", got, f"kind={kind!r}", "kind", b.ZERO_KINDS)
        b.check_range(where, self.initial_lr, value, low="(0" if kind in STEP_KINDS else "[0")
        if kind == "constant" and value != self.initial_lr:
            raise bad_value(
                where, "final_lr", "initial_lr (or left out) for kind='constant'", {"final_lr": final_lr}
            )
        if value == 0.0 and self.final_lr_at == "last_step":
            raise bad_value(
                where,
                "final_lr_at",
                "'max_steps' with final_lr=0 ('last_step' would train the last step at LR 0)",
                {"final_lr_at": self.final_lr_at, "final_lr": final_lr},
                "With final_lr_at='max_steps' the LR reaches 0 after the last training step, as in "
                "HF's linear and cosine schedules",
            )
        return value

    def _body(
        self,
        final_lr: object,
        n_updates: object,
        decay_steps: object,
        decay_shape: object,
        phases: object,
        params: dict[str, object],
    ) -> list[Phase]:
        """The phases after warmup."""
        if self.kind == "phases":
            self.phases = declared_phases(
                self.where,
                phases,
                initial_lr=self.initial_lr,
                final_lr=final_lr,
                final_lr_at=self.final_lr_at,
                warmup_steps=self.warmup_steps,
                context=self._context,
                warmup_given=self.given.get("warmup_steps"),
            )
            for index, entry in enumerate(cast("list[dict[str, Any]]", phases)):  # checked above
                if isinstance(entry.get("steps"), str):
                    self.given[f"phases[{index}].steps"] = entry["steps"]
            self.final_lr = self.phases[-1].end_lr
            return list(self.phases)
        self.final_lr = self._final(final_lr)
        if self.kind in STEP_KINDS:
            return [self._step_phase(n_updates)]
        end = self.max_steps - 1 if self.final_lr_at == "last_step" else self.max_steps
        if end - self.warmup_steps < 1:
            raise bad_value(
                self.where,
                "max_steps - warmup_steps",
                ">= 2 with final_lr_at='last_step' (one step at initial_lr, the last at final_lr)",
                {"max_steps": self.max_steps, "warmup_steps": self.warmup_steps},
            )
        hold = [Phase("constant", 1, self.final_lr)] if self.final_lr_at == "last_step" else []
        if self.kind == "wsd":
            return [*self._wsd(decay_steps, decay_shape, params, end), *hold]
        shape = SHAPES[self.kind]
        values = self._shape_params(shape.name, params)
        return [Phase(self.kind, end - self.warmup_steps, self.final_lr, tuple(values.items())), *hold]

    def _shape_params(self, shape: str, params: dict[str, object]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in SHAPES[shape].params:
            value = params.get(param.name)
            if value is None and param.default is None:
                continue
            if value is None and param.default is ...:
                raise bad_type(
                    self.where, param.name, f"{param.doc} (kind {self.kind!r})", None, hint_for(None)
                )
            values[param.name] = param.check(self.where, param.default if value is None else value)
        self.params.update(values)
        return values

    def _step_phase(self, n_updates: object) -> Phase:
        where, steps, warmup, at = self.where, self.max_steps, self.warmup_steps, self.final_lr_at
        if self.kind == "exponential":
            derived = b.decay_steps(steps, warmup, at, where=where)
            if n_updates is not None and check_count(where, "n_updates", n_updates) != derived:
                what = "max_steps - warmup_steps" + (" - 1" if at == "last_step" else "")
                raise bad_value(
                    where,
                    "n_updates",
                    f"{what} = {derived} for kind='exponential', which decays on every step",
                    {"n_updates": n_updates, "max_steps": steps, "warmup_steps": warmup},
                    f"Set n_updates={derived} (or leave it out), or use kind='step' or 'multistep'",
                )
            n_updates = derived
        count = check_count(where, "n_updates", n_updates)
        span = b.check_decays(where, steps, count, warmup, at)
        if self.kind == "step":
            b.check_divisible(where, steps, count, warmup, at)
        fewer = self._fewer(span, count)
        self._gamma = derive_gamma(where, self.initial_lr, self.final_lr, count, fewer=fewer)
        self.n_updates, self._plateaus = count, b.plateaus_of(count, at)
        return Phase("multistep", span, self.final_lr, (("n_updates", count), ("plateaus", self._plateaus)))

    def _fewer(self, span: int, count: int) -> str:
        """What a refused gamma suggests: fewer n_updates, or (kind="exponential", which derives them)
        what would work instead."""
        if self.kind != "exponential":
            return "use fewer updates"
        last_step = self.final_lr_at == "last_step"
        phases = f"{{shape: exponential, steps: {span - last_step}, end_lr: {self.final_lr!r}}}"
        if last_step:
            phases += ", {shape: constant, steps: 1}"
        return (
            f"use kind='multistep' with fewer n_updates (kind='exponential' makes one decay per step, "
            f"n_updates = {count}), or kind='phases' with the continuous exponential shape: phases=[{phases}]"
        )

    def _wsd(
        self, decay_steps: object, decay_shape: object, params: dict[str, object], end: int
    ) -> list[Phase]:
        where, warmup = self.where, self.warmup_steps
        if decay_steps is None:
            rule = "a whole number (the length of the final decay)"
            raise bad_type(where, "decay_steps", rule, None, hint_for(None))
        if isinstance(decay_steps, str):
            self.given["decay_steps"] = decay_steps
        length = steps_of(where, "decay_steps", decay_steps, self._context)
        if length > self.max_steps - warmup:
            raise bad_value(
                where,
                "decay_steps",
                "in [1, max_steps - warmup_steps]",
                {"decay_steps": length, "max_steps": self.max_steps, "warmup_steps": warmup},
                "The decay cannot start before warmup ends; use fewer decay_steps",
            )
        name = DEFAULT_DECAY_SHAPE if decay_shape is None else decay_shape
        shape = check_choice(where, "decay_shape", name, DECAY_SHAPES)
        for param, value in params.items():
            if value is not None and all(p.name != param for p in SHAPES[shape].params):
                rule = f"left out for decay_shape={shape!r} (it applies to {owners(param)})"
                raise bad_value(where, param, rule, {param: value, "decay_shape": shape})
        values = self._shape_params(shape, params)
        if SHAPES[shape].multiplicative and self.final_lr == 0.0:
            reach = [s for s in DECAY_SHAPES if s in ZERO_SHAPES]
            subject = f"decay_shape={shape!r}"
            raise zero_refused(where, "final_lr", {"final_lr": self.final_lr}, subject, "decay_shape", reach)
        self.decay_steps, self.decay_shape = length, shape
        start = min(self.max_steps - length, end - 1)  # the last step at initial_lr
        hold = [Phase("constant", start - warmup, self.initial_lr)] if start > warmup else []
        return [*hold, Phase(shape, end - start, self.final_lr, tuple(values.items()))]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self.bounds() == other.bounds()

    def __hash__(self) -> int:
        return hash(repr(self.bounds()))

    def __repr__(self) -> str:
        return "Schedule(" + ", ".join(f"{key}={value!r}" for key, value in self.bounds().items()) + ")"
