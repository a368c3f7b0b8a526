"""Instantiate our own ``_target_`` s through Hydra with an execution whitelist where Hydra has one.

hydra-core 1.4 warns when ``instantiate`` runs without ``_execution_whitelist_`` (an error from
1.5); hydra-core 1.3 has no such parameter. :func:`instantiate_trusted` passes the whitelist
only where it exists, so the same line works, silently, on both.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable
from typing import Any, Final

from hydra.utils import instantiate

__all__ = ["SUPPORTS_WHITELIST", "TRUSTED_TARGETS", "instantiate_trusted", "trust_our_callbacks"]

TRUSTED_TARGETS: Final = ("bounded_lr_resolver.build_scheduler",)
"""The targets this package ships in its configs."""

SUPPORTS_WHITELIST: Final = "_execution_whitelist_" in inspect.signature(instantiate).parameters
"""Whether the installed Hydra's ``instantiate`` takes ``_execution_whitelist_`` (1.4 and later)."""


def instantiate_trusted(config: Any, *args: Any, allow: Iterable[str] = (), **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that may only call our targets and the ones in ``allow``.

    Args:
        config: the config node with ``_target_`` (e.g. ``cfg.scheduler``).
        *args: positional arguments for the target.
        allow: further ``_target_`` strings the config may call (from trusted code, never from
            the config itself).
        **kwargs: keyword arguments for the target, as for ``instantiate``.
    """
    if SUPPORTS_WHITELIST:
        kwargs["_execution_whitelist_"] = [*TRUSTED_TARGETS, *allow]
    return instantiate(config, *args, **kwargs)


def trust_our_callbacks() -> None:
    """Silence hydra-core 1.4's whitelist warning for this package's callbacks, and only those.

    Hydra 1.4 instantiates every ``hydra.callbacks`` entry without an execution whitelist and
    warns for each (it offers no way to pass one). Call this before ``@hydra.main`` runs when
    your config lists ``bounded_lr_resolver.callbacks.*``; other targets still warn.
    """
    warnings.filterwarnings(
        "ignore", message=r"hydra\.utils\.instantiate\(\) resolved _target_='bounded_lr_resolver\.callbacks\."
    )
