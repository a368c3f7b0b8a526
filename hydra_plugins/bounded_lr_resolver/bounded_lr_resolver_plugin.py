"""Hydra plugin: register the ``lr_*`` resolvers and the shipped ``scheduler`` config group and schemas.

Hydra imports this module in every app on the machine (and again on every plugin rescan), before
the config is composed. It therefore stays tiny: no torch, no numpy, idempotent registration, and
a resolver of the same name that the user registered first is kept, with a warning.
"""

from __future__ import annotations

import warnings

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from bounded_lr_resolver.errors import ResolverConflictWarning
from bounded_lr_resolver.resolvers import register_resolvers
from bounded_lr_resolver.schema import register_schemas

__all__ = ["BoundedLRSearchPathPlugin"]


class BoundedLRSearchPathPlugin(SearchPathPlugin):
    """Append ``pkg://bounded_lr_resolver/conf`` so ``scheduler: bounded_step`` works in any app."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="bounded-lr-resolver", path="pkg://bounded_lr_resolver/conf")


def _register() -> None:
    skipped = register_resolvers(on_conflict="skip")
    if skipped:
        warnings.warn(
            f"bounded-lr-resolver: kept the resolvers {skipped} that were registered before this "
            "plugin loaded; ours are not available under those names. Rename yours, or call "
            "bounded_lr_resolver.register_resolvers(replace=True) to use ours",
            ResolverConflictWarning,
            stacklevel=2,
        )


_register()
register_schemas()
