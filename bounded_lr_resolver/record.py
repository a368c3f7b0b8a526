"""The resolved record of a job's config: every value resolved, except what reads the environment.

``resolved_config.yaml`` exists so that the concrete values a run used (the gamma, step size and
milestones our resolvers derived, and everything else) are on record. A config may also read
secrets from the environment (``api_key: ${oc.env:WANDB_API_KEY}``); Hydra's own
``.hydra/config.yaml`` keeps such interpolations as text, and so must our record. The rule:

- a value whose interpolation reads the environment (``${oc.env:...}``, also nested, e.g.
  ``${oc.decode:${oc.env:X}}``) is written as its interpolation text, not as its value;
- so is every value that refers to such a value, directly or through other keys (``b: ${a}``,
  ``step_size: ${lr_step:${.max_steps},10}`` with ``max_steps: ${oc.env:STEPS}``), and every
  reference to a node that holds one;
- everything else is written resolved.
"""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

__all__ = ["ENV_RESOLVERS", "reads_environment", "resolved_record", "resolved_yaml"]

ENV_RESOLVERS = ("oc.env", "env")
"""Resolvers that read environment variables (``env`` is OmegaConf's legacy name)."""

_ENV_CALL = re.compile(r"\$\{\s*(?:" + "|".join(re.escape(name) for name in ENV_RESOLVERS) + r")\s*:")
# ${path} with no resolver name: an interpolation of another config node (absolute or relative)
_NODE_REF = re.compile(r"\$\{\s*(\.*[^${}:\s]*)\s*\}")
_KEY = re.compile(r"[^.\[\]]+")

Path = tuple[Any, ...]


def _child(raw: Any, key: str) -> tuple[bool, Any]:
    if isinstance(raw, dict):
        return key in raw, raw.get(key)
    if isinstance(raw, list) and key.isdigit() and int(key) < len(raw):
        return True, raw[int(key)]
    return False, None


def _lookup(raw: Any, path: Path) -> tuple[bool, Any]:
    for key in path:
        found, raw = _child(raw, str(key))
        if not found:
            return False, None
    return True, raw


def _target(reference: str, at: Path) -> Path:
    """The absolute path of ``${reference}`` written in the value at path ``at``."""
    dots = len(reference) - len(reference.lstrip("."))
    keys = tuple(_KEY.findall(reference[dots:]))
    if dots == 0:
        return keys
    return at[: len(at) - dots] + keys


def reads_environment(raw: Any, path: Path, _seen: frozenset[Path] = frozenset()) -> bool:
    """Whether the value at ``path`` of the unresolved container ``raw`` depends on the environment."""
    found, value = _lookup(raw, path)
    if not found or path in _seen:
        return False
    seen = _seen | {path}
    if isinstance(value, dict):
        return any(reads_environment(raw, (*path, key), seen) for key in value)
    if isinstance(value, list):
        return any(reads_environment(raw, (*path, index), seen) for index in range(len(value)))
    if not isinstance(value, str) or "${" not in value:
        return False
    if _ENV_CALL.search(value):
        return True
    return any(reads_environment(raw, _target(ref, path), seen) for ref in _NODE_REF.findall(value))


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _record(node: Any, raw: Any, root: Any, path: Path) -> Any:
    """Resolve ``node`` (whose unresolved form is ``raw``) leaf by leaf, keeping env-reading text."""
    keys = list(raw) if isinstance(raw, dict) else range(len(raw))
    out = {}
    for key in keys:
        value, at = raw[key], (*path, key)
        if isinstance(value, str) and "${" in value:
            out[key] = value if reads_environment(root, at) else _plain(node[key])
        elif isinstance(value, (dict, list)):
            out[key] = _record(node[key], value, root, at)
        else:
            out[key] = value
    return out if isinstance(raw, dict) else list(out.values())


def resolved_record(config: DictConfig) -> dict[str, Any]:
    """The job's config without the ``hydra`` node, resolved except where it reads the environment."""
    job = OmegaConf.masked_copy(config, [str(key) for key in config if key != "hydra"])
    raw = OmegaConf.to_container(job, resolve=False)
    record: dict[str, Any] = _record(job, raw, raw, ())
    return record


def resolved_yaml(config: DictConfig) -> str:
    """:func:`resolved_record` as YAML."""
    return OmegaConf.to_yaml(resolved_record(config))
