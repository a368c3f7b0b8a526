"""The shapes: each one small pure function from a phase's progress to an LR, and its one registry entry.

A phase (:mod:`bounded_lr_resolver.phases`) runs from its start LR ``a`` to its end LR ``b`` over
``n`` steps. Its shape gives the LR in between, from the progress ``x = i / n`` (``i`` steps into
the phase) or, for the shapes that count whole steps (decays, restart cycles), from ``i`` and
``n`` themselves. The phase pins ``x = 0`` to ``a`` and ``x = 1`` to ``b`` exactly (never computed:
``a + (b - a) * 1`` is not ``b`` in float64) and clamps a monotone shape to ``[min(a, b),
max(a, b)]``, so a shape only has to be right in between.

Adding a shape is one function and one :class:`Shape` entry in :data:`SHAPES`: its name, its
parameters (type, default and one-line doc), whether it counts steps, whether it is
multiplicative (its LRs are ratios, so neither end can be 0), its formula text, its docs and what
its shipped option declares. The kinds, the schemas, the shipped options, the summary's formula,
the sweep report's column, the refusals of a 0 and the test strategies are derived from this table.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bounded_lr_resolver.checks import check_count, check_positive
from bounded_lr_resolver.decays import LOW_POWERS, decayed, derive_gamma, low_powers
from bounded_lr_resolver.errors import BoundsError, bad_value

__all__ = [
    "LOW_POWERS",
    "SHAPES",
    "ZERO_SHAPES",
    "Param",
    "Shape",
    "decayed",
    "derive_gamma",
    "low_powers",
    "shape_names",
    "zero_refused",
]

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Param:
    """A shape's parameter: its name, type, default (``None``: optional, ``...``: required) and doc."""

    name: str
    type: type
    default: Any
    doc: str
    kind_level: bool = True  # also a keyword of the kinds that are this shape (not only of phases)
    # given instead of end_lr, it sets the phase's end where the curve leads: leads(start, steps, value)
    leads: Callable[[float, int, Any], float] | None = None

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
    # a resume inside it continues the curve (the rest, rescaled) instead of going straight from the
    # resume LR to its end (a line's rest is that same line: linear needs no stretch)
    stretch: bool = True
    stepwise: bool = False  # holds the LR between a few decays (a step kind's phase)
    at: Callable[..., Callable[[int], float]] | None = (
        None  # at(n, a, b, p)(i) == curve(i, n, a, b, p), faster
    )
    # curve(x, a, b, p) is IEEE arithmetic only (and exactly a at x = 0), so a preview runs it on a
    # numpy array of x, bit for bit
    elementwise: bool = False
    # what its shipped option (``bounded_lr/<name>``) declares beyond options.COMMON
    option: Mapping[str, Any] = field(default_factory=dict)


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


def inverse_sqrt_end(start: float, steps: int, timescale: int) -> float:
    """Where HF's inverse-sqrt curve from ``start`` leads after ``steps``: ``start * sqrt(t / (t + steps))``.

    ``t`` is the ``timescale``: a phase that gives it instead of ``end_lr`` ends there.
    """
    return start * math.sqrt(timescale / (timescale + steps))


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


_POWER = Param("power", float, 1.0, "exponent of (1 - x), > 0; 1.0 is linear")
_N_UPDATES = Param("n_updates", int, ..., "number of decays, evenly spread over the phase")
_PLATEAUS = Param(
    "plateaus", int, None, "equal plateaus the phase is cut into (default n_updates)", kind_level=False
)

SHAPES: Final[dict[str, Shape]] = {
    shape.name: shape
    for shape in (
        Shape(
            "constant",
            constant,
            "the LR holds (constant-with-warmup, the stable phase of WSD)",
            "a",
            option={"final_lr": None},
        ),
        Shape(
            "linear",
            linear,
            "a straight line (torch LinearLR; decay to zero)",
            "a + (b - a) * x",
            stretch=False,
            elementwise=True,
        ),
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
                    leads=inverse_sqrt_end,
                ),
            ),
            multiplicative=True,
            stretch=False,
            option={"warmup_steps": 10_000, "final_lr": 0.01},  # HF's curve with timescale = warmup_steps
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
            option={"T_0": 100_000, "T_mult": 1},
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

ZERO_SHAPES: Final = tuple(n for n, s in SHAPES.items() if not s.multiplicative and n != "constant")
"""The shapes that can decay to exactly 0 (or start there): the additive ones that move."""


def shape_names(*, multiplicative: bool | None = None) -> tuple[str, ...]:
    """The registered shape names (only the additive or multiplicative ones, if asked)."""
    return tuple(
        name
        for name, shape in SHAPES.items()
        if multiplicative is None or shape.multiplicative == multiplicative
    )


def zero_refused(
    where: str, name: str, got: dict[str, object], subject: str, field: str, reach: Iterable[str]
) -> BoundsError:
    """The one refusal of a 0 that a multiplicative kind or shape cannot have (a ratio of its ends).

    ``subject`` is what refuses it (``"kind='step'"``, ``"shape='exponential'"``); ``field`` and
    ``reach`` (derived from this registry) say what can reach 0 instead, e.g.
    ``build_scheduler: final_lr must be > 0 for kind='step', whose LRs are ratios of its ends, got
    final_lr=0.0. These can reach 0: kind=linear | cosine | ...``.
    """
    return bad_value(
        where,
        name,
        f"> 0 for {subject}, whose LRs are ratios of its ends",
        got,
        f"These can reach 0: {field}={' | '.join(reach)}",
    )
