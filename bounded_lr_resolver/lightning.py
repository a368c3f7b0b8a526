"""PyTorch Lightning: the optimizer and the scheduler, with the schedule's horizon taken from the trainer.

A schedule must end where training ends, in the unit Lightning steps it in: optimizer steps with
``"interval": "step"``, epochs with ``"interval": "epoch"``. A ``max_steps`` counted in optimizer
steps but stepped per epoch never decays, and nothing tells you. :func:`configure_optimizers` is
the whole of a module's ``configure_optimizers`` (three lines, for lightning-hydra-template and
LightningCLI alike); :func:`lightning_scheduler` builds the scheduler with ``max_steps`` set to the
trainer's horizon in that unit, or checks an already built one against it. Durations in epochs
(``"3ep"``, ``warmup_steps: 0.5ep``) count the trainer's optimizer steps per epoch. Lightning
itself is imported only by the caller.

A stable run declared open-ended (``kind: constant``, ``max_steps: null``) is built without the
trainer's horizon, so a checkpoint of it can start a cooldown branch (``cooldown: ...``,
:mod:`bounded_lr_resolver.branch`) under a trainer of any length: give the branch's trainer
``max_steps`` = the checkpoint's step + the cooldown.

Per-epoch schedules (``interval="epoch"``): each epoch trains at the LR of its epoch number, so a
warmup from LR 0 would spend the whole first epoch at 0 (refused: give ``warmup_start_factor``),
and with ``final_lr_at="max_steps"`` (torch's convention) the LR reaches ``final_lr`` when the last
epoch ends; ``final_lr_at="last_step"`` trains the last epoch at it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bounded_lr_resolver.errors import bad_type, bad_value
from bounded_lr_resolver.scheduler import BoundedLR  # names the [torch] extra if torch is missing

if TYPE_CHECKING:
    from torch.optim import Optimizer

__all__ = ["configure_optimizers", "lightning_scheduler", "steps_per_epoch", "trainer_horizon"]

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


def steps_per_epoch(trainer: Any, interval: str = "step") -> int:
    """Scheduler steps per epoch: optimizer steps per epoch per process (after gradient accumulation)
    with ``"step"``, 1 with ``"epoch"``; what ``"ep"`` durations count."""
    if interval == "epoch":
        return 1
    if trainer.train_dataloader is None:  # a max_steps trainer has not loaded its data yet: load it as
        trainer.fit_loop.setup_data()  # estimated_stepping_batches does for an epoch-counted one
    batches = trainer.num_training_batches
    if not isinstance(batches, int) or batches < 1:  # inf: an iterable dataset without a length
        raise bad_value(
            _WHERE,
            "trainer.num_training_batches",
            "a known number of batches per epoch, for lengths in epochs ('3ep')",
            {"trainer.num_training_batches": batches},
            "Give the lengths in steps or as fractions of the run ('0.1dur')",
        )
    size: int = math.ceil(batches / trainer.accumulate_grad_batches)
    return size


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
    if isinstance(make, Mapping):  # LightningCLI: the bounds as plain data
        from bounded_lr_resolver.factory import build_scheduler

        make = functools.partial(build_scheduler, **make)
    if isinstance(make, BoundedLR):
        declared = max(schedule.max_steps for schedule in make.schedules)
        if declared != horizon and not any(schedule.open_ended for schedule in make.schedules):
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
        keywords = getattr(make, "keywords", {})
        extra: dict[str, Any] = {"max_steps": horizon}
        if keywords.get("kind") == "constant" and keywords.get("max_steps") is None:
            del extra["max_steps"]  # an open-ended stable run: its checkpoints branch under any horizon
        if _uses_epochs(keywords):
            extra["steps_per_epoch"] = _epoch_size(keywords, trainer, interval)
        scheduler = make(optimizer=optimizer, **extra)
    scheduler.horizon = horizon  # a cooldown branch planned on load must end there
    if interval == "epoch":
        _check_first_epoch(scheduler)
    return {"scheduler": scheduler, "interval": interval, "frequency": 1}


def configure_optimizers(
    module: Any,
    optimizer: Callable[..., Optimizer] | Optimizer,
    scheduler: Any,
    *,
    interval: str = "step",
) -> dict[str, Any]:
    """A LightningModule's ``configure_optimizers``, whole: its optimizer, and the scheduler over the run.

    .. code-block:: python

        def configure_optimizers(self):
            return configure_optimizers(self, self.hparams.optimizer, self.hparams.scheduler)

    Args:
        module: the ``LightningModule`` (its ``trainer`` gives the horizon, its parameters the
            optimizer's).
        optimizer: an optimizer, or what builds one from ``params=`` (Hydra's ``_partial_: true``
            optimizer, LightningCLI's ``OptimizerCallable``).
        scheduler: what ``instantiate(cfg.model.scheduler)`` gave (the shipped ``bounded_lr``
            options give a partial of ``build_scheduler``), or the bounds as a mapping (LightningCLI).
            A ``null`` ``initial_lr`` is the optimizer's lr; given, it must equal it.
        interval: ``"step"`` (default) or ``"epoch"``: the unit of ``max_steps``.

    Returns:
        ``{"optimizer": ..., "lr_scheduler": {"scheduler": ..., "interval": ..., "frequency": 1}}``.
    """
    if not hasattr(optimizer, "param_groups"):
        if not callable(optimizer):
            raise bad_type(
                "configure_optimizers", "optimizer", "an optimizer or a callable taking params=", optimizer
            )
        optimizer = optimizer(params=module.parameters())
    built = lightning_scheduler(scheduler, optimizer, module.trainer, interval=interval)  # type: ignore[arg-type]
    return {"optimizer": optimizer, "lr_scheduler": built}


def _uses_epochs(keywords: Mapping[str, Any]) -> bool:
    """Whether a declaration has a length in epochs (``"3ep"``), anywhere: phases and cooldown too."""
    from bounded_lr_resolver.durations import lengths_of, unit_of

    return any(unit_of(length) == "ep" for length in lengths_of(keywords))


def _epoch_size(keywords: Mapping[str, Any], trainer: Any, interval: str) -> int:
    """The trainer's steps per epoch; a declared ``steps_per_epoch`` must agree with it."""
    size = steps_per_epoch(trainer, interval)
    declared = keywords.get("steps_per_epoch")
    if declared is not None and declared != size:
        raise bad_value(
            _WHERE,
            "steps_per_epoch",
            f"the trainer's scheduler steps per epoch (interval={interval!r}), or left out",
            {"steps_per_epoch": declared, "trainer": size},
            "Leave steps_per_epoch out (null): the trainer's is used",
        )
    return size


def _check_first_epoch(scheduler: BoundedLR) -> None:
    """A per-epoch warmup from LR 0 would train the whole first epoch at 0: refused, saying what works."""
    for schedule in scheduler.schedules:
        if schedule.warmup_steps and schedule.lr_at(0) == 0.0:
            factor = 1 / (schedule.warmup_steps + 1)
            raise bad_value(
                _WHERE,
                "warmup_start_factor",
                "> 0 with interval='epoch' (each epoch trains at the LR of its number: the first "
                "epoch would train at LR 0)",
                {"warmup_start_factor": schedule.warmup_start_factor, "warmup_steps": schedule.warmup_steps},
                f"Use warmup_start_factor={factor:.6g} (a linear ramp whose first epoch trains at "
                f"{factor:.6g} x initial_lr), or interval='step'",
            )
