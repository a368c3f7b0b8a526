"""The LR at many steps at once, in closed form, without stepping a scheduler (numpy).

``lr_curve(schedule, steps)`` returns exactly (bitwise) what :meth:`Schedule.lr_at` returns for
each step, and so what :class:`~bounded_lr_resolver.scheduler.BoundedLR` writes into the
optimizer: a 10**6-step preview of a step kind costs milliseconds instead of seconds of stepping.
A continuous kind's shape is evaluated by the very function ``lr_at`` calls (numpy's SIMD ``cos``
and ``pow`` may differ from libm's in the last bit), a fraction of a microsecond per distinct step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from bounded_lr_resolver.bounds import LOW_POWERS
from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.schedule import Schedule

__all__ = ["MAX_DENSE", "lr_curve"]

_INT64_SAFE = 2**62
MAX_DENSE = 10**8
"""Largest ``max_steps`` for which ``lr_curve(schedule)`` (every step) is computed: 800 MB of LRs."""
LOW_BITS = LOW_POWERS.bit_length() - 1
_CHUNK = 1 << 16


def _as_steps(t: npt.NDArray[Any], max_steps: int) -> npt.NDArray[np.int64]:
    """Step counts as int64. Steps past the end all have final_lr, so huge ones (uint64 >= 2**63,
    Python ints beyond int64) are clipped to ``max_steps + 1`` instead of wrapping around."""
    if t.size == 0:  # [] is float64 to numpy, but asks for no steps
        return np.zeros(t.shape, dtype=np.int64)
    if t.dtype.kind == "O" and all(isinstance(v, int) and not isinstance(v, bool) for v in t.flat):
        t = np.array([min(int(v), max_steps + 1) for v in t.flat], dtype=np.int64).reshape(t.shape)
    if t.dtype.kind not in "iu":
        raise bad_value("lr_curve", "steps", "whole numbers", {"steps dtype": str(t.dtype)})
    if int(t.min()) < 0:
        raise bad_value("lr_curve", "steps", "scheduler step counts >= 0", {"min step": int(t.min())})
    if t.dtype.kind == "u":
        t = np.minimum(t, np.uint64(max_steps + 1))
    return t.astype(np.int64)


def lr_curve(
    schedule: Schedule,
    steps: int | Iterable[int] | npt.NDArray[np.integer] | None = None,
    base_lr: float | None = None,
) -> npt.NDArray[np.float64]:
    """Return the LR after each of ``steps`` scheduler steps, as a float64 array.

    .. math:: \\eta(t) = \\max(\\eta_f, \\eta_0 \\gamma^{k(t)}), \\; \\eta_f \\text{ once } k(t) = m

    Args:
        schedule: a validated :class:`~bounded_lr_resolver.schedule.Schedule`.
        steps: scheduler step counts ``>= 0``; defaults to ``0..max_steps`` inclusive.
        base_lr: a param group's own initial LR (see :meth:`Schedule.lr_at`).

    Examples:
        >>> s = Schedule(initial_lr=0.1, final_lr=1e-4, max_steps=12, n_updates=3)
        >>> bool((lr_curve(s) == [s.lr_at(t) for t in range(13)]).all())
        True
    """
    if steps is None:
        if schedule.max_steps >= MAX_DENSE:
            raise bad_value(
                "lr_curve",
                "steps",
                f"given when max_steps >= {MAX_DENSE} (the default, every step 0..max_steps, would not fit)",
                {"max_steps": schedule.max_steps},
                "Pass the steps you need, or use bounded_lr_resolver.preview.preview(schedule), which "
                "holds every change point or an even sample in bounded memory",
            )
        steps = np.arange(schedule.max_steps + 1)
    t = _as_steps(np.asarray(steps), schedule.max_steps)
    if not schedule.stepwise:
        return _shape_curve(schedule, t, base_lr)
    base, final = schedule.ends(base_lr)
    warmup, count = schedule.warmup_steps, schedule.count
    # k saturates at n_updates once tau reaches the decay steps, so clipping tau there keeps every
    # product below (max_steps + 2) * plateaus, whatever steps were asked for
    tau = np.clip(t.astype(np.int64) - warmup, 0, schedule.decay_span)
    if (schedule.max_steps + 2) * schedule.plateaus < _INT64_SAFE:
        k = ((tau + 1) * schedule.plateaus - 1) // schedule.decay_span
    else:  # products beyond int64: exact Python ints, element by element
        k = np.array([schedule.decays_at(int(step)) for step in t.ravel()], dtype=np.int64).reshape(t.shape)
    k = np.minimum(k, count)
    # The same IEEE operations as Schedule.lr_at: gamma**(k - r) * gamma**r with r = k % 1024.
    # numpy's SIMD power differs from libm's pow in the last bit, so the high powers come from
    # Python's float ** int, one per block of 1024 steps; the low powers are the schedule's table.
    low = k & (LOW_POWERS - 1)
    block = k >> LOW_BITS
    first, last = (int(block.min()), int(block.max())) if k.size else (0, 0)
    if last - first < 2 * k.size:  # a dense table of high powers, indexed without sorting
        highs = np.fromiter(
            map(schedule.gamma.__pow__, range(first << LOW_BITS, (last + 1) << LOW_BITS, LOW_POWERS)),
            np.float64,
            last - first + 1,
        )
        high = highs[block - first]
    else:
        distinct, where = np.unique(block, return_inverse=True)
        highs = np.fromiter(
            map(schedule.gamma.__pow__, (distinct << LOW_BITS).tolist()), np.float64, distinct.size
        )
        high = highs[where.reshape(k.shape)]
    powers = high * np.asarray(schedule.low_powers)[low]
    decayed = np.maximum(final, base * powers)
    lr = np.where(k >= count, final, decayed)
    if warmup:
        factor = schedule.warmup_start_factor
        ramp = base * (factor + (1.0 - factor) * t / warmup)
        lr = np.where(t < warmup, ramp, lr)
    return lr.astype(np.float64)


def _shape_curve(
    schedule: Schedule, t: npt.NDArray[np.int64], base_lr: float | None
) -> npt.NDArray[np.float64]:
    """A continuous kind: ``lr_at`` for each distinct step, in chunks (bounded temporary memory)."""
    distinct, where = np.unique(t, return_inverse=True)
    lr_at = schedule.lr_at
    values = np.empty(distinct.size, dtype=np.float64)
    for begin in range(0, distinct.size, _CHUNK):
        chunk = distinct[begin : begin + _CHUNK].tolist()
        values[begin : begin + len(chunk)] = [lr_at(step, base_lr) for step in chunk]
    return values[where.reshape(t.shape)]
