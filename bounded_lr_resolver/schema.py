"""Typed schemas of the shipped ``bounded_lr`` configs, served to Hydra as ``bounded_lr_schema/<kind>``.

Each YAML option in ``conf/bounded_lr/`` starts from its schema
(``defaults: [/bounded_lr_schema/<kind>@_here_]``), so a wrong type on the command line
(``scheduler.final_lr=abc``, ``scheduler.n_updates=1.5``) fails at compose time with OmegaConf's
type error naming the key, before anything runs. A test checks that each YAML file and its schema
have the same keys and defaults.

The plugin's config source imports this module only when a config asks for a schema, so apps that
do not use the shipped group never pay for building them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

__all__ = [
    "SCHEMAS",
    "BoundedCosineConf",
    "BoundedExponentialConf",
    "BoundedLinearConf",
    "BoundedMultiStepConf",
    "BoundedPolynomialConf",
    "BoundedSchedulerConf",
    "BoundedShapeConf",
    "BoundedStepConf",
    "BoundedWSDConf",
    "schema_node",
]

_GAMMA = "${lr_gamma:${.initial_lr},${.final_lr},${.n_updates}}"
_DERIVED_ARGS = "${.max_steps},${.n_updates},${.warmup_steps},${.final_lr_at}"


@dataclass
class BoundedSchedulerConf:
    """Fields every bounded scheduler config has (the keyword arguments of build_scheduler)."""

    _target_: str = "bounded_lr_resolver.build_scheduler"  # instantiate() gives a partial:
    # call it with optimizer= (and any bound known only at run time, e.g. max_steps=...)
    kind: str = "step"  # step | multistep | exponential
    initial_lr: float = 0.1  # LR at the start of the decay (the optimizer's lr)
    final_lr: float = 1e-4  # LR the decay ends at, in (0, initial_lr]
    max_steps: int = 1_000_000  # training length in scheduler steps (one step() per optimizer.step())
    n_updates: int = 10_000  # number of decays
    final_lr_at: str = "max_steps"  # max_steps | last_step: which step first has final_lr
    warmup_steps: int = 0  # linear warmup steps before the decay
    warmup_start_factor: float = 0.0  # warmup starts at initial_lr * warmup_start_factor
    on_resume_change: str = "refuse"  # refuse | replan: a checkpoint saved under other bounds
    gamma: float = _GAMMA  # type: ignore[assignment]  # derived: (final_lr / initial_lr) ** (1 / n_updates)


@dataclass
class BoundedStepConf(BoundedSchedulerConf):
    """kind=step: decays every step_size steps (torch StepLR shape)."""

    step_size: int = f"${{lr_step:{_DERIVED_ARGS}}}"  # type: ignore[assignment]  # derived step size


@dataclass
class BoundedMultiStepConf(BoundedSchedulerConf):
    """kind=multistep: exactly n_updates evenly spread milestones (torch MultiStepLR shape)."""

    kind: str = "multistep"  # step | multistep | exponential
    milestones: list[int] = field(  # derived decay steps
        default_factory=lambda: f"${{lr_milestones:{_DERIVED_ARGS}}}"  # type: ignore[arg-type, return-value]
    )


@dataclass
class BoundedExponentialConf(BoundedSchedulerConf):
    """kind=exponential: decays on every step (torch ExponentialLR shape)."""

    kind: str = "exponential"  # step | multistep | exponential
    n_updates: int = "${lr_decay_steps:${.max_steps},${.warmup_steps},${.final_lr_at}}"  # type: ignore[assignment]  # one decay per step after warmup


@dataclass
class BoundedShapeConf:
    """Fields every continuous kind has: no n_updates (the LR changes on every step), no gamma."""

    _target_: str = "bounded_lr_resolver.build_scheduler"  # instantiate() gives a partial:
    # call it with optimizer= (and any bound known only at run time, e.g. max_steps=...)
    kind: str = "cosine"  # cosine | linear | polynomial | wsd
    initial_lr: float = 0.1  # LR at the start of the decay (the optimizer's lr)
    final_lr: float = 1e-4  # LR the decay ends at, in (0, initial_lr]: reached exactly, not clamped
    max_steps: int = 1_000_000  # training length in scheduler steps (one step() per optimizer.step())
    final_lr_at: str = "max_steps"  # max_steps | last_step: which step first has final_lr
    warmup_steps: int = 0  # linear warmup steps before the decay
    warmup_start_factor: float = 0.0  # warmup starts at initial_lr * warmup_start_factor
    on_resume_change: str = "refuse"  # refuse | replan: a checkpoint saved under other bounds


@dataclass
class BoundedCosineConf(BoundedShapeConf):
    """kind=cosine: final + (initial - final) * (1 + cos(pi * x)) / 2 (torch CosineAnnealingLR shape)."""


@dataclass
class BoundedLinearConf(BoundedShapeConf):
    """kind=linear: initial + (final - initial) * x (torch LinearLR shape)."""

    kind: str = "linear"  # cosine | linear | polynomial | wsd


@dataclass
class BoundedPolynomialConf(BoundedShapeConf):
    """kind=polynomial: final + (initial - final) * (1 - x) ** power (torch PolynomialLR shape)."""

    kind: str = "polynomial"  # cosine | linear | polynomial | wsd
    power: float = 1.0  # exponent of (1 - x), > 0; 1.0 is linear


@dataclass
class BoundedWSDConf(BoundedShapeConf):
    """kind=wsd: warmup, hold at initial_lr, then decay over the last decay_steps steps."""

    kind: str = "wsd"  # cosine | linear | polynomial | wsd
    decay_steps: int = 100_000  # length of the final decay, in [1, max_steps - warmup_steps]
    decay_shape: str = "cosine"  # linear | cosine | sqrt (1 - sqrt(x)) | exponential


def schema_node(name: str) -> DictConfig:
    """The typed config for ``bounded_lr_schema/<name>`` (a key of :data:`SCHEMAS`)."""
    node: DictConfig = OmegaConf.structured(SCHEMAS[name])
    return node


SCHEMAS: dict[str, type[BoundedSchedulerConf] | type[BoundedShapeConf]] = {
    "step": BoundedStepConf,
    "multistep": BoundedMultiStepConf,
    "exponential": BoundedExponentialConf,
    "cosine": BoundedCosineConf,
    "linear": BoundedLinearConf,
    "polynomial": BoundedPolynomialConf,
    "wsd": BoundedWSDConf,
}
"""The schemas by name, as the plugin's config source serves them under ``bounded_lr_schema/``."""
