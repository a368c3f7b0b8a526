"""Data-parallel training (torchrun, DDP): check that every rank's schedule is at the same point.

Every rank builds its own scheduler from the same composed config; the LRs stay identical only
while every rank calls ``scheduler.step()`` exactly once per optimizer step. Stepping once per
process in the wrong place, or twice in one (accelerate#2773 and similar reports), makes the ranks
train with different LRs and nothing says so. :func:`check_same_across_ranks` gathers every
rank's step count and LRs and raises, naming the ranks that differ from rank 0. It is one
collective call: run it every N steps, or once after a resume.
"""

from __future__ import annotations

from typing import Any

from bounded_lr_resolver.errors import missing_extra  # before the optional imports it names

try:
    import torch.distributed as dist
except ModuleNotFoundError as error:
    raise missing_extra(error, "check_same_across_ranks") from None

from bounded_lr_resolver.errors import bad_value
from bounded_lr_resolver.scheduler import BoundedLR

__all__ = ["check_same_across_ranks"]


def check_same_across_ranks(scheduler: BoundedLR, group: Any = None) -> None:
    """Raise unless every rank's scheduler is at the same step with the same LRs (bit for bit).

    Args:
        scheduler: this rank's scheduler.
        group: the process group (default: the world).

    Raises:
        BoundsError: naming each rank whose step or LRs differ from rank 0's, with both.
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise bad_value(
            "check_same_across_ranks",
            "torch.distributed",
            "initialized (call it inside a torchrun / DDP process group)",
            {"initialized": False},
        )
    mine = (scheduler.last_epoch, [float(lr) for lr in scheduler.get_last_lr()])
    every: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(every, mine, group=group)
    reference = every[0]
    differing = {rank: state for rank, state in enumerate(every) if state != reference}
    if differing:
        shown: dict[str, object] = {"rank 0": f"step={reference[0]}, lrs={reference[1]}"}
        shown.update({f"rank {rank}": f"step={step}, lrs={lrs}" for rank, (step, lrs) in differing.items()})
        raise bad_value(
            "check_same_across_ranks",
            "every rank's scheduler",
            "at the same step with the same LRs",
            shown,
            "Call scheduler.step() exactly once per optimizer.step() on every rank",
        )
