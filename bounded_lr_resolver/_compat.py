"""The private internals of Hydra, OmegaConf and torch this package relies on, fenced in one place.

Each item says what it reaches, why there is no public alternative, and the versions it is known
to work with; ``tests/test_compat.py`` fails loudly when one of them moves. Nothing else in the
package touches a private name of another library.
"""

from __future__ import annotations

from typing import Any

__all__ = ["job_error", "registered_function", "split_sweep", "version"]


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
