"""The private internals of Hydra, OmegaConf and torch this package relies on, fenced in one place.

Each item says what it reaches, why there is no public alternative, and the versions it is known
to work with; ``tests/test_compat.py`` fails loudly when one of them moves. Nothing else in the
package or its tests touches a private name of another library, except the torch scheduler
hooks ``BoundedLR`` inherits as a subclass (listed in :data:`TORCH_SCHEDULER_PRIVATES`), and
nothing outside this module names any of :data:`FENCED` (``tests/test_compat.py`` greps for them).
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final

__all__ = [
    "FENCED",
    "TORCH_SCHEDULER_PRIVATES",
    "ResolverRefused",
    "guarded_resolvers",
    "hydra_node_key",
    "job_error",
    "registered_function",
    "split_sweep",
    "version",
    "whitelist_warning",
]

FENCED: Final = (
    r"_internal",
    r"\._get_resolver",
    r"co_freevars",
    r"_return_value",
    r"\.repository",
    r"\._version\b",
)
"""Patterns found nowhere in the package, its plugin or its tests outside this module: Hydra's
``hydra._internal``, OmegaConf's resolver getter and closure, ``JobReturn``'s private field, the
config repository behind ``GlobalHydra``, a tensor's version counter."""

TORCH_SCHEDULER_PRIVATES: Final = {
    "_initial_step": "LRScheduler.__init__ calls it: sets _step_count = 0 and takes the first step()",
    "_update_lr": (
        "LRScheduler.step calls _update_lr(epoch) after counting the step, to compute and write the "
        "LRs; BoundedLR overrides it with its closed-form write (torch's zips the groups strictly "
        "and knows no group added later)"
    ),
    "_get_closed_form_lr": "torch's _update_lr calls it for step(epoch); BoundedLR defines it as get_lr",
    "_step_count": (
        "LRScheduler.step counts its calls there and gives its call-order warnings at 1; BoundedLR "
        "reads it (the first step goes through torch's step), counts its own short-path steps in "
        "it and saves it in state_dict, as torch does"
    ),
    "_last_lr": "what torch's get_last_lr returns; BoundedLR writes it after each write and saves it",
}
"""The private names of torch's ``LRScheduler`` that :class:`~bounded_lr_resolver.scheduler.BoundedLR`
overrides, reads or writes, and what each is for (torch has no public hook to write the LRs of a
step). They are used as attributes of ``self`` in ``scheduler.py``, so they are listed here rather
than wrapped. Known: torch 2.13.0 (older torch updates the LRs inline in ``step``, without
``_update_lr``); ``tests/test_compat.py`` runs torch's own ``LRScheduler`` through each of them.
"""


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
    if not isinstance(wrapper, types.FunctionType):  # None, or anything callable written there
        return wrapper
    cells = dict(zip(wrapper.__code__.co_freevars, wrapper.__closure__ or (), strict=True))
    cell = cells.get("resolver")
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
    from hydra.core.utils import JobReturn

    if not isinstance(job_return, JobReturn):
        return None
    error = job_return._return_value  # noqa: SLF001 - fenced here
    return error if isinstance(error, BaseException) else None


def whitelist_warning(targets: Iterable[str]) -> str:
    """A ``warnings.filterwarnings`` message pattern: Hydra's missing-whitelist warning, ``targets`` only.

    hydra-core 1.4 warns (a plain ``UserWarning``) for every ``_target_`` instantiated without an
    ``_execution_whitelist_``, among them each ``hydra.callbacks`` entry, for which it offers no
    way to pass one. Neither the warning's category nor anything public tells it apart, so its
    text is matched: it starts ``hydra.utils.instantiate() resolved _target_='<target>' with no``.
    The pattern matches each exact name in ``targets`` and nothing longer or shorter.
    Known: hydra-core 1.4.0rc3 (1.3 has no such warning).
    """
    names = "|".join(re.escape(name) for name in targets)
    return rf"hydra\.utils\.instantiate\(\) resolved _target_='(?:{names})' with no"
