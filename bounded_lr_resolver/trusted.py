"""Instantiate ``_target_`` s from configs only where trusted code allows them, on every Hydra version.

:func:`instantiate_trusted` checks every ``_target_`` in the config (nested ones too, after
resolving interpolations) against an allow-list *before* Hydra calls anything, and raises
:class:`~bounded_lr_resolver.errors.UntrustedTargetError` naming the refused target and where it
sits. hydra-core 1.3 has no execution whitelist of its own, so without this check a config could
call anything (``builtins.open`` truncating a file); on hydra-core 1.4 the same list is also
passed as ``_execution_whitelist_``, so Hydra enforces it too and does not warn.

:func:`trust_our_callbacks` silences hydra-core 1.4's whitelist warning for this package's
callback classes, by their exact names and nothing else.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Final

from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from bounded_lr_resolver.errors import UntrustedTargetError, bad_value

__all__ = [
    "SUPPORTS_WHITELIST",
    "TRUSTED_CALLBACKS",
    "TRUSTED_TARGETS",
    "check_targets",
    "instantiate_trusted",
    "trust_our_callbacks",
]

TRUSTED_TARGETS: Final = ("bounded_lr_resolver.build_scheduler",)
"""The targets this package ships in its configs."""

TRUSTED_CALLBACKS: Final = (
    "bounded_lr_resolver.callbacks.SaveResolvedConfig",
    "bounded_lr_resolver.callbacks.SweepPreflight",
    "bounded_lr_resolver.callbacks.SweepReport",
)
"""This package's Hydra callbacks, by the exact ``_target_`` a config names them with."""

SUPPORTS_WHITELIST: Final = "_execution_whitelist_" in inspect.signature(instantiate).parameters
"""Whether the installed Hydra's ``instantiate`` takes ``_execution_whitelist_`` (1.4 and later)."""

_WHERE = "instantiate_trusted"


def _target_name(target: object) -> str:
    if isinstance(target, str):
        return target
    module, name = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
    return f"{module}.{name}" if module and name else repr(target)


def _targets(node: Any, key: str) -> Iterator[tuple[str, str]]:
    """Every ``(key, _target_)`` in ``node`` (resolved plain data), depth first."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield key or "<root>", _target_name(node["_target_"])
        for child, value in node.items():
            yield from _targets(value, f"{key}.{child}" if key else str(child))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _targets(value, f"{key}[{index}]")


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if dataclasses.is_dataclass(value):
        return OmegaConf.to_container(OmegaConf.structured(value), resolve=True)
    return value


def check_targets(config: Any, allowed: Iterable[str], where: str = _WHERE) -> None:
    """Raise :class:`UntrustedTargetError` if ``config`` names a ``_target_`` not in ``allowed``."""
    allowed = tuple(allowed)
    for key, target in _targets(_plain(config), ""):
        if target not in allowed:
            raise bad_value(
                where,
                "_target_",
                f"one of {list(allowed)} (this package's targets and those passed in allow=)",
                {"_target_": target, "key": key},
                "Nothing was called. If you trust this target, pass allow=[...] with it from your code "
                "(never from the config)",
                kind=UntrustedTargetError,
            )


def instantiate_trusted(config: Any, *args: Any, allow: Iterable[str] = (), **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that may only call our targets and the ones in ``allow``.

    Every ``_target_`` in ``config`` and in config-valued arguments, nested ones included, is
    checked (by its exact dotted name, after interpolations are resolved) before anything is
    called, on every Hydra version.

    Args:
        config: the config node with ``_target_`` (e.g. ``cfg.scheduler``).
        *args: positional arguments for the target.
        allow: further ``_target_`` strings the config may call (from trusted code, never from
            the config itself).
        **kwargs: keyword arguments for the target, as for ``instantiate``.

    Raises:
        UntrustedTargetError: a target outside the allow-list, naming it and its key.
    """
    allowed = (*TRUSTED_TARGETS, *allow)
    for value in (config, *args, *kwargs.values()):
        check_targets(value, allowed)
    if SUPPORTS_WHITELIST:
        kwargs["_execution_whitelist_"] = list(allowed)
    return instantiate(config, *args, **kwargs)


def trust_our_callbacks() -> None:
    """Silence hydra-core 1.4's whitelist warning for this package's callbacks, and only those.

    Hydra 1.4 instantiates every ``hydra.callbacks`` entry without an execution whitelist and
    warns for each (it offers no way to pass one). Call this before ``@hydra.main`` runs when
    your config lists our callbacks; any other target, including other names under
    ``bounded_lr_resolver.callbacks``, still warns.
    """
    names = "|".join(re.escape(name) for name in TRUSTED_CALLBACKS)
    warnings.filterwarnings(
        "ignore", message=rf"hydra\.utils\.instantiate\(\) resolved _target_='(?:{names})' with no"
    )
