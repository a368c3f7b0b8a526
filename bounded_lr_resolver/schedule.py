"""A validated schedule and the LR at any step: warmup, then a decay of one kind, then a hold.

The step kinds decay by a factor ``gamma`` at ``n_updates`` steps (see :mod:`bounded_lr_resolver.bounds`
for the formula); the continuous kinds follow a shape of the decay's progress ``x``
(:mod:`bounded_lr_resolver.shapes`):

.. math::

    x(t) = \\frac{t - S}{E - S}, \\qquad
    \\eta(t) = \\begin{cases}
        \\eta_0 \\left(f + (1 - f) \\tfrac{t}{W}\\right) & t < W \\text{ (warmup)} \\\\
        \\eta_0 & W \\le t \\le S \\text{ (hold; } S = W \\text{ except for wsd)} \\\\
        \\text{shape}(x(t), \\eta_0, \\eta_f) & S < t < E \\\\
        \\eta_f & t \\ge E
    \\end{cases}

with ``E = max_steps`` (``final_lr_at="max_steps"``: the LR is ``final_lr`` after ``max_steps``
scheduler steps, torch's convention) or ``E = max_steps - 1`` (``"last_step"``: the last training
step already trains at it), and ``S = max_steps - decay_steps`` for ``kind="wsd"``. Both ends are
exact (no rounding at ``x = 0`` or ``x = 1``) and every value is clamped to ``[final_lr, initial_lr]``.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Final, Literal

from bounded_lr_resolver.bounds import (
    CONTINUOUS_KINDS,
    FINAL_LR_AT,
    KINDS,
    LOW_POWERS,
    STEP_KINDS,
    _check_choice,
    _check_divisible,
    _check_factor,
    _check_phases,
    _check_range,
    _check_warmup,
    _derive_gamma,
    _hint_for,
    _plateaus,
    check_count,
    check_lr,
    decay_steps,
    milestones,
)
from bounded_lr_resolver.errors import bad_type, bad_value
from bounded_lr_resolver.shapes import SHAPES, WSD_SHAPES, Shape

__all__ = ["CONTINUOUS_KINDS", "KINDS", "SCHEDULE_FIELDS", "STEP_KINDS", "Schedule"]

Kind = Literal["step", "multistep", "exponential", "cosine", "linear", "polynomial", "wsd"]
FinalLRAt = Literal["max_steps", "last_step"]

DEFAULT_DECAY_SHAPE: Final = "cosine"
"""``decay_shape`` of ``kind="wsd"`` when not given (as Hugging Face's ``get_wsd_schedule``)."""

# The parameters that only some kinds take; given to another kind they are an error, not ignored.
_ONLY_FOR: Final = {"power": ("polynomial",), "decay_steps": ("wsd",), "decay_shape": ("wsd",)}


@dataclass(frozen=True)
class Schedule:
    """A validated bounded schedule: warmup, then a decay of ``kind`` from initial_lr to final_lr.

    Construction validates every field (raising :class:`~bounded_lr_resolver.errors.BoundsError`
    or :class:`~bounded_lr_resolver.errors.BoundsTypeError` with ``where`` in the message) and
    normalizes counts to ints. For ``kind="exponential"``, ``n_updates`` may be ``None`` and is
    then the number of decay steps (``max_steps - warmup_steps``, one less for ``"last_step"``);
    the continuous kinds take no ``n_updates``.

    Examples:
        >>> s = Schedule(initial_lr=0.1, final_lr=1e-4, max_steps=12, n_updates=3)
        >>> [s.lr_at(t) for t in (0, 4, 11, 12)] == [0.1, 0.1 * s.gamma, 0.1 * s.gamma**2, 1e-4]
        True
        >>> s = Schedule(initial_lr=0.1, final_lr=1e-4, max_steps=12, n_updates=3, final_lr_at="last_step")
        >>> s.lr_at(11)
        0.0001
        >>> c = Schedule(initial_lr=0.1, final_lr=1e-4, max_steps=100, kind="cosine")
        >>> c.lr_at(0), c.lr_at(50) == 1e-4 + (0.1 - 1e-4) / 2, c.lr_at(100)
        (0.1, True, 0.0001)
    """

    initial_lr: float
    final_lr: float
    max_steps: int
    n_updates: int | None = None
    kind: Kind = "step"
    final_lr_at: FinalLRAt = "max_steps"
    warmup_steps: int = 0
    warmup_start_factor: float = 0.0
    power: float | None = None
    decay_steps: int | None = None
    decay_shape: str | None = None
    where: str = field(default="Schedule", compare=False, repr=False)
    # Derived in __post_init__ and kept flat so that lr_at, called on every scheduler step, is cheap.
    _count: int = field(init=False, repr=False, compare=False)
    _gamma: float = field(init=False, repr=False, compare=False)
    _plateaus: int = field(init=False, repr=False, compare=False)
    _span: int = field(init=False, repr=False, compare=False)
    _low_powers: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _shape: Shape | None = field(init=False, repr=False, compare=False)
    _start: int = field(init=False, repr=False, compare=False)  # S: the last step at initial_lr
    _end: int = field(init=False, repr=False, compare=False)  # E: the first step at final_lr

    def __post_init__(self) -> None:
        where = self.where
        kind = _check_choice(where, "kind", self.kind, KINDS)
        at = _check_choice(where, "final_lr_at", self.final_lr_at, FINAL_LR_AT)
        eta0 = check_lr(where, "initial_lr", self.initial_lr)
        eta_f = check_lr(where, "final_lr", self.final_lr)
        steps = check_count(where, "max_steps", self.max_steps)
        warmup = check_count(where, "warmup_steps", self.warmup_steps, minimum=0)
        factor = _check_factor(where, "warmup_start_factor", self.warmup_start_factor)
        _check_range(where, eta0, eta_f)
        for name, kinds in _ONLY_FOR.items():
            if getattr(self, name) is not None and kind not in kinds:
                raise bad_value(
                    where,
                    name,
                    f"left out for kind={kind!r} (it applies to kind={' or '.join(map(repr, kinds))})",
                    {name: getattr(self, name), "kind": kind},
                )
        values: dict[str, object] = {
            "initial_lr": eta0,
            "final_lr": eta_f,
            "max_steps": steps,
            "warmup_steps": warmup,
            "warmup_start_factor": factor,
            "_span": steps - warmup,
        }
        if kind in STEP_KINDS:
            values.update(self._step_fields(kind, eta0, eta_f, steps, warmup, at))
        else:
            values.update(self._continuous_fields(kind, steps, warmup, at))
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _step_fields(
        self, kind: str, eta0: float, eta_f: float, steps: int, warmup: int, at: str
    ) -> dict[str, object]:
        n_updates: object = self.n_updates
        if kind == "exponential":
            n_updates = self._exponential_updates(steps, warmup, at)
        count = check_count(self.where, "n_updates", n_updates)
        _check_phases(self.where, steps, count, warmup, at)
        if kind == "step":
            _check_divisible(self.where, steps, count, warmup, at)
        factor_per_decay = _derive_gamma(self.where, eta0, eta_f, count)
        return {
            "n_updates": count,
            "_gamma": factor_per_decay,
            "_count": count,
            "_plateaus": _plateaus(count, at),
            "_low_powers": tuple(factor_per_decay**r for r in range(LOW_POWERS)),
            "_shape": None,
        }

    def _continuous_fields(self, kind: str, steps: int, warmup: int, at: str) -> dict[str, object]:
        where = self.where
        if self.n_updates is not None:
            raise bad_value(
                where,
                "n_updates",
                f"left out for kind={kind!r}, which changes the LR on every step",
                {"n_updates": self.n_updates, "kind": kind},
                "Use kind='step', 'multistep' or 'exponential' for a number of decays",
            )
        _check_warmup(where, steps, warmup)
        end = steps - 1 if at == "last_step" else steps
        if end - warmup < 1:
            raise bad_value(
                where,
                "max_steps - warmup_steps",
                ">= 2 with final_lr_at='last_step' (one step at initial_lr, the last at final_lr)",
                {"max_steps": steps, "warmup_steps": warmup},
            )
        power = shape_name = length = None
        start = warmup
        if kind == "polynomial":
            power = _check_power(where, 1.0 if self.power is None else self.power)
            shape = SHAPES[kind]
        elif kind == "wsd":
            if self.decay_steps is None:
                rule = "a whole number (the length of the final decay)"
                raise bad_type(where, "decay_steps", rule, None, _hint_for(None))
            length = check_count(where, "decay_steps", self.decay_steps)
            if length > steps - warmup:
                raise bad_value(
                    where,
                    "decay_steps",
                    "in [1, max_steps - warmup_steps]",
                    {"decay_steps": length, "max_steps": steps, "warmup_steps": warmup},
                    "The decay cannot start before warmup ends; use fewer decay_steps",
                )
            shape_name = DEFAULT_DECAY_SHAPE if self.decay_shape is None else self.decay_shape
            shape = WSD_SHAPES[_check_choice(where, "decay_shape", shape_name, tuple(WSD_SHAPES))]
            start = min(steps - length, end)
        else:
            shape = SHAPES[kind]
        return {
            "power": power,
            "decay_steps": length,
            "decay_shape": shape_name,
            "_gamma": math.nan,
            "_count": 0,
            "_plateaus": 0,
            "_low_powers": (),
            "_shape": shape,
            "_start": start,
            "_end": end,
        }

    def _exponential_updates(self, steps: int, warmup: int, at: str) -> int:
        derived = decay_steps(steps, warmup, at, where=self.where)
        given = self.n_updates
        if given is None:
            return derived
        count = check_count(self.where, "n_updates", given)
        if count != derived:
            what = "max_steps - warmup_steps" + (" - 1" if at == "last_step" else "")
            raise bad_value(
                self.where,
                "n_updates",
                f"{what} = {derived} for kind='exponential', which decays on every step",
                {"n_updates": given, "max_steps": steps, "warmup_steps": warmup},
                f"Set n_updates={derived} (or leave it out), or use kind='step' or 'multistep'",
            )
        return count

    @property
    def stepwise(self) -> bool:
        """Whether the LR decays by gamma at ``n_updates`` steps (step, multistep, exponential)."""
        return self._shape is None

    @property
    def gamma(self) -> float:
        """The per-decay factor ``(final_lr / initial_lr) ** (1 / n_updates)`` (NaN for a shape)."""
        return self._gamma

    @property
    def count(self) -> int:
        """``m``: the number of decays of a step kind (0 for a continuous kind)."""
        return self._count

    @property
    def low_powers(self) -> tuple[float, ...]:
        """``gamma**r`` for ``r < LOW_POWERS`` (see :data:`~bounded_lr_resolver.bounds.LOW_POWERS`)."""
        return self._low_powers

    @property
    def decay_span(self) -> int:
        """``D = max_steps - warmup_steps``: the steps after warmup."""
        return self._span

    @property
    def plateaus(self) -> int:
        """``P`` of a step kind: ``n_updates``, or ``n_updates + 1`` for ``final_lr_at="last_step"``."""
        return self._plateaus

    @property
    def step_size(self) -> int | None:
        """Steps between decays when they are evenly spaced (always for ``kind="step"``), else None."""
        if not self.stepwise:
            return None
        size, rest = divmod(self._span, self._plateaus)
        return None if rest else size

    @property
    def decay_start(self) -> int:
        """The last step at ``initial_lr`` before the LR starts to fall (the end of warmup or hold)."""
        if self.stepwise:
            return self.first_decay_step - 1
        return self._start

    @property
    def first_decay_step(self) -> int:
        """The first step whose LR is below the one before it (unless final_lr == initial_lr)."""
        if self.stepwise:
            return self.warmup_steps + self._span // self._plateaus
        return self._start + 1

    @property
    def last_decay_step(self) -> int:
        """The step at which the LR first equals ``final_lr``."""
        if self.stepwise:
            return self.warmup_steps + (self._count * self._span) // self._plateaus
        return self._end

    @property
    def change_steps(self) -> int:
        """How many steps after warmup may change the LR: ``n_updates``, or every step of a shape."""
        return self._count if self.stepwise else self._end - self._start

    def milestones(self) -> list[int]:
        """The decay steps of a step kind, as :func:`~bounded_lr_resolver.bounds.milestones` gives them."""
        if not self.stepwise:
            raise bad_value(self.where, "kind", "a step kind for milestones", {"kind": self.kind})
        return milestones(self.max_steps, self._count, self.warmup_steps, self.final_lr_at, where=self.where)

    def decays_at(self, step: int) -> int:
        """How many decays of a step kind have happened by scheduler step ``step`` (0 during warmup)."""
        tau = step - self.warmup_steps
        if tau < 0:
            return 0
        return min(self._count, ((tau + 1) * self._plateaus - 1) // self._span)

    def ends(self, base_lr: float | None = None) -> tuple[float, float]:
        """A param group's ``(start, end)`` LRs: ``base_lr`` and ``base_lr * final_lr / initial_lr``.

        ``base_lr=None`` (or ``initial_lr`` itself) gives the declared bounds exactly.
        """
        if base_lr is None or base_lr == self.initial_lr:
            return self.initial_lr, self.final_lr
        return base_lr, base_lr * (self.final_lr / self.initial_lr)

    def lr_at(self, step: int, base_lr: float | None = None) -> float:
        """The LR after ``step`` scheduler steps, i.e. the LR that training step ``step`` uses.

        Args:
            step: a scheduler step count ``>= 0``. Past the end the LR holds at ``final_lr``.
            base_lr: a param group's own initial LR; the group then ends at
                ``base_lr * final_lr / initial_lr``. Defaults to ``initial_lr``.
        """
        base, final = self.ends(base_lr)
        warmup = self.warmup_steps
        if step < warmup:
            if step < 0:
                raise bad_value(self.where, "step", "a scheduler step count >= 0", {"step": step})
            factor = self.warmup_start_factor
            return base * (factor + (1.0 - factor) * step / warmup)
        shape = self._shape
        if shape is not None:
            end, start = self._end, self._start
            if step >= end:
                return final
            if step <= start:
                return base
            lr = shape((step - start) / (end - start), base, final, self.power or 1.0)
            return base if lr > base else final if lr < final else lr
        k = ((step - warmup + 1) * self._plateaus - 1) // self._span
        if k >= self._count:
            return final
        low = k & (LOW_POWERS - 1)
        return max(final, base * (self._gamma ** (k - low) * self._low_powers[low]))

    def bounds(self) -> dict[str, object]:
        """The declared fields that apply to this kind, as plain data (checkpoints, summaries, CSV).

        A step kind has no shape parameters and a shape no ``n_updates``, so a checkpoint of a step
        kind written before the shapes existed has exactly the same bounds.
        """
        skip = ("n_updates",) if not self.stepwise else ()
        return {
            name: getattr(self, name)
            for name in SCHEDULE_FIELDS
            if name not in skip and (name not in _ONLY_FOR or self.kind in _ONLY_FOR[name])
        }


def _check_power(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(where, "power", "a number > 0", value, _hint_for(value))
    number = float(value)
    if not (0.0 < number < math.inf):  # also rejects NaN
        raise bad_value(where, "power", "a finite number > 0", {"power": value})
    return number


SCHEDULE_FIELDS: Final = tuple(f.name for f in fields(Schedule) if f.init and f.name != "where")
"""The declared fields of a :class:`Schedule` (its constructor's arguments, ``where`` aside)."""
