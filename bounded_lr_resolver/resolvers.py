"""The OmegaConf resolvers (``lr_gamma``, ``lr_step``, ``lr_milestones``, ...) and their one registration.

The resolvers are thin, typed wrappers over :mod:`bounded_lr_resolver.bounds`: they validate
every argument (raising this package's errors, which OmegaConf wraps and shows with the config
key) and never cache, because Hydra copies resolver caches between sweep jobs.

:func:`register_resolvers` is the only place names are bound. It is safe to call any number of
times and never replaces a resolver of the same name that someone else registered.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final, Literal

from omegaconf import ListConfig, OmegaConf

from bounded_lr_resolver import bounds
from bounded_lr_resolver.errors import ResolverConflictError, bad_value

__all__ = [
    "RESOLVERS",
    "lr_decay_steps",
    "lr_gamma",
    "lr_logspace",
    "lr_milestones",
    "lr_ratio",
    "lr_step",
    "lr_values",
    "register_resolvers",
]


def lr_gamma(initial_lr: object, final_lr: object, n_updates: object) -> float:
    """``${lr_gamma:initial_lr,final_lr,n_updates}``: the decay factor ``(final/initial)**(1/n)``.

    >>> round(lr_gamma(0.1, 1e-4, 10000), 12)
    0.999309463003
    """
    return bounds.gamma(initial_lr, final_lr, n_updates, where="lr_gamma")


def lr_step(
    max_steps: object,
    n_updates: object,
    warmup_steps: object = 0,
    final_lr_at: object = "max_steps",
) -> int:
    """``${lr_step:max_steps,n_updates[,warmup_steps[,final_lr_at]]}``: StepLR's step_size, an int.

    >>> lr_step(1e6, 1e4)
    100
    """
    return bounds.step_size(max_steps, n_updates, warmup_steps, final_lr_at, where="lr_step")


def lr_milestones(
    max_steps: object,
    n_updates: object,
    warmup_steps: object = 0,
    final_lr_at: object = "max_steps",
) -> list[int]:
    """``${lr_milestones:max_steps,n_updates[,warmup_steps[,final_lr_at]]}``: MultiStepLR milestones.

    >>> lr_milestones(10, 3)
    [3, 6, 10]
    """
    return bounds.milestones(max_steps, n_updates, warmup_steps, final_lr_at, where="lr_milestones")


def lr_decay_steps(max_steps: object, warmup_steps: object = 0, final_lr_at: object = "max_steps") -> int:
    """``${lr_decay_steps:max_steps[,warmup_steps[,final_lr_at]]}``: an exponential decay's n_updates.

    One decay per step after warmup (one less with ``final_lr_at=last_step``).

    >>> lr_decay_steps(1e6, 1000, "last_step")
    998999
    """
    return bounds.decay_steps(max_steps, warmup_steps, final_lr_at, where="lr_decay_steps")


def lr_logspace(low: object, high: object, num: object, index: object) -> float:
    """``${lr_logspace:low,high,num,index}``: the index-th of num log-spaced values, exact at both ends.

    >>> lr_logspace(1e-6, 1e-3, 4, 3)
    0.001
    """
    return bounds.logspace(low, high, num, index, where="lr_logspace")


def lr_values(initial_lr: object, final_lr: object, n_updates: object) -> list[float]:
    """``${lr_values:initial_lr,final_lr,n_updates}``: the n_updates + 1 LRs, ending exactly at final_lr.

    >>> lr_values(1.0, 0.25, 2)
    [1.0, 0.5, 0.25]
    """
    return bounds.lr_values(initial_lr, final_lr, n_updates, where="lr_values")


def lr_ratio(initial_lr: object, final_lr: object) -> float:
    """``${lr_ratio:initial_lr,final_lr}``: ``final_lr / initial_lr``, for APIs that take a relative floor.

    >>> lr_ratio(0.1, 1e-4)
    0.001
    """
    return bounds.lr_ratio(initial_lr, final_lr, where="lr_ratio")


RESOLVERS: Final[dict[str, Callable[..., Any]]] = {
    "lr_gamma": lr_gamma,
    "lr_step": lr_step,
    "lr_milestones": lr_milestones,
    "lr_values": lr_values,
    "lr_decay_steps": lr_decay_steps,
    "lr_logspace": lr_logspace,
    "lr_ratio": lr_ratio,
}
"""Every resolver this package registers, by name."""

# OmegaConf 2.4 deprecates register_new_resolver; on <= 2.3 register_resolver is a legacy API.
_HAS_NEW_API: Final = "annotation_validation" in inspect.signature(OmegaConf.register_resolver).parameters


def _as_node(values: list[Any], node: object) -> list[Any] | ListConfig:
    """A list for a typed list field (cheap), a ListConfig for an untyped node: OmegaConf <= 2.3's
    ``OmegaConf.resolve()`` (which ``--cfg job --resolve`` and ``instantiate`` use) refuses a plain
    list there. Building a ListConfig for a typed field would make every compose pay for its nodes."""
    return values if isinstance(node, ListConfig) else ListConfig(values)


def _lr_milestones_node(*args: Any, _node_: object = None) -> list[Any] | ListConfig:
    """lr_milestones on OmegaConf <= 2.3 (see :func:`_as_node`)."""
    return _as_node(lr_milestones(*args), _node_)


def _lr_values_node(*args: Any, _node_: object = None) -> list[Any] | ListConfig:
    """lr_values on OmegaConf <= 2.3 (see :func:`_as_node`)."""
    return _as_node(lr_values(*args), _node_)


# Module-level functions, so that the registry Hydra carries to launcher workers (pickled by
# reference) still holds *our* functions there, and a worker's rescan sees no conflict.
_BOUND: Final[dict[str, Callable[..., Any]]] = (
    RESOLVERS
    if _HAS_NEW_API
    else {**RESOLVERS, "lr_milestones": _lr_milestones_node, "lr_values": _lr_values_node}
)
"""What is registered under each name: the resolver itself, or on OmegaConf <= 2.3 a list-valued
resolver wrapped to return a ListConfig."""


def _registered_function(name: str) -> object:
    """The function behind the resolver ``name`` (unwrapped from OmegaConf's closure), or None."""
    wrapper = OmegaConf._get_resolver(name)  # noqa: SLF001 - no public getter exists
    if wrapper is None:
        return None
    code = getattr(wrapper, "__code__", None)  # anything callable may have been written there
    closure = getattr(wrapper, "__closure__", None) or ()
    cell = dict(zip(code.co_freevars, closure, strict=True)).get("resolver") if code else None
    return wrapper if cell is None else cell.cell_contents


def _bind(name: str, function: Callable[..., Any]) -> None:
    if _HAS_NEW_API:
        OmegaConf.register_resolver(  # type: ignore[call-arg, unused-ignore]
            name, function, replace=True, use_cache=False, annotation_validation="off"
        )
    else:
        OmegaConf.register_new_resolver(name, function, replace=True, use_cache=False)


def register_resolvers(
    *, replace: bool = False, on_conflict: Literal["raise", "skip"] = "raise"
) -> list[str]:
    """Register every resolver in :data:`RESOLVERS` with OmegaConf.

    Calling it again is a no-op. A resolver of the same name registered by someone else is a
    conflict: it is replaced only with ``replace=True``; otherwise ``on_conflict="raise"``
    raises :class:`~bounded_lr_resolver.errors.ResolverConflictError` before anything is
    registered, and ``on_conflict="skip"`` registers the other names and leaves it in place.

    Returns:
        The names that were skipped because of a conflict (empty unless ``on_conflict="skip"``).
    """
    if on_conflict not in ("raise", "skip"):
        rule = "one of ['raise', 'skip']"
        raise bad_value("register_resolvers", "on_conflict", rule, {"on_conflict": on_conflict})
    foreign = [
        name for name, function in _BOUND.items() if _registered_function(name) not in (None, function)
    ]
    if foreign and not replace and on_conflict == "raise":
        raise ResolverConflictError(
            f"register_resolvers: resolver names {foreign} must be free or ours, but another "
            "resolver is already registered under them. Rename yours, or call "
            "bounded_lr_resolver.register_resolvers(replace=True) to use ours"
        )
    skipped = [] if replace else foreign
    for name, function in _BOUND.items():
        if name not in skipped and _registered_function(name) is not function:
            _bind(name, function)
    return skipped
