"""The LR at many steps at once, in closed form, without stepping a scheduler (numpy).

``lr_curve(schedule, steps)`` returns exactly (bitwise) what :meth:`Plan.lr_at
<bounded_lr_resolver.phases.Plan.lr_at>` returns for each step, and so what
:class:`~bounded_lr_resolver.scheduler.BoundedLR` writes into the optimizer: a 10**6-step preview
of a step kind costs milliseconds instead of seconds of stepping. Step phases, holds and straight
lines are computed with numpy's IEEE arithmetic (the same operations as the scalar form); any
other shape is evaluated by the very function ``lr_at`` calls (numpy's SIMD ``cos`` and ``pow``
may differ from libm's in the last bit), a fraction of a microsecond per distinct step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bounded_lr_resolver.errors import missing_extra  # before the optional imports it names

try:
    import numpy as np
    import numpy.typing as npt
except ModuleNotFoundError as error:
    raise missing_extra(error, "lr_curve") from None

from bounded_lr_resolver.checks import check_base_lr
from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.phases import Part, Plan
from bounded_lr_resolver.schedule import Schedule
from bounded_lr_resolver.shapes import LOW_POWERS, SHAPES, low_powers

__all__ = ["MAX_DENSE", "lr_curve", "plan_of"]

_INT64_SAFE = 2**62
MAX_DENSE = 10**8
"""Largest ``max_steps`` for which ``lr_curve(schedule)`` (every step) is computed: 800 MB of LRs."""
LOW_BITS = LOW_POWERS.bit_length() - 1
_CHUNK = 1 << 16


def plan_of(source: Schedule | Plan, base_lr: float | None = None) -> Plan:
    """The plan a schedule (or a plan) stands for, for a group whose base LR is ``base_lr``."""
    base_lr = check_base_lr("lr_curve", base_lr)
    if isinstance(source, Schedule):
        return source.plan_for(base_lr)
    return source if base_lr is None else source.scaled(base_lr)


def _as_steps(t: npt.NDArray[Any], total: int) -> npt.NDArray[np.int64]:
    """Step counts as int64. Steps past the end all have the final LR, so huge ones (uint64 >= 2**63,
    Python ints beyond int64) are clipped to ``total + 1`` instead of wrapping around."""
    if t.size == 0:  # [] is float64 to numpy, but asks for no steps
        return np.zeros(t.shape, dtype=np.int64)
    if t.dtype.kind == "O" and all(isinstance(v, int) and not isinstance(v, bool) for v in t.flat):
        if any(v < 0 for v in t.flat):
            raise bad_value("lr_curve", "steps", "scheduler step counts >= 0", {"min step": min(t.flat)})
        t = np.array([min(int(v), total + 1) for v in t.flat], dtype=np.int64).reshape(t.shape)
    if t.dtype.kind not in "iu":
        raise bad_value("lr_curve", "steps", "whole numbers", {"steps dtype": str(t.dtype)})
    if t.dtype.kind == "u":
        t = np.minimum(t, np.uint64(total + 1))
    elif int(t.min()) < 0:
        raise bad_value("lr_curve", "steps", "scheduler step counts >= 0", {"min step": int(t.min())})
    return t.astype(np.int64)


def lr_curve(
    schedule: Schedule | Plan,
    steps: int | Iterable[int] | npt.NDArray[np.integer] | None = None,
    base_lr: float | None = None,
) -> npt.NDArray[np.float64]:
    """Return the LR after each of ``steps`` scheduler steps, as a float64 array.

    .. math:: \\eta(t) = \\text{the phase of } t \\text{ at its progress } (t - s_k) / n_k

    Args:
        schedule: a validated :class:`~bounded_lr_resolver.schedule.Schedule` (or its ``plan``).
        steps: scheduler step counts ``>= 0``; defaults to ``0..max_steps`` inclusive.
        base_lr: a param group's own initial LR (see :meth:`Schedule.lr_at`).

    Examples:
        >>> s = Schedule(initial_lr=0.1, final_lr=1e-4, max_steps=12, n_updates=3)
        >>> bool((lr_curve(s) == [s.lr_at(t) for t in range(13)]).all())
        True
    """
    plan = plan_of(schedule, base_lr)
    if steps is None:
        if plan.total >= MAX_DENSE:
            raise bad_value(
                "lr_curve",
                "steps",
                f"given when max_steps >= {MAX_DENSE} (the default, every step 0..max_steps, would not fit)",
                {"max_steps": plan.total},
                "Pass the steps you need, or use bounded_lr_resolver.preview.preview(schedule), which "
                "holds every change point or an even sample in bounded memory",
            )
        steps = np.arange(plan.total + 1)
    array = np.asarray(steps)
    if array.dtype.kind == "f" and not isinstance(steps, np.ndarray):  # Python ints beyond int64 and uint64
        objects = np.asarray(steps, dtype=object)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in objects.flat):
            array = objects
    t = _as_steps(array, plan.total)
    if len(plan.parts) == 1:  # one phase (most kinds without warmup): no masks over the steps
        (part,) = plan.parts
        values = _part(plan, part, np.minimum(t, part.phase.steps - 1))
        return np.where(t >= plan.total, plan.final, values)
    lr = np.full(t.shape, plan.final, dtype=np.float64)
    for part in plan.parts:
        inside = (t >= part.begin) & (t < part.stop)
        if inside.any():
            lr[inside] = _part(plan, part, t[inside] - part.begin)
    return lr


def _part(plan: Plan, part: Part, i: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """One phase's LRs at ``i`` steps into it (``0 <= i < steps``)."""
    shape = SHAPES[part.phase.shape]
    length = part.phase.length
    if shape.name == "constant":
        return np.full(i.shape, part.start)
    if shape.stepwise:  # at i = 0: max(b, a * 1.0 * 1.0) is a, exactly, as lr_at pins it
        return _stepwise(part, i)
    if shape.elementwise and not part.phase.offset:  # the same IEEE operations, a at i = 0 exactly
        a, b = part.start, part.end
        values = np.asarray(shape.curve(i / length, a, b, part.params), dtype=np.float64)
        return np.clip(values, min(a, b), max(a, b))
    return _scalar(plan, part.begin + i)


def _stepwise(part: Part, i: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """A step phase's ``max(b, a * gamma**k)``, by the same IEEE operations as the scalar form."""
    p, length = part.params, part.phase.length
    count, plateaus, gamma = p["n_updates"], p["plateaus"], p["gamma"]
    if (length + 2) * plateaus < _INT64_SAFE:
        k = ((i + 1) * plateaus - 1) // length
    else:  # products beyond int64: exact Python ints, element by element
        k = np.array([((int(j) + 1) * plateaus - 1) // length for j in i.ravel()], dtype=np.int64).reshape(
            i.shape
        )
    k = np.minimum(k, count)
    # gamma**(k - r) * gamma**r with r = k % 1024: numpy's SIMD power differs from libm's pow in
    # the last bit, so the high powers come from Python's float ** int, one per block of 1024
    # steps; the low powers are the shared table.
    low = k & (LOW_POWERS - 1)
    block = k >> LOW_BITS
    first, last = (int(block.min()), int(block.max())) if k.size else (0, 0)
    if last - first < 2 * k.size:  # a dense table of high powers, indexed without sorting
        highs = np.fromiter(
            map(gamma.__pow__, range(first << LOW_BITS, (last + 1) << LOW_BITS, LOW_POWERS)),
            np.float64,
            last - first + 1,
        )
        high = highs[block - first]
    else:
        distinct, where = np.unique(block, return_inverse=True)
        highs = np.fromiter(map(gamma.__pow__, (distinct << LOW_BITS).tolist()), np.float64, distinct.size)
        high = highs[where.reshape(k.shape)]
    powers = high * np.asarray(low_powers(gamma))[low]
    decayed = np.maximum(part.end, part.start * powers)
    return np.where(k >= count, part.end, decayed)


def _scalar(plan: Plan, t: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """``plan.lr_at`` for each distinct step, in chunks (bounded temporary memory)."""
    increasing = t.ndim == 1 and bool(np.all(t[1:] > t[:-1]))  # a preview's steps: distinct already
    distinct, where = (t, None) if increasing else np.unique(t, return_inverse=True)
    values = np.empty(distinct.size, dtype=np.float64)
    lr_at = plan.lr_at
    for begin in range(0, distinct.size, _CHUNK):
        chunk = distinct[begin : begin + _CHUNK].tolist()
        values[begin : begin + len(chunk)] = [lr_at(step) for step in chunk]
    return values if where is None else values[where.reshape(t.shape)]
