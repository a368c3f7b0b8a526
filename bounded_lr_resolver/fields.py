"""The fields of a declaration: every keyword a schedule takes, and which kinds each applies to.

:data:`SCHEDULE_FIELDS` is what a config node may declare (the shipped options' schemas and the
resolvers read it); :data:`SHAPE_PARAMS` and :data:`PHASE_PARAMS` come from the shape registry;
:func:`check_applies` refuses a field given to a kind it does not apply to (never ignored), naming
the kinds it does apply to.

No numpy, no torch: the plugin imports the core in every Hydra app.
"""

from __future__ import annotations

from typing import Final

from bounded_lr_resolver.errors import BoundsTypeError, bad_value
from bounded_lr_resolver.kinds import SHAPE_KINDS, STEP_KINDS
from bounded_lr_resolver.shapes import SHAPES

__all__ = [
    "DECAY_SHAPES",
    "DEFAULT_DECAY_SHAPE",
    "PHASE_PARAMS",
    "SCHEDULE_FIELDS",
    "SHAPE_PARAMS",
    "STABLE_KINDS",
    "WARMUP_SHAPES",
    "check_applies",
    "owners",
]

WARMUP_SHAPES: Final = ("linear", "cosine", "exponential")
"""How a warmup may ramp up (``exponential``: a straight line in log space; needs a start above 0)."""
DECAY_SHAPES: Final = tuple(n for n, s in SHAPES.items() if not (s.on_steps or n == "constant"))
"""The ``decay_shape`` choices of ``kind="wsd"``."""
STABLE_KINDS: Final = ("constant", "phases")
"""The kinds that can end in a hold, so a cooldown branch can follow (see ``branch.py``)."""
DEFAULT_DECAY_SHAPE: Final = "cosine"
"""``decay_shape`` of ``kind="wsd"`` when not given (as Hugging Face's ``get_wsd_schedule``)."""
SHAPE_PARAMS: Final = tuple(
    dict.fromkeys(p.name for s in SHAPES.values() for p in s.params if p.kind_level and not s.stepwise)
)
"""The shape parameters a kind takes as keywords (``power``, ``T_0``, ...)."""
PHASE_PARAMS: Final = {
    p.name: n for n, s in SHAPES.items() for p in s.params if not p.kind_level and p.name not in SHAPE_PARAMS
}
"""The shape parameters only a phase takes (``timescale``, ...), and the shape each belongs to."""
SCHEDULE_FIELDS: Final = (
    "initial_lr",
    "final_lr",
    "max_steps",
    "n_updates",
    "kind",
    "final_lr_at",
    "warmup_steps",
    "warmup_start_factor",
    *SHAPE_PARAMS,
    "decay_steps",
    "decay_shape",
    "warmup_shape",
    "phases",
    "steps_per_epoch",
    "tokens_per_step",
    "cooldown",
)
"""Every keyword a :class:`Schedule` takes (``where`` aside): what a config node may declare."""


def owners(name: str) -> list[str]:
    """The kinds a shape parameter applies to (wsd: through its decay_shape)."""
    kinds = [k for k in SHAPE_KINDS if any(p.name == name for p in SHAPES[k].params)]
    if any(p.name == name for s in DECAY_SHAPES for p in SHAPES[s].params):
        kinds.append("wsd")
    return kinds


def check_applies(
    where: str,
    kind: str,
    n_updates: object,
    decay_steps: object,
    decay_shape: object,
    phases: object,
    params: dict[str, object],
) -> None:
    """A field given to a kind it does not apply to is an error, never ignored."""
    for name, value in params.items():
        if name not in SHAPE_PARAMS:
            owner = PHASE_PARAMS.get(name)
            raise BoundsTypeError(
                f"{where}: {name} must be one of the arguments {list(SCHEDULE_FIELDS)}, got "
                f"{name}={value!r}"
                + (f"; {name} is a phase's: {{shape: {owner}, steps: ..., {name}: ...}}" if owner else "")
            )
        allowed = owners(name)
        if value is not None and kind not in allowed:
            rule = f"left out for kind={kind!r} (it applies to kind={' or '.join(map(repr, allowed))})"
            raise bad_value(where, name, rule, {name: value, "kind": kind})
    for name, value, owner in (
        ("decay_steps", decay_steps, "wsd"),
        ("decay_shape", decay_shape, "wsd"),
        ("phases", phases, "phases"),
    ):
        if value is not None and kind != owner:
            rule = f"left out for kind={kind!r} (it applies to kind={owner!r})"
            raise bad_value(where, name, rule, {name: value, "kind": kind})
    if n_updates is not None and kind not in STEP_KINDS:
        raise bad_value(
            where,
            "n_updates",
            f"left out for kind={kind!r}, which changes the LR on every step",
            {"n_updates": n_updates, "kind": kind},
            "Use kind='step', 'multistep' or 'exponential' for a number of decays",
        )
