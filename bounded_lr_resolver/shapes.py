"""The shapes: each one small pure function from a phase's progress to an LR, and its one registry entry.

A phase (:mod:`bounded_lr_resolver.phases`) runs from its start LR ``a`` to its end LR ``b`` over
``n`` steps. Its shape gives the LR in between, from the progress ``x = i / n`` (``i`` steps into
the phase) or, for the shapes that count whole steps (decays, restart cycles), from ``i`` and
``n`` themselves. The phase pins ``x = 0`` to ``a`` and ``x = 1`` to ``b`` exactly (never computed:
``a + (b - a) * 1`` is not ``b`` in float64) and clamps a monotone shape to ``[min(a, b),
max(a, b)]``, so a shape only has to be right in between.

Adding a shape is one function and one :class:`Shape` entry in :data:`SHAPES`: its name, its
parameters (type, default and one-line doc), whether it counts steps, whether it is
multiplicative (its LRs are ratios, so neither end can be 0), its formula text and its docs.
The kinds, the schemas, the shipped options, the summary's formula, the sweep report's column and
the test strategies are derived from this table.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bounded_lr_resolver.checks import check_count, check_positive
from bounded_lr_resolver.errors import bad_value

__all__ = [
    "LOW_POWERS",
    "SHAPES",
    "Param",
    "Shape",
    "decayed",
    "derive_gamma",
    "low_powers",
    "shape_names",
]

LOW_POWERS: Final = 1024
"""gamma**k is computed as ``gamma**(k - r) * gamma**r`` with ``r = k % 1024`` and the 1024 low
powers tabulated, so that a vectorized curve needs one ``pow`` per 1024 steps, not one per step,
and still equals the scalar form bit for bit (both are the same IEEE multiplication)."""

_GAMMA_CHECK_RTOL: Final = 1e-9
# gamma is within half an ulp (2**-53 relative) of the exact root, so gamma**n is within about
# n * 2**-53 of final_lr / initial_lr: the check allows that, or 1e-9 if more (10**8 steps: 2.2e-8)
_ROUNDING_PER_POWER: Final = 2.0 * 2.0**-53
_MIN_DECAY: Final = 1e-15  # 1 - gamma below ~4.5 float64 ulps cannot give n distinct decays

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Param:
    """A shape's parameter: its name, type, default (``None``: optional, ``...``: required) and doc."""

    name: str
    type: type
    default: Any
    doc: str
    kind_level: bool = True  # also a keyword of the kinds that are this shape (not only of phases)

    def check(self, where: str, value: object, label: str | None = None) -> Any:
        """The value normalized to the parameter's type, or this package's error naming it (as ``label``)."""
        if self.type is int:
            return check_count(where, label or self.name, value)
        return check_positive(where, label or self.name, value)


@dataclass(frozen=True)
class Shape:
    """One registry entry: everything the package knows about a shape, in one place."""

    name: str
    curve: Callable[..., float]
    doc: str
    formula: str
    params: tuple[Param, ...] = ()
    on_steps: bool = False  # curve(i, n, a, b, p) instead of curve(x, a, b, p)
    multiplicative: bool = False  # LRs are ratios of the ends: neither end may be 0
    monotone: bool = True  # moves one way between its ends (restart cycles do not)
    stretch: bool = True  # a resume inside it continues the curve (the rest, rescaled) instead of restarting
    stepwise: bool = False  # holds the LR between a few decays (a step kind's phase)
    at: Callable[..., Callable[[int], float]] | None = (
        None  # at(n, a, b, p)(i) == curve(i, n, a, b, p), faster
    )


def constant(x: float, a: float, b: float, p: Params) -> float:
    """``a``: the LR holds (``b`` must equal ``a``)."""
    return a


def linear(x: float, a: float, b: float, p: Params) -> float:
    """A straight line: ``a + (b - a) * x`` (torch LinearLR, Bergsma et al.'s decay to zero)."""
    return a + (b - a) * x


def cosine(x: float, a: float, b: float, p: Params) -> float:
    """Half a cosine: ``b + (a - b) * (1 + cos(pi * x)) / 2`` (torch CosineAnnealingLR)."""
    return b + (a - b) * (1.0 + math.cos(math.pi * x)) / 2.0


def polynomial(x: float, a: float, b: float, p: Params) -> float:
    """``b + (a - b) * (1 - x) ** power``; ``power=1`` is linear (torch PolynomialLR, shifted by b)."""
    remaining: float = (1.0 - x) ** p["power"]
    return b + (a - b) * remaining


def sqrt(x: float, a: float, b: float, p: Params) -> float:
    """``b + (a - b) * (1 - sqrt(x))``: the "1 - sqrt" cooldown of the WSD papers and timm."""
    return b + (a - b) * (1.0 - math.sqrt(x))


def exponential(x: float, a: float, b: float, p: Params) -> float:
    """A straight line in log space: ``a * (b / a) ** x`` (fairseq's tri-stage decay)."""
    fraction: float = (b / a) ** x
    return a * fraction


def inverse_sqrt(x: float, a: float, b: float, p: Params) -> float:
    """``a * r / sqrt(r**2 + (1 - r**2) * x)`` with ``r = b / a``: HF's inverse-sqrt decay through both ends.

    With ``timescale = r**2 * n / (1 - r**2)`` this is ``a / sqrt((i + timescale) / timescale)``,
    Hugging Face's ``get_inverse_sqrt_schedule`` after its warmup.
    """
    r = b / a
    return a * r / math.sqrt(r * r + (1.0 - r * r) * x)


def _cycle(i: int, first: int, mult: int) -> tuple[int, int]:
    """Where step ``i`` falls in cycles of ``first * mult**k`` steps: (steps into its cycle, its length)."""
    if mult == 1:
        return i % first, first
    start, length = 0, first
    while i >= start + length:
        start, length = start + length, length * mult
    return i - start, length


def cosine_restarts(i: int, n: int, a: float, b: float, p: Params) -> float:
    """SGDR: half cosines from ``a`` to ``b`` in cycles of ``T_0 * T_mult**k`` steps, each from ``a`` again.

    ``b + (a - b) * (1 + cos(pi * t_cur / t_i)) / 2``: torch's ``CosineAnnealingWarmRestarts``
    (``eta_min = b``), whose LR never reaches ``b`` inside a cycle; the phase's end pins it.
    """
    into, length = _cycle(i, p["T_0"], p["T_mult"])
    return b + (a - b) * (1.0 + math.cos(math.pi * into / length)) / 2.0


@functools.lru_cache(maxsize=64)
def low_powers(gamma: float) -> tuple[float, ...]:
    """``gamma**r`` for ``r < LOW_POWERS`` (one table per gamma, shared by every group and step)."""
    return tuple(gamma**r for r in range(LOW_POWERS))


def decayed(factor: float, k: int) -> float:
    """``factor**k`` as ``factor**(k - r) * factor**r`` with ``r = k % LOW_POWERS`` (see LOW_POWERS)."""
    low = k & (LOW_POWERS - 1)
    power: float = factor ** (k - low) * low_powers(factor)[low]
    return power


def multistep_at(n: int, a: float, b: float, p: Params) -> Callable[[int], float]:
    """:func:`multistep` of one phase as a function of ``i`` alone (the scheduler's hot path)."""
    count: int = p["n_updates"]
    plateaus: int = p["plateaus"]
    gamma: float = p["gamma"]
    lows, mask = low_powers(gamma), LOW_POWERS - 1

    def lr(i: int) -> float:
        k: int = ((i + 1) * plateaus - 1) // n
        if k >= count:
            return b
        low = k & mask
        return max(b, a * (gamma ** (k - low) * lows[low]))

    return lr


def multistep(i: int, n: int, a: float, b: float, p: Params) -> float:
    """``a * gamma**k`` after ``k`` of ``n_updates`` evenly spread decays, ``gamma = (b / a) ** (1 / n)``.

    The decays happen at ``floor(j * n / plateaus)`` steps into the phase, ``j = 1..n_updates``
    (``plateaus = n_updates``: the last one at the phase's end; ``n_updates + 1``: a plateau at
    ``b`` before it). torch's StepLR, MultiStepLR and ExponentialLR, in closed form.
    """
    return multistep_at(n, a, b, p)(i)


def derive_gamma(
    where: str, initial_lr: float, final_lr: float, n_updates: int, ends: str = "final_lr / initial_lr"
) -> float:
    """The per-decay factor ``(final_lr / initial_lr) ** (1 / n_updates)``, refused where float64 cannot
    make exactly ``n_updates`` decays from one end to the other (``initial_lr >= final_lr > 0``)."""
    result: float = (final_lr / initial_lr) ** (1.0 / n_updates)
    rtol = max(_GAMMA_CHECK_RTOL, _ROUNDING_PER_POWER * n_updates)
    if result <= 0.0 or not math.isclose(initial_lr * result**n_updates, final_lr, rel_tol=rtol):
        raise bad_value(
            where,
            ends,
            "reachable as gamma**n_updates in float64",
            {"initial_lr": initial_lr, "final_lr": final_lr, "n_updates": n_updates},
            "The range is too wide for float64; narrow it or use fewer updates",
        )
    if final_lr < initial_lr and result > 1.0 - _MIN_DECAY:
        raise bad_value(
            where,
            ends,
            f"small enough for n_updates distinct decays in float64 (gamma <= 1 - {_MIN_DECAY:g})",
            {"initial_lr": initial_lr, "final_lr": final_lr, "n_updates": n_updates, "gamma": result},
            "Use fewer updates, or final_lr=initial_lr for a constant LR",
        )
    if final_lr < initial_lr:
        # gamma's float64 rounding, raised to the power n_updates, can end the decay early: the LR
        # after n_updates - 1 decays (computed exactly as multistep does) must stay above final_lr
        last = n_updates - 1
        low = last & (LOW_POWERS - 1)
        before_last = initial_lr * (result ** (last - low) * result**low)
        if before_last <= final_lr:
            raise bad_value(
                where,
                ends,
                "wide enough for exactly n_updates decays in float64 (the LR after n_updates - 1 decays "
                "must still be above final_lr)",
                {
                    "initial_lr": initial_lr,
                    "final_lr": final_lr,
                    "n_updates": n_updates,
                    "LR after n_updates - 1 decays": before_last,
                },
                "Use fewer updates or a wider range",
            )
    return min(result, 1.0)


_POWER = Param("power", float, 1.0, "exponent of (1 - x), > 0; 1.0 is linear")
_N_UPDATES = Param("n_updates", int, ..., "number of decays, evenly spread over the phase")
_PLATEAUS = Param(
    "plateaus", int, None, "equal plateaus the phase is cut into (default n_updates)", kind_level=False
)

SHAPES: Final[dict[str, Shape]] = {
    shape.name: shape
    for shape in (
        Shape("constant", constant, "the LR holds (constant-with-warmup, the stable phase of WSD)", "a"),
        Shape("linear", linear, "a straight line (torch LinearLR; decay to zero)", "a + (b - a) * x"),
        Shape(
            "cosine",
            cosine,
            "half a cosine (torch CosineAnnealingLR, HF's cosine schedule)",
            "b + (a - b) * (1 + cos(pi * x)) / 2",
        ),
        Shape(
            "polynomial",
            polynomial,
            "(1 - x) ** power (torch PolynomialLR, to a floor)",
            "b + (a - b) * (1 - x) ** power",
            params=(_POWER,),
        ),
        Shape(
            "sqrt", sqrt, 'the "1 - sqrt" cooldown of WSD (Hagele et al. 2024)', "b + (a - b) * (1 - sqrt(x))"
        ),
        Shape(
            "exponential",
            exponential,
            "a straight line in log space (fairseq's tri-stage decay)",
            "a * (b / a) ** x",
            multiplicative=True,
            stretch=False,
        ),
        Shape(
            "inverse_sqrt",
            inverse_sqrt,
            "inverse square root through both ends (HF get_inverse_sqrt_schedule)",
            "a * r / sqrt(r**2 + (1 - r**2) * x), r = b / a",
            params=(
                Param(
                    "timescale",
                    int,
                    None,
                    "HF's timescale in steps (end_lr left out: the phase ends where it leads)",
                    kind_level=False,
                ),
            ),
            multiplicative=True,
            stretch=False,
        ),
        Shape(
            "cosine_restarts",
            cosine_restarts,
            "SGDR: cosine cycles of T_0 * T_mult**k steps, each restarting at a (torch "
            "CosineAnnealingWarmRestarts)",
            "b + (a - b) * (1 + cos(pi * t_cur / t_k)) / 2, t_k = T_0 * T_mult**k",
            params=(
                Param("T_0", int, ..., "length of the first cycle in steps"),
                Param("T_mult", int, 1, "each cycle is T_mult times longer than the one before"),
            ),
            on_steps=True,
            monotone=False,
            stretch=False,
        ),
        Shape(
            "multistep",
            multistep,
            "n_updates decays by gamma, evenly spread (torch StepLR, MultiStepLR, ExponentialLR)",
            "a * gamma ** k, gamma = (b / a) ** (1 / n_updates), k decays so far",
            params=(_N_UPDATES, _PLATEAUS),
            on_steps=True,
            multiplicative=True,
            stretch=False,
            stepwise=True,
            at=multistep_at,
        ),
    )
}
"""Every shape a phase may have, by name."""


def shape_names(*, multiplicative: bool | None = None) -> tuple[str, ...]:
    """The registered shape names (only the additive or multiplicative ones, if asked)."""
    return tuple(
        name
        for name, shape in SHAPES.items()
        if multiplicative is None or shape.multiplicative == multiplicative
    )
