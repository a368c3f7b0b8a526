"""The continuous decay shapes: each one small pure function of the decay's progress ``x``.

A shape maps ``x`` in ``[0, 1]`` (0 where the decay starts, 1 where the LR must equal ``low``) and
the two ends ``high`` (the LR the decay starts at) and ``low`` (``final_lr``) to the LR, written as
the formula the README's table gives. :class:`~bounded_lr_resolver.schedule.Schedule` composes
warmup, hold and one of these; it also pins ``x = 0`` to ``high`` and ``x = 1`` to ``low`` exactly
and clamps to ``[low, high]``, so a shape only has to be right in between. Adding a shape is adding
one function here and its name to :data:`SHAPES` (or :data:`WSD_SHAPES`).

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

__all__ = ["SHAPES", "WSD_SHAPES", "Shape", "cosine", "exponential", "linear", "polynomial", "sqrt"]

Shape = Callable[[float, float, float, float], float]
"""``shape(x, high, low, power) -> lr``; ``power`` is used by :func:`polynomial` only."""


def cosine(x: float, high: float, low: float, power: float) -> float:
    """Half a cosine: ``low + (high - low) * (1 + cos(pi * x)) / 2`` (torch's CosineAnnealingLR)."""
    return low + (high - low) * (1.0 + math.cos(math.pi * x)) / 2.0


def linear(x: float, high: float, low: float, power: float) -> float:
    """A straight line: ``high + (low - high) * x``."""
    return high + (low - high) * x


def polynomial(x: float, high: float, low: float, power: float) -> float:
    """``low + (high - low) * (1 - x) ** power``; ``power=1`` is linear."""
    remaining: float = (1.0 - x) ** power
    return low + (high - low) * remaining


def sqrt(x: float, high: float, low: float, power: float) -> float:
    """``low + (high - low) * (1 - sqrt(x))``: the "1 - sqrt" cooldown of the WSD papers and timm."""
    return low + (high - low) * (1.0 - math.sqrt(x))


def exponential(x: float, high: float, low: float, power: float) -> float:
    """A straight line in log space: ``high * (low / high) ** x``."""
    fraction: float = (low / high) ** x
    return high * fraction


SHAPES: Final[dict[str, Shape]] = {"cosine": cosine, "linear": linear, "polynomial": polynomial}
"""The continuous kinds of :class:`~bounded_lr_resolver.schedule.Schedule`, by ``kind``."""

WSD_SHAPES: Final[dict[str, Shape]] = {
    "linear": linear,
    "cosine": cosine,
    "sqrt": sqrt,
    "exponential": exponential,
}
"""The ``decay_shape`` choices of ``kind="wsd"`` (warmup, stable, decay)."""
