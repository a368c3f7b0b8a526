"""Hydra plugin: the ``lr_*`` resolvers, the shipped ``bounded_lr`` config group and its schemas.

Hydra imports this module in every app on the machine (and again on every plugin rescan), before
the config is composed. It therefore stays tiny: no torch, no numpy, idempotent registration, and
a resolver of the same name that the user registered first is kept, with a warning. The typed
schemas are served by a :class:`ConfigSource` that builds them only when a config asks for one,
so apps that never use our group do not pay for OmegaConf's structured-config conversion.

Everything this plugin makes visible to other apps carries our name: the group ``bounded_lr``
(placed anywhere with a package, ``bounded_lr@scheduler: step``) and ``bounded_lr_schema``, which
is not listed (``--help`` shows ``bounded_lr`` only). A group named ``scheduler`` on the global
search path broke apps with their own ``scheduler`` key or group.
"""

from __future__ import annotations

import functools
import warnings

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin

from bounded_lr_resolver.errors import ResolverConflictWarning
from bounded_lr_resolver.resolvers import register_resolvers

__all__ = ["BoundedLRSchemaSource", "BoundedLRSearchPathPlugin"]

_SCHEMA_GROUP = "bounded_lr"


@functools.cache
def _options() -> tuple[str, ...]:
    """The shipped options' names, read when an app first looks into our group (not at every scan)."""
    from bounded_lr_resolver.options import OPTIONS

    return tuple(sorted(OPTIONS))


class BoundedLRSearchPathPlugin(SearchPathPlugin):
    """Add the shipped ``bounded_lr`` group to every app's config search path (one entry)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="bounded-lr-resolver", path=f"{BoundedLRSchemaSource.scheme()}://")


class BoundedLRSchemaSource(ConfigSource):
    """Serves ``bounded_lr/<option>`` for every shipped option, each built on first use."""

    @staticmethod
    def scheme() -> str:
        return "bounded-lr-schema"

    def _name(self, config_path: str) -> str | None:
        group, _, name = self._normalize_file_name(config_path).rpartition("/")
        name = name.removesuffix(".yaml")
        return name if group == _SCHEMA_GROUP and name in _options() else None

    def load_config(self, config_path: str) -> ConfigResult:
        name = self._name(config_path)
        if name is None:
            raise ConfigLoadError(f"Config not found: {config_path}")
        from bounded_lr_resolver.schema import schema_node

        return ConfigResult(
            config=schema_node(name),
            path=f"{self.scheme()}://{self.path}",
            provider=self.provider,
            header={"package": None},
        )

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        return config_path.strip("/") in ("", _SCHEMA_GROUP)  # the root holds our one group

    def is_config(self, config_path: str) -> bool:
        return self._name(config_path) is not None

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        files: list[str] = []
        if config_path.strip("/") == "":
            self._list_add_result(files, _SCHEMA_GROUP, _SCHEMA_GROUP, results_filter)
        elif self.is_group(config_path):
            for name in _options():
                self._list_add_result(files, f"{_SCHEMA_GROUP}/{name}.yaml", f"{name}.yaml", results_filter)
        return sorted(files)


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
