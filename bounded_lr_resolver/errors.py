"""The package's one error policy: exception types and the message format.

Every bad input raises one of these. Each subclasses both :class:`BoundedLRError`
(catch everything from this package) and the matching builtin (``ValueError`` or
``TypeError``), so existing ``except ValueError`` blocks keep working.

Messages always read ``<where>: <argument> must be <rule>, got <argument>=<value>``,
optionally followed by a hint that says how to fix it.
"""

from __future__ import annotations

__all__ = [
    "BoundedLRError",
    "BoundsError",
    "BoundsTypeError",
    "MissingExtraError",
    "ResolverConflictError",
    "ResolverConflictWarning",
    "ResumeMismatchError",
    "StepCountWarning",
    "UntrustedTargetError",
    "bad_type",
    "bad_value",
    "missing_extra",
    "package_error",
]


class BoundedLRError(Exception):
    """Base class of every error this package raises."""


class BoundsError(BoundedLRError, ValueError):
    """A value is of the right type but breaks a rule (range, ordering, divisibility)."""


class BoundsTypeError(BoundedLRError, TypeError):
    """A value has the wrong type (text, bool, None or a list where a number belongs)."""


class MissingExtraError(BoundedLRError, ModuleNotFoundError):
    """What was called needs an optional dependency that is not installed; the message names the extra.

    The base install (``pip install bounded-lr-resolver``) is the resolvers, the plugin and the
    shipped config group. The scheduler needs ``[torch]``, pictures ``[plot]``, the main job ``[cli]``.
    """


class ResolverConflictError(BoundedLRError, ValueError):
    """A different resolver is already registered under one of our names."""


class ResolverConflictWarning(UserWarning):
    """The Hydra plugin kept a resolver that was registered under one of our names before it loaded."""


class StepCountWarning(UserWarning):
    """``scheduler.step()`` was called clearly more often than ``optimizer.step()`` (once each, please)."""


class ResumeMismatchError(BoundedLRError, ValueError):
    """A scheduler checkpoint was saved under different bounds than the config declares."""


class UntrustedTargetError(BoundsError):
    """``instantiate_trusted`` found a ``_target_`` outside its allow-list (nothing was called)."""


def _format(where: str, name: str, rule: str, got: dict[str, object], hint: str | None) -> str:
    shown = ", ".join(f"{key}={value!r}" for key, value in got.items())
    message = f"{where}: {name} must be {rule}, got {shown}"
    return f"{message}. {hint}" if hint else message


def bad_value(
    where: str,
    name: str,
    rule: str,
    got: dict[str, object],
    hint: str | None = None,
    kind: type[BoundsError] = BoundsError,
) -> BoundsError:
    """Build (not raise) a :class:`BoundsError` (or the subclass ``kind``) in the package's format."""
    return kind(_format(where, name, rule, got, hint))


def bad_type(
    where: str,
    name: str,
    rule: str,
    value: object,
    hint: str | None = None,
) -> BoundsTypeError:
    """Build (not raise) a :class:`BoundsTypeError` naming the received type."""
    got: dict[str, object] = {name: value}
    message = _format(where, name, rule, got, None) + f" ({type(value).__name__})"
    return BoundsTypeError(f"{message}. {hint}" if hint else message)


EXTRAS = {"torch": "torch", "numpy": "torch", "matplotlib": "plot", "tqdm": "cli"}
"""The extra that brings each optional module (numpy comes with ``[torch]``, ``[plot]`` and ``[cli]``)."""


def missing_extra(error: ModuleNotFoundError, needed_by: str, extra: str | None = None) -> BaseException:
    """Our error for an optional import that failed (``error`` itself when another module is missing).

    ``needed_by`` says what needs it (``"build_scheduler and BoundedLR"``); ``extra`` overrides
    the extra named in the hint (the main job's is ``cli``).
    """
    module = (error.name or "").partition(".")[0]
    if module not in EXTRAS:
        return error
    return MissingExtraError(
        f"{needed_by} needs {module}, which is not installed here: "
        f"pip install 'bounded-lr-resolver[{extra or EXTRAS[module]}]' (or pip install {module})",
        name=module,
    )


def package_error(error: BaseException) -> tuple[BoundedLRError | None, str | None]:
    """This package's error inside ``error`` (OmegaConf and Hydra wrap it), and the config key
    (``full_key``) the first wrapper on the way names; ``(None, key)`` if there is none."""
    key = None
    seen: BaseException | None = error
    while seen is not None:
        named = getattr(seen, "full_key", None)  # OmegaConf's errors carry the config key
        key = key or (str(named) if named else None)
        if isinstance(seen, BoundedLRError):
            return seen, key
        seen = seen.__cause__ or seen.__context__
    return None, key
