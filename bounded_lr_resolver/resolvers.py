"""The OmegaConf resolvers and their one registration.

Two names go into every app's global resolver namespace, the two the seed's users write:
``${lr_gamma:...}`` and ``${lr_step:...}``. Everything else lives under our own namespace,
``blr.`` (as OmegaConf's own resolvers live under ``oc.``), so a name an app may use for its own
resolver (``lr_values``, ``lr_ratio``) is never taken: ``${blr.milestones:...}``,
``${blr.values:...}``, ``${blr.decay_steps:...}``, ``${blr.logspace:...}``, ``${blr.ratio:...}``,
``${blr.steps:...}`` (durations), ``${blr.derived:...}`` (what a shipped option derives), and
``${blr.gamma:...}``, ``${blr.step:...}`` again.

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

from omegaconf import DictConfig, ListConfig, OmegaConf

from bounded_lr_resolver import _compat
from bounded_lr_resolver.errors import BoundsTypeError, ResolverConflictError, bad_type, bad_value

# The math is imported on a resolver's first call, not when the plugin registers the names: Hydra
# imports the plugin in every app on the machine, most of which never resolve one of ours.

__all__ = [
    "RESOLVERS",
    "lr_decay_steps",
    "lr_derived",
    "lr_gamma",
    "lr_logspace",
    "lr_milestones",
    "lr_ratio",
    "lr_step",
    "lr_steps",
    "lr_values",
    "register_resolvers",
]


def lr_gamma(initial_lr: object, final_lr: object, n_updates: object) -> float:
    """``${lr_gamma:initial_lr,final_lr,n_updates}``: the decay factor ``(final/initial)**(1/n)``.

    >>> round(lr_gamma(0.1, 1e-4, 10000), 12)
    0.999309463003
    """
    from bounded_lr_resolver import bounds

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
    from bounded_lr_resolver import bounds

    return bounds.step_size(max_steps, n_updates, warmup_steps, final_lr_at, where="lr_step")


def lr_milestones(
    max_steps: object,
    n_updates: object,
    warmup_steps: object = 0,
    final_lr_at: object = "max_steps",
) -> list[int]:
    """``${blr.milestones:max_steps,n_updates[,warmup_steps[,final_lr_at]]}``: MultiStepLR milestones.

    >>> lr_milestones(10, 3)
    [3, 6, 10]
    """
    from bounded_lr_resolver import bounds

    return bounds.milestones(max_steps, n_updates, warmup_steps, final_lr_at, where="blr.milestones")


def lr_decay_steps(max_steps: object, warmup_steps: object = 0, final_lr_at: object = "max_steps") -> int:
    """``${blr.decay_steps:max_steps[,warmup_steps[,final_lr_at]]}``: an exponential decay's n_updates.

    >>> lr_decay_steps(1e6, 1000, "last_step")
    998999
    """
    from bounded_lr_resolver import bounds

    return bounds.decay_steps(max_steps, warmup_steps, final_lr_at, where="blr.decay_steps")


def lr_logspace(low: object, high: object, num: object, index: object) -> float:
    """``${blr.logspace:low,high,num,index}``: the index-th of num log-spaced values, exact at both ends.

    >>> lr_logspace(1e-6, 1e-3, 4, 3)
    0.001
    """
    from bounded_lr_resolver import bounds

    return bounds.logspace(low, high, num, index, where="blr.logspace")


def lr_values(initial_lr: object, final_lr: object, n_updates: object) -> list[float]:
    """``${blr.values:initial_lr,final_lr,n_updates}``: the n_updates + 1 LRs, ending exactly at final_lr.

    >>> lr_values(1.0, 0.25, 2)
    [1.0, 0.5, 0.25]
    """
    from bounded_lr_resolver import bounds

    return bounds.lr_values(initial_lr, final_lr, n_updates, where="blr.values")


def lr_ratio(initial_lr: object, final_lr: object) -> float:
    """``${blr.ratio:initial_lr,final_lr}``: ``final_lr / initial_lr``, for APIs that take a relative floor.

    >>> lr_ratio(0.1, 1e-4), lr_ratio(0.1, 0)
    (0.001, 0.0)
    """
    from bounded_lr_resolver import bounds

    return bounds.lr_ratio(initial_lr, final_lr, where="blr.ratio")


def lr_steps(length: object, per: object = None) -> int:
    """``${blr.steps:length,per}``: a length in steps; ``per`` is what its unit is counted against.

    ``per`` is ``steps_per_epoch`` for ``"3ep"``, ``max_steps`` for ``"0.1dur"`` and
    ``tokens_per_step`` for ``"2Btok"``; a plain number of steps needs none.

    >>> lr_steps("3ep", 100), lr_steps("0.1dur", 300), lr_steps("2Btok", 10**6), lr_steps(500)
    (300, 30, 2000, 500)
    """
    from bounded_lr_resolver import bounds
    from bounded_lr_resolver.durations import Context, steps_of

    where = "blr.steps"
    if per is None:
        return steps_of(where, "length", length, Context())
    size = bounds.check_count(where, "per", per)
    unit = str(length).strip()[-3:]
    context = Context(
        max_steps=size if unit == "dur" else None,
        steps_per_epoch=size if unit.endswith("ep") else None,
        tokens_per_step=size if unit == "tok" else None,
    )
    return steps_of(where, "length", length, context)


DERIVED: Final = ("gamma", "step_size", "n_updates", "milestones")
"""The keys a shipped option derives from its own declaration (``${blr.derived:<key>}``)."""


def lr_derived(key: object, *, _parent_: object = None) -> Any:
    """``${blr.derived:gamma}`` (``step_size``, ``n_updates``): derived from the node it sits in.

    The node's declaration (every key but the derived ones) is validated as ``build_scheduler``
    would, durations included, so what a shipped option shows is what the scheduler uses. With
    ``max_steps: null`` (the horizon is set at run time) it is None: the scheduler derives it when
    it is built, and the job's records show that value.
    """
    from bounded_lr_resolver.schedule import SCHEDULE_FIELDS, Schedule

    where = "blr.derived"
    if key not in DERIVED[:3]:
        raise bad_value(where, "key", f"one of {list(DERIVED[:3])}", {"key": key})
    if not isinstance(_parent_, DictConfig):
        raise bad_type(where, "the node it sits in", "a config node (a mapping)", _parent_)
    skip = {"gamma", "step_size", "milestones", key}  # what is derived, and (no cycle) the key itself
    present = set(_parent_.keys())  # not ``in``: DictConfig.__contains__ resolves the value
    fields: dict[str, Any] = {
        name: _plain(_parent_[name]) for name in SCHEDULE_FIELDS if name in present and name not in skip
    }
    if "max_steps" in fields and fields["max_steps"] is None:
        return None  # set at run time: derived when the scheduler is built
    schedule = Schedule(where=f"{where} ({key})", **fields)
    if key == "gamma":
        return schedule.gamma
    if key == "step_size":
        if schedule.step_size is None:
            raise bad_value(where, "step_size", "derived from a kind='step' node", {"kind": schedule.kind})
        return schedule.step_size
    return schedule.n_updates


def _plain(value: object) -> object:
    return (
        OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value
    )


_POSITIONAL: Final = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _arity_error(
    name: str, params: list[inspect.Parameter], least: int, args: tuple[Any, ...]
) -> BoundsTypeError:
    optional = params[least:]
    usage = ",".join(p.name for p in params[:least]) + "".join(f"[,{p.name}" for p in optional)
    usage += "]" * len(optional)
    plural = "" if least == 1 else "s"
    count = f"{least} value{plural}" if not optional else f"{least} to {len(params)} values"
    return BoundsTypeError(
        f"{name}: arguments must be {usage.replace(',', ', ')} ({count}), got arguments={list(args)!r}. "
        f"Write ${{{name}:{usage}}}"
    )


def _checked(
    name: str, function: Callable[..., Any], arity_of: Callable[..., Any] | None = None
) -> Callable[..., Any]:
    """``function`` as registered under ``name``: a wrong number of arguments is refused by name.

    OmegaConf would call ``function`` anyway and wrap Python's ``TypeError: lr_values() takes 3
    positional arguments but 1 was given``, which names our internal function, not the resolver
    the config wrote. So every registered resolver goes through this one check, of the positional
    parameters of ``arity_of`` (default ``function``). The wrapper keeps ``function``'s signature
    (OmegaConf passes ``_parent_`` and ``_node_`` by it) and is a module-level name,
    ``_resolver_<name>``, so the registry Hydra pickles to launcher workers refers to it.
    """
    params = [p for p in inspect.signature(arity_of or function).parameters.values() if p.kind in _POSITIONAL]
    least = sum(p.default is inspect.Parameter.empty for p in params)

    def resolver(*args: Any, **special: Any) -> Any:
        if not least <= len(args) <= len(params):
            raise _arity_error(name, params, least, args)
        return function(*args, **special)

    suffix = "_node" if function.__name__.endswith("_node") else ""
    resolver.__name__ = resolver.__qualname__ = f"_resolver_{name.replace('.', '_')}{suffix}"
    resolver.__module__ = __name__
    setattr(resolver, "__signature__", inspect.signature(function))  # noqa: B010 - read by OmegaConf
    globals()[resolver.__name__] = resolver
    return resolver


_FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "lr_gamma": lr_gamma,
    "lr_step": lr_step,
    "blr.gamma": lr_gamma,
    "blr.step": lr_step,
    "blr.milestones": lr_milestones,
    "blr.values": lr_values,
    "blr.decay_steps": lr_decay_steps,
    "blr.logspace": lr_logspace,
    "blr.ratio": lr_ratio,
    "blr.steps": lr_steps,
    "blr.derived": lr_derived,
}

RESOLVERS: Final[dict[str, Callable[..., Any]]] = {
    name: _checked(name, function) for name, function in _FUNCTIONS.items()
}
"""Every resolver this package registers, by name: ``lr_gamma`` and ``lr_step``, and ``blr.*``
(each function above, behind the one argument-count check of :func:`_checked`)."""

# OmegaConf 2.4 deprecates register_new_resolver; on <= 2.3 register_resolver is a legacy API.
_HAS_NEW_API: Final = "annotation_validation" in inspect.signature(OmegaConf.register_resolver).parameters


def _as_node(values: list[Any], node: object) -> list[Any] | ListConfig:
    """A list for a typed list field (cheap), a ListConfig for an untyped node: OmegaConf <= 2.3's
    ``OmegaConf.resolve()`` (which ``--cfg job --resolve`` and ``instantiate`` use) refuses a plain
    list there. A ListConfig costs about 50 microseconds an item on OmegaConf 2.3."""
    return values if isinstance(node, ListConfig) else ListConfig(values)


def _lr_milestones_node(*args: Any, _node_: object = None) -> list[Any] | ListConfig:
    """blr.milestones on OmegaConf <= 2.3 (see :func:`_as_node`)."""
    return _as_node(lr_milestones(*args), _node_)


def _lr_values_node(*args: Any, _node_: object = None) -> list[Any] | ListConfig:
    """blr.values on OmegaConf <= 2.3 (see :func:`_as_node`)."""
    return _as_node(lr_values(*args), _node_)


# Module-level functions, so that the registry Hydra carries to launcher workers (pickled by
# reference) still holds *our* functions there, and a worker's rescan sees no conflict.
_BOUND: Final[dict[str, Callable[..., Any]]] = (
    RESOLVERS
    if _HAS_NEW_API
    else {
        **RESOLVERS,
        "blr.milestones": _checked("blr.milestones", _lr_milestones_node, lr_milestones),
        "blr.values": _checked("blr.values", _lr_values_node, lr_values),
    }
)
"""What is registered under each name: the resolver itself, or on OmegaConf <= 2.3 a list-valued
resolver wrapped to return a ListConfig."""


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
        name
        for name, function in _BOUND.items()
        if OmegaConf.has_resolver(name) and _compat.registered_function(name) is not function
    ]
    if foreign and not replace and on_conflict == "raise":
        raise ResolverConflictError(
            f"register_resolvers: resolver names {foreign} must be free or ours, but another "
            "resolver is already registered under them. Rename yours, or call "
            "bounded_lr_resolver.register_resolvers(replace=True) to use ours"
        )
    skipped = [] if replace else foreign
    for name, function in _BOUND.items():
        if name not in skipped and not (
            OmegaConf.has_resolver(name) and _compat.registered_function(name) is function
        ):
            _bind(name, function)
    return skipped
