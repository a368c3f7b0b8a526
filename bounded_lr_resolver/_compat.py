"""The private internals of Hydra, OmegaConf and torch this package relies on, fenced in one place.

Each item says what it reaches, why there is no public alternative, and the versions it is known
to work with; ``tests/test_compat.py`` fails loudly when one of them moves. Nothing else in the
package touches a private name of another library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "ResolverRefused",
    "guarded_resolvers",
    "hydra_node_key",
    "job_error",
    "registered_function",
    "split_sweep",
    "version",
]


def version(tensor: Any) -> int:
    """A tensor's version counter, bumped by every in-place write (``tensor._version``).

    Lets the scheduler see an outside change to a tensor LR without reading the tensor (which
    would sync a device). torch has no public accessor. Known: torch 2.2 to 2.13.
    """
    counter: int = tensor._version  # noqa: SLF001 - fenced here
    return counter


def registered_function(name: str) -> object:
    """The function registered as OmegaConf resolver ``name`` (unwrapped from OmegaConf's closure), or None.

    OmegaConf keeps resolvers in ``BaseContainer._resolvers`` as a closure around the registered
    function and offers ``has_resolver`` but no getter. Telling our resolvers from another
    library's under the same name needs the function itself, also in launcher workers, where
    Hydra restores the registry from the launching process (so no record of ours would be there).
    Known: omegaconf 2.1 to 2.4 (the closure's cell is named ``resolver``).
    """
    from omegaconf import OmegaConf

    wrapper = OmegaConf._get_resolver(name)  # noqa: SLF001 - fenced here
    if wrapper is None:
        return None
    code = getattr(wrapper, "__code__", None)  # anything callable may have been written there
    closure = getattr(wrapper, "__closure__", None) or ()
    cell = dict(zip(code.co_freevars, closure, strict=True)).get("resolver") if code else None
    return wrapper if cell is None else cell.cell_contents


class ResolverRefused(Exception):
    """Raised in place of a resolver call that :func:`guarded_resolvers` does not allow."""


@contextmanager
def guarded_resolvers(allowed: Callable[[str], bool]) -> Iterator[list[str]]:
    """While open, every resolver call goes through a guard; yields the names it refused, in order.

    A call to a registered resolver whose name ``allowed`` rejects appends the name to the yielded
    list and raises :class:`ResolverRefused` instead of running the resolver (OmegaConf wraps that
    in its ``InterpolationResolutionError``); an allowed call runs as usual. Every way OmegaConf
    reaches a resolver (nested in arguments, through a node reference, ``oc.select``, ``oc.dict.*``,
    ``oc.create``, ``to_container``) looks it up in the one registry, so each goes through the guard.

    OmegaConf offers no hook for this: the registry ``BaseContainer._resolvers`` (name to wrapper,
    called as ``wrapper(root, parent, node, args, args_str)``) is patched in place, and on exit,
    also on error, each name still holding our guard gets its own wrapper back, so the registry is
    exactly as before (a name someone registers meanwhile is kept, unguarded). The registry is
    process-global: another thread resolving while this is open goes through the guard too.
    Known: omegaconf 2.1 to 2.4.
    """
    from omegaconf.basecontainer import BaseContainer

    registry: dict[str, Any] = BaseContainer._resolvers  # noqa: SLF001 - fenced here
    refused: list[str] = []

    def guard(name: str, wrapper: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not allowed(name):
                refused.append(name)
                raise ResolverRefused(name)
            return wrapper(*args, **kwargs)

        return guarded

    originals = dict(registry)
    guards = {name: guard(name, wrapper) for name, wrapper in originals.items()}
    try:
        registry.update(guards)
        yield refused
    finally:
        for name, guarded in guards.items():
            if registry.get(name) is guarded:
                registry[name] = originals[name]


def hydra_node_key() -> str | None:
    """The config key of the node Hydra is instantiating (or whose ``_partial_`` is being called), or None.

    ``instantiate`` calls a target from ``_call_target(..., full_key, ...)``, and a partial it returns
    (``_DeferredTarget``, a ``functools.partial``) calls its function from its own method, holding
    the key as ``_hydra_full_key``; neither passes the key to the function, and there is no public
    getter. So the first calling frame outside this package is read, if it is Hydra's: its
    ``full_key`` local, or the ``_hydra_full_key`` of its ``self``. None for any other caller (a
    direct call, also one made inside another target Hydra instantiates) and at the config root.
    Known: hydra-core 1.3.8 and 1.4.0rc3.
    """
    import functools
    import sys

    frame = sys._getframe(1)  # noqa: SLF001 - fenced here
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("bounded_lr_resolver"):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None or not str(frame.f_globals.get("__name__", "")).startswith("hydra."):
        return None  # our caller is not Hydra (a direct call, maybe inside another instantiated target)
    owner = frame.f_locals.get("self")
    held = owner.__dict__.get("_hydra_full_key") if isinstance(owner, functools.partial) else None
    key = held if isinstance(held, str) else frame.f_locals.get("full_key")
    return key if isinstance(key, str) and key else None


def split_sweep(overrides: Any) -> list[list[list[str]]]:
    """The jobs Hydra's basic sweeper launches for parsed ``overrides``, in batches, in its order.

    ``BasicSweeper.split_arguments`` (a static method of an internal plugin) is the expansion the
    sweeper itself runs; reproducing it would drift. Known: hydra-core 1.3.2 to 1.4.0rc3.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper  # fenced here

    batches: list[list[list[str]]] = BasicSweeper.split_arguments(overrides, None)
    return batches


def job_error(job_return: Any) -> BaseException | None:
    """The exception a failed Hydra job raised (``JobReturn._return_value``), or None.

    The public ``JobReturn.return_value`` re-raises it and first writes "Error executing job ..."
    to stderr, which a callback must not do for every failed job. Known: hydra-core 1.1 to 1.4.0rc3.
    """
    error = getattr(job_return, "_return_value", None)
    return error if isinstance(error, BaseException) else None
