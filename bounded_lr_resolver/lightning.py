"""PyTorch Lightning: the ``lr_scheduler`` config with the schedule's horizon taken from the trainer.

A schedule must end where training ends, in the unit Lightning steps it in: optimizer steps with
``"interval": "step"``, epochs with ``"interval": "epoch"``. A ``max_steps`` counted in optimizer
steps but stepped per epoch never decays, and nothing tells you. :func:`lightning_scheduler`
builds the scheduler with ``max_steps`` set to the trainer's horizon in that unit, or checks an
already built one against it. Lightning itself is imported only by the caller.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.scheduler import BoundedLR  # names the [torch] extra if torch is missing

if TYPE_CHECKING:
    from torch.optim import Optimizer

__all__ = ["lightning_scheduler", "trainer_horizon"]

_WHERE = "lightning_scheduler"


def trainer_horizon(trainer: Any, interval: str = "step") -> int:
    """The training length in Lightning's scheduler unit: optimizer steps or epochs.

    ``"step"``: ``trainer.estimated_stepping_batches`` (it accounts for ``max_steps``,
    ``max_epochs``, gradient accumulation and devices); ``"epoch"``: ``trainer.max_epochs``.
    """
    if interval not in ("step", "epoch"):
        raise bad_value(_WHERE, "interval", "one of ['step', 'epoch']", {"interval": interval})
    if interval == "step":
        horizon = trainer.estimated_stepping_batches
        source = "trainer.estimated_stepping_batches"
    else:
        horizon = trainer.max_epochs
        source = "trainer.max_epochs"
    if horizon is None or not math.isfinite(horizon) or horizon < 1:
        raise bad_value(
            _WHERE,
            source,
            f"a known, finite training length in {interval}s",
            {source: horizon},
            "Set the trainer's max_steps or max_epochs",
        )
    return int(horizon)


def lightning_scheduler(
    make: Any, optimizer: Optimizer, trainer: Any, *, interval: str = "step"
) -> dict[str, Any]:
    """Return ``{"scheduler": ..., "interval": ..., "frequency": 1}`` for ``configure_optimizers``.

    Args:
        make: what ``instantiate(cfg.scheduler)`` gave (a partial of ``build_scheduler``), built
            here with ``max_steps`` = the trainer's horizon; or a built
            :class:`~bounded_lr_resolver.scheduler.BoundedLR`, checked against it.
        optimizer: the optimizer to schedule.
        trainer: the Lightning ``Trainer`` (``self.trainer`` in ``configure_optimizers``).
        interval: ``"step"`` (per optimizer step, the default) or ``"epoch"``.

    Raises:
        BoundsError: a built scheduler whose ``max_steps`` is not the trainer's horizon in that
            unit, or a trainer with no known length.
    """
    horizon = trainer_horizon(trainer, interval)
    if isinstance(make, BoundedLR):
        declared = max(schedule.max_steps for schedule in make.schedules)
        if declared != horizon:
            raise bad_value(
                _WHERE,
                "max_steps",
                f"the trainer's horizon in {interval}s, as Lightning steps the scheduler per {interval}",
                {"max_steps": declared, "horizon": horizon},
                "Pass the factory (instantiate(cfg.scheduler)) instead of a built scheduler and it is built "
                f"with max_steps={horizon}; with interval='epoch' the schedule counts epochs",
            )
        scheduler = make
    else:
        scheduler = make(optimizer=optimizer, max_steps=horizon)
    return {"scheduler": scheduler, "interval": interval, "frequency": 1}
