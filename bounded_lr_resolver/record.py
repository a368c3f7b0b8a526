"""The resolved record of a job's config: every value resolved, except what cannot be proven safe.

``resolved_config.yaml`` exists so that the concrete values a run used (the gamma, step size and
milestones our resolvers derived, and everything else) are on record. A config may also read
secrets from the environment (``api_key: ${oc.env:WANDB_API_KEY}``); Hydra's own
``.hydra/config.yaml`` keeps such interpolations as text, and so must our record.

The rule is decided on what resolving each value actually calls, not on its text. Every leaf is
resolved on its own while every resolver call goes through a guard (see
:func:`bounded_lr_resolver._compat.guarded_resolvers`): nested calls, node references (``b: ${a}``,
``${..c}``, ``Bearer ${token}``), references to references, ``oc.select``, ``oc.dict.keys`` and
``oc.dict.values``, ``oc.create`` and the nodes it makes, all reach a resolver through that guard.

- A value is written resolved when its resolution calls only resolvers known to be pure, i.e.
  functions of the config alone (:data:`PURE_RESOLVERS`): this package's own, OmegaConf's
  ``oc.create``, ``oc.decode``, ``oc.deprecated``, ``oc.select``, ``oc.dict.keys``,
  ``oc.dict.values`` (and 2.4's ``oc.coerce``), and Hydra's ``hydra``, ``now`` and
  ``python_version``, each only while the function registered under the name is the one from
  that library (a replacement under the same name is not known).
- Every other value is written as its interpolation text: one whose resolution would call
  ``oc.env`` or ``env`` (:data:`ENV_RESOLVERS`), or any resolver not on the list (an app's own
  ``${myenv:SECRET}`` may read anything). The guard refuses such a call instead of running it,
  so the secret is not even read, and an app's resolver is not run a second time.
- A value that resolves to text holding ``${`` is written escaped (``\\${``), so the record
  loads back as that same text.

What cannot be proven safe is therefore kept as text: an app's own resolvers, however pure
(register nothing for this; the record stays loadable where they exist). What this cannot see:
a literal the app put into the config from the environment itself (a structured config's default
computed from ``os.environ``, a value set by code before the job starts) is an ordinary value.
"""

from __future__ import annotations

import re
from typing import Any, Final

from omegaconf import DictConfig, ListConfig, OmegaConf

from bounded_lr_resolver import _compat

__all__ = ["ENV_RESOLVERS", "PURE_RESOLVERS", "pure_resolvers", "resolved_record", "resolved_yaml"]

ENV_RESOLVERS: Final = ("oc.env", "env")
"""Resolvers that read environment variables (``env`` is OmegaConf's legacy name): never pure."""

_OURS = "bounded_lr_resolver.resolvers"
_OC = "omegaconf.resolvers.oc"
_HYDRA = "hydra.core.utils"

PURE_RESOLVERS: Final[dict[str, str]] = {
    **dict.fromkeys(("oc.create", "oc.decode", "oc.deprecated", "oc.select", "oc.coerce"), _OC),
    **dict.fromkeys(("oc.dict.keys", "oc.dict.values"), f"{_OC}.dict"),
    **dict.fromkeys(("hydra", "now", "python_version"), _HYDRA),
}
"""Resolvers whose value depends on the config alone, by name: the module the function registered
under that name must come from. This package's own resolvers are added by :func:`pure_resolvers`."""


def pure_resolvers() -> frozenset[str]:
    """The registered resolver names known to be pure now: on the list, with the listed library's function."""
    from bounded_lr_resolver.resolvers import RESOLVERS

    expected = {**PURE_RESOLVERS, **dict.fromkeys(RESOLVERS, _OURS)}
    return frozenset(
        name
        for name, module in expected.items()
        if OmegaConf.has_resolver(name)
        and getattr(_compat.registered_function(name), "__module__", None) == module
    )


_ESCAPE = re.compile(r"(\\*)\$\{")


def _literal(value: Any) -> Any:
    """A resolved value as record data: text holding ``${`` escaped, so it loads back as that text."""
    if isinstance(value, str):
        return _ESCAPE.sub(lambda match: match.group(1) * 2 + "\\${", value)
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _record(node: Any, raw: Any, refused: list[str]) -> Any:
    """Resolve ``node`` (whose unresolved form is ``raw``) leaf by leaf; a leaf whose resolution
    reached a refused resolver keeps its text."""
    keys = list(raw) if isinstance(raw, dict) else range(len(raw))
    out = {}
    for key in keys:
        value = raw[key]
        if isinstance(value, str) and "${" in value:
            before = len(refused)
            try:
                resolved = _plain(node[key])
            except Exception:
                if len(refused) == before:
                    raise  # a real error in the config: the caller reports it
                resolved = None
            out[key] = value if len(refused) > before else _literal(resolved)
        elif isinstance(value, (dict, list)):
            out[key] = _record(node[key], value, refused)
        else:
            out[key] = value
    return out if isinstance(raw, dict) else list(out.values())


def resolved_record(config: DictConfig) -> dict[str, Any]:
    """The job's config without the ``hydra`` node, resolved except what cannot be proven safe.

    Raises OmegaConf's error where a value does not resolve for another reason (a bad value).
    """
    job = OmegaConf.masked_copy(config, [str(key) for key in config if key != "hydra"])
    raw = OmegaConf.to_container(job, resolve=False)
    pure = pure_resolvers()
    with _compat.guarded_resolvers(pure.__contains__) as refused:
        record: dict[str, Any] = _record(job, raw, refused)
    return record


def resolved_yaml(config: DictConfig) -> str:
    """:func:`resolved_record` as YAML."""
    return OmegaConf.to_yaml(resolved_record(config))
