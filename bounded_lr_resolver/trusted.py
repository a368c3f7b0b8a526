"""Instantiate ``_target_`` s from configs only where trusted code allows them, on every Hydra version.

:func:`instantiate_trusted` resolves the config's interpolations once, checks every ``_target_``
in that resolved config (nested ones too) against an allow-list *before* Hydra calls anything,
and hands Hydra exactly what it checked, so nothing is resolved again (a resolver whose value
changes between two calls cannot swap the target after the check). It raises
:class:`~bounded_lr_resolver.errors.UntrustedTargetError` naming the refused target and where it
sits. hydra-core 1.3 has no execution whitelist of its own, so without this check a config could
call anything (``builtins.open`` truncating a file); on hydra-core 1.4 the same list is also
passed as ``_execution_whitelist_``, so Hydra enforces it too and does not warn.

:func:`trust_our_callbacks` silences hydra-core 1.4's whitelist warning for this package's
callback classes, by their exact names and nothing else. It adds one entry to Python's
process-wide warning filters (``warnings.filters``), as ``warnings.filterwarnings`` does; that
entry must be in place when Hydra instantiates the callbacks inside ``@hydra.main``, after the
caller's own code has returned, so it cannot be scoped to a ``with`` block, and it stays for the
rest of the process. It matches only those three exact names; calling it again adds nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Final

from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from bounded_lr_resolver import _compat
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


def _holds_config(value: Any) -> bool:
    """Whether Hydra would treat ``value`` (an argument) as config: resolve it, instantiate its targets."""
    if isinstance(value, (DictConfig, ListConfig)) or dataclasses.is_dataclass(value):
        return True
    if isinstance(value, dict):
        return any(_holds_config(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_config(item) for item in value)
    return isinstance(value, str) and "${" in value


def _prepared(value: Any) -> Any:
    """A plain dict or list with callable ``_target_`` s named by their dotted name, as Hydra does."""
    if isinstance(value, dict):
        return {
            key: _target_name(item) if key == "_target_" else _prepared(item) for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_prepared(item) for item in value]
    return value


def _settled(value: Any) -> Any:
    """``value`` with its interpolations resolved, once: a config as a resolved copy, else itself.

    A ``DictConfig`` or ``ListConfig`` is copied (the copy keeps its parent, so absolute
    interpolations resolve as in the original) and resolved in place; a structured config, dict or
    list holding config becomes one first, as Hydra's ``instantiate`` would make it. Anything else
    (an optimizer, a list of tensors) is passed through untouched.
    """
    if isinstance(value, (DictConfig, ListConfig)):
        node = copy.deepcopy(value)
    elif dataclasses.is_dataclass(value) or (isinstance(value, (dict, list, tuple)) and _holds_config(value)):
        node = OmegaConf.structured(_prepared(value), flags={"allow_objects": True})
    else:
        return value
    OmegaConf.set_readonly(node, False)
    OmegaConf.resolve(node)
    return node


def _interpolations(node: Any, key: str) -> Iterator[tuple[str, str]]:
    """Every ``(key, text)`` in ``node`` (unresolved plain data) that Hydra would resolve."""
    if isinstance(node, str) and "${" in node:
        yield key or "<root>", node
    elif isinstance(node, dict):
        for child, value in node.items():
            yield from _interpolations(value, f"{key}.{child}" if key else str(child))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _interpolations(value, f"{key}[{index}]")


def _check_settled(value: Any, allowed: tuple[str, ...]) -> None:
    """Check a :func:`_settled` value without resolving anything again."""
    if isinstance(value, (DictConfig, ListConfig)):
        raw = OmegaConf.to_container(value, resolve=False)
    elif isinstance(value, (dict, list, tuple, str)):
        raw = _prepared(value)  # a text argument holding '${' is refused: Hydra would resolve it later
    else:
        return
    check_targets(raw, allowed)
    for key, text in _interpolations(raw, ""):
        raise bad_value(
            _WHERE,
            "value",
            "resolved text without '${' (Hydra's instantiate would resolve it again, after the check)",
            {"key": key, "value": text},
            "Nothing was called. Have the resolver return the value itself, not an interpolation",
            kind=UntrustedTargetError,
        )


def check_targets(config: Any, allowed: Iterable[str], where: str = _WHERE) -> None:
    """Raise :class:`UntrustedTargetError` if ``config`` names a ``_target_`` not in ``allowed``.

    A config with interpolations is resolved for the check; :func:`instantiate_trusted` checks
    a resolved copy and instantiates that copy.
    """
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

    ``config`` and every config-valued argument are resolved once (see :func:`_settled`); every
    ``_target_`` in them, nested ones included, is checked by its exact dotted name before
    anything is called, on every Hydra version; and Hydra instantiates exactly those resolved
    copies, so no resolver runs between the check and the call. A value that resolves to text
    holding ``${`` is refused (Hydra would resolve it again), and so is a text argument holding
    ``${``. Interpolations in a plain dict or list argument resolve within that argument (Hydra
    resolves keyword arguments after merging them into the config).

    Args:
        config: the config node with ``_target_`` (e.g. ``cfg.scheduler``).
        *args: positional arguments for the target.
        allow: further ``_target_`` strings the config may call (from trusted code, never from
            the config itself).
        **kwargs: keyword arguments for the target, as for ``instantiate``.

    Raises:
        UntrustedTargetError: a target outside the allow-list, naming it and its key, or a value
            that resolves to an interpolation.
    """
    allowed = (*TRUSTED_TARGETS, *allow)
    config = _settled(config)
    args = tuple(_settled(value) for value in args)
    kwargs = {name: _settled(value) for name, value in kwargs.items()}
    for value in (config, *args, *kwargs.values()):
        _check_settled(value, allowed)
    if SUPPORTS_WHITELIST:
        kwargs["_execution_whitelist_"] = list(allowed)
    return instantiate(config, *args, **kwargs)


def trust_our_callbacks() -> None:
    """Silence hydra-core 1.4's whitelist warning for this package's callbacks, and only those.

    Hydra 1.4 instantiates every ``hydra.callbacks`` entry without an execution whitelist and
    warns for each (it offers no way to pass one). Call this before ``@hydra.main`` runs when
    your config lists our callbacks; any other target, including other names under
    ``bounded_lr_resolver.callbacks``, still warns. The filter is process-wide and stays (see the
    module docstring); calling this again adds nothing.
    """
    warnings.filterwarnings("ignore", message=_compat.whitelist_warning(TRUSTED_CALLBACKS))
