"""The shipped ``bounded_lr`` options: one per kind, and the common compositions, as declarations.

Each option is a kind and the values it declares beyond :data:`COMMON` (the seed's example:
0.1 -> 1e-4 over 10**6 steps). Every kind of :data:`~bounded_lr_resolver.bounds.KINDS` has an
option of its own name, derived from the shape registry; the compositions are phase lists with
lengths as fractions of the run (``"0.1dur"``), so they follow ``max_steps`` when it is
overridden, and their last phase ends at ``${...final_lr}``, so ``scheduler.final_lr=...`` sweeps
them. :mod:`bounded_lr_resolver.schema` turns each into a typed schema.

No numpy, no torch, no omegaconf: the plugin lists these names in every Hydra app.
"""

from __future__ import annotations

from typing import Any, Final

from bounded_lr_resolver.bounds import KINDS, SHAPE_KINDS
from bounded_lr_resolver.shapes import SHAPES

__all__ = ["COMMON", "OPTIONS", "Option"]

COMMON: Final[dict[str, Any]] = {
    "initial_lr": 0.1,
    "final_lr": 1e-4,
    "max_steps": 1_000_000,
    "final_lr_at": "max_steps",
    "warmup_steps": 0,
    "warmup_start_factor": 0.0,
    "warmup_shape": "linear",
}
"""What every option declares unless it says otherwise."""

_LAST = "${...final_lr}"  # from a phase (a dict in the phases list) up to the option's final_lr

Option = tuple[str, str, dict[str, Any]]  # (kind, one line of doc, the values it declares)

_KIND_VALUES: Final[dict[str, dict[str, Any]]] = {
    "step": {"n_updates": 10_000},
    "multistep": {"n_updates": 10_000},
    "exponential": {},
    "wsd": {"decay_steps": 100_000, "decay_shape": "cosine"},
    "phases": {
        "final_lr": None,
        "warmup_steps": "0.01dur",
        "phases": [
            {"shape": "constant", "steps": "0.79dur"},
            {"shape": "sqrt", "steps": "0.2dur", "end_lr": 0.0},
        ],
    },
}
"""What each kind that is not one shape declares (a shape kind's option: its registry entry's ``option``)."""

_KIND_DOCS: Final[dict[str, str]] = {
    "step": "n_updates equal decays by gamma, every step_size steps (torch StepLR)",
    "multistep": "n_updates decays by gamma at evenly spread milestones, for any max_steps (torch "
    "MultiStepLR)",
    "exponential": "a decay by gamma on every step (torch ExponentialLR)",
    "wsd": "warmup, hold at initial_lr, then decay_shape over the last decay_steps steps",
    "phases": "warmup, then the declared phases {shape, steps, end_lr, ...}, adding up to max_steps",
}

OPTIONS: Final[dict[str, Option]] = {
    **{
        kind: (
            kind,
            _KIND_DOCS.get(kind) or f"warmup, then {SHAPES[kind].doc}",
            _KIND_VALUES[kind] if kind in _KIND_VALUES else dict(SHAPES[kind].option),
        )
        for kind in KINDS
    },
    "cosine_to_zero": (
        "cosine",
        "warmup over 1% of the run, then a cosine to exactly 0 (HF get_cosine_schedule_with_warmup)",
        {"final_lr": 0.0, "warmup_steps": "0.01dur"},
    ),
    "linear_to_zero": (
        "linear",
        "warmup over 1% of the run, then a straight line to exactly 0 (Bergsma et al. 2025)",
        {"final_lr": 0.0, "warmup_steps": "0.01dur"},
    ),
    "wsd_sqrt_to_zero": (
        "wsd",
        "warmup, hold, then a 1 - sqrt cooldown over the last 20% to exactly 0 (Hagele et al. 2024)",
        {"final_lr": 0.0, "warmup_steps": "0.01dur", "decay_steps": "0.2dur", "decay_shape": "sqrt"},
    ),
    "tri_stage": (
        "phases",
        "fairseq's tri-stage: warmup from 1% over 10%, hold 40%, exponential decay over 50%",
        {
            "final_lr": 1e-3,
            "warmup_steps": "0.1dur",
            "warmup_start_factor": 0.01,
            "phases": [
                {"shape": "constant", "steps": "0.4dur"},
                {"shape": "exponential", "steps": "0.5dur", "end_lr": _LAST},
            ],
        },
    ),
    "rewarm": (
        "phases",
        "continual pre-training: cosine to a floor, re-warm to a lower peak, cosine again (Ibrahim et "
        "al. 2024)",
        {
            "warmup_steps": "0.01dur",
            "phases": [
                {"shape": "cosine", "steps": "0.49dur", "end_lr": 0.01},
                {"shape": "linear", "steps": "0.01dur", "end_lr": 0.05, "rewarm": True},
                {"shape": "cosine", "steps": "0.49dur", "end_lr": _LAST},
            ],
        },
    ),
}
"""Every shipped option: ``name -> (kind, doc, declared values)``."""

assert set(SHAPE_KINDS) <= set(OPTIONS)
