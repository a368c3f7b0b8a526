"""The step phase's arithmetic: the per-decay factor gamma, as float64 can make it, and its powers.

A step phase (torch's StepLR, MultiStepLR and ExponentialLR in closed form) multiplies its start LR
by ``gamma = (end / start) ** (1 / n_updates)`` once per decay. :func:`derive_gamma` derives gamma
and refuses the ranges float64 cannot decay through in exactly ``n_updates`` steps, saying what
would work; :func:`decayed` and :func:`low_powers` compute ``gamma**k`` the one way every caller
(the scalar LR, the vectorized curve, the resolvers' ``blr.values``) shares, so they agree bit for bit.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

import functools
import math
from typing import Final

from bounded_lr_resolver.errors import bad_value

__all__ = ["LOW_POWERS", "decayed", "derive_gamma", "low_powers"]

LOW_POWERS: Final = 1024
"""gamma**k is computed as ``gamma**(k - r) * gamma**r`` with ``r = k % 1024`` and the 1024 low
powers tabulated, so that a vectorized curve needs one ``pow`` per 1024 steps, not one per step,
and still equals the scalar form bit for bit (both are the same IEEE multiplication)."""

_GAMMA_CHECK_RTOL: Final = 1e-9
# gamma is within half an ulp (2**-53 relative) of the exact root, so gamma**n is within about
# n * 2**-53 of final_lr / initial_lr: the check allows that, or 1e-9 if more (10**8 steps: 2.2e-8)
_ROUNDING_PER_POWER: Final = 2.0 * 2.0**-53
_MIN_DECAY: Final = 1e-15  # 1 - gamma below ~4.5 float64 ulps cannot give n distinct decays


@functools.lru_cache(maxsize=64)
def low_powers(gamma: float) -> tuple[float, ...]:
    """``gamma**r`` for ``r < LOW_POWERS`` (one table per gamma, shared by every group and step)."""
    return tuple(gamma**r for r in range(LOW_POWERS))


def decayed(factor: float, k: int) -> float:
    """``factor**k`` as ``factor**(k - r) * factor**r`` with ``r = k % LOW_POWERS`` (see LOW_POWERS)."""
    low = k & (LOW_POWERS - 1)
    power: float = factor ** (k - low) * low_powers(factor)[low]
    return power


def derive_gamma(
    where: str,
    initial_lr: float,
    final_lr: float,
    n_updates: int,
    ends: str = "final_lr / initial_lr",
    *,
    fewer: str = "use fewer updates",
) -> float:
    """The per-decay factor ``(final_lr / initial_lr) ** (1 / n_updates)``, refused where float64 cannot
    make exactly ``n_updates`` decays from one end to the other (``initial_lr >= final_lr > 0``).

    ``fewer`` is what the refusal suggests instead of ``n_updates`` decays: fewer of them where the
    caller gave ``n_updates``, what would work where it is derived (``kind="exponential"``).
    """
    result: float = (final_lr / initial_lr) ** (1.0 / n_updates)
    instead = fewer[:1].upper() + fewer[1:]
    rtol = max(_GAMMA_CHECK_RTOL, _ROUNDING_PER_POWER * n_updates)
    if result <= 0.0 or not math.isclose(initial_lr * result**n_updates, final_lr, rel_tol=rtol):
        raise bad_value(
            where,
            ends,
            "reachable as gamma**n_updates in float64",
            {"initial_lr": initial_lr, "final_lr": final_lr, "n_updates": n_updates},
            f"The range is too wide for float64; narrow it or {fewer}",
        )
    if final_lr < initial_lr and result > 1.0 - _MIN_DECAY:
        raise bad_value(
            where,
            ends,
            f"small enough for n_updates distinct decays in float64 (gamma <= 1 - {_MIN_DECAY:g})",
            {"initial_lr": initial_lr, "final_lr": final_lr, "n_updates": n_updates, "gamma": result},
            f"{instead}, or final_lr=initial_lr for a constant LR",
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
                f"{instead}, or a wider range",
            )
    return min(result, 1.0)
