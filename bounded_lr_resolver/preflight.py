"""Check every job of a sweep before any of them starts: :class:`SweepPreflight`, a Hydra callback.

A sweep over bounds (``-m scheduler.final_lr=1e-3,0.5,1e-5``) that holds one bad value fails hours
in, after the good jobs ran, or on a cluster after the submission. ``SweepPreflight`` expands the
sweep the way Hydra's basic sweeper does (lists, ``range``, ``choice``, ``glob``), composes every
job's config with Hydra's own config loader, and resolves what this package derives: every
``${lr_*:...}`` and ``${blr.*:...}`` interpolation, and every
``bounded_lr_resolver.build_scheduler`` node (its derived keys checked against its bounds, as the
scheduler would), and a ``bounded-lr`` job's own keys. If any job is bad it prints one table of
every bad job (its number, the overrides that tell it from the other jobs, and its error) and stops
the sweep before anything is launched: no job folder, no submission. Hydra turns a callback's
exception into a warning, so it stops the sweep by exiting with status 1.

Composing is what costs (tens of milliseconds a job), so jobs that differ only in value overrides
(``scheduler.final_lr=...``, ``+i=3``; not config group choices) share one composed base: each job
is a copy of it with its values set as Hydra sets them (``OmegaConf.update(..., merge=True)``). A
job that fails that way is composed in full before it is called bad, so the error shown is Hydra's
own.

A job that names a checkpoint (``ckpt_path``, the main job's ``resume_from``; see
``checkpoint_keys``) is checked against it as loading it would be: a resume under changed bounds
refused or re-planned, a cooldown branch planned from it (:mod:`bounded_lr_resolver.branch`:
the checkpoint exists and loads, its step is in the stable run's hold, the cooldown fits and
falls). What only run time can tell is never passed silently: a horizon (``max_steps: null``)
without ``expected_max_steps``, a peak taken from the optimizer, a cooldown with no checkpoint
named, are listed per job as not checked (the sweep goes on).

Sweepers that sample as they go (Optuna) cannot be expanded in advance: for those, the base
config (the command line's non-sweep overrides) is checked, and each sampled job is checked by
the job itself.

Add it to an app's config (the ``bounded-lr`` job has it on by default), before other callbacks::

    hydra:
      callbacks:
        preflight:
          _target_: bounded_lr_resolver.callbacks.SweepPreflight
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from typing import Any

from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

from bounded_lr_resolver.errors import package_error
from bounded_lr_resolver.sweep import expected_jobs

__all__ = ["SweepPreflight", "check_job_config", "shared"]

_TARGET = "bounded_lr_resolver.build_scheduler"


def _paths(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every ``(dotted path, unresolved value)`` below ``node`` that this package derives or builds."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        if node.get("_target_") == _TARGET:
            return [(path, node)]
        for key, value in node.items():
            found += _paths(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, f"{path}[{index}]")
    elif isinstance(node, str) and ("${lr_" in node or "${blr." in node):
        found.append((path, node))
    return found


CHECKPOINT_KEYS = ("ckpt_path", "resume_from")
"""Where a job's config names the checkpoint it resumes or branches from (lightning-hydra-template's
``ckpt_path``, the main job's ``resume_from``), by default."""


def check_job_config(config: DictConfig, checkpoint_keys: tuple[str, ...] = CHECKPOINT_KEYS) -> list[str]:
    """Resolve every ``${lr_*}`` and ``${blr.*}`` value and check every ``build_scheduler`` node of a job;
    a ``bounded-lr`` job's own keys too (:func:`~bounded_lr_resolver.job_schema.check_job`).

    A job whose config names a checkpoint (the first of ``checkpoint_keys`` that is set) is checked
    against it as loading would be (a resume refused or re-planned, a cooldown branch planned:
    :func:`~bounded_lr_resolver.ckpt_file.check_resume`). Returns what could not be checked, one
    line each: a horizon or peak left to run time without ``expected_max_steps``, a cooldown
    without a checkpoint to plan it from.
    """
    from bounded_lr_resolver.ckpt_file import check_resume
    from bounded_lr_resolver.derived import declared
    from bounded_lr_resolver.job_schema import JobConf, check_job

    raw = OmegaConf.to_container(config, resolve=False)
    notes: list[str] = []
    key = next((name for name in checkpoint_keys if OmegaConf.select(config, name, default=None)), None)
    for path, value in _paths(raw):
        if isinstance(value, dict):  # a scheduler node: built without an optimizer, derived keys checked
            node = OmegaConf.select(config, path)
            fields = OmegaConf.to_container(node, resolve=True)
            assert isinstance(fields, dict)
            values = {str(k): v for k, v in fields.items() if not str(k).startswith("_")}
            declared(values)
            notes += _unchecked(path or "<root>", values, key, checkpoint_keys)
            if key is not None:
                note = check_resume(OmegaConf.select(config, key), values, f"{path} from {key}", key)
                notes += [f"{path or '<root>'}: {note}"] if note else []
        else:
            resolved = OmegaConf.select(config, path, throw_on_resolution_failure=True)
            if isinstance(resolved, (DictConfig, ListConfig)):
                OmegaConf.to_container(resolved, resolve=True)
    if OmegaConf.get_type(config) is JobConf:
        check_job(config)
    return notes


def _unchecked(path: str, values: dict[str, Any], key: str | None, keys: tuple[str, ...]) -> list[str]:
    """What a scheduler node leaves to run time that the preflight cannot check, one line each."""
    late = [name for name in ("initial_lr", "max_steps") if values.get(name) is None]
    if values.get("kind") == "constant" or values.get("expected_max_steps") is not None:
        late = [name for name in late if name != "max_steps"]  # open-ended, or checked against it
    notes = []
    if late:
        notes.append(
            f"{path}: {' and '.join(late)} set at run time, not checked"
            + (f" (declare {path}.expected_max_steps to check the horizon)" if "max_steps" in late else "")
        )
    if values.get("cooldown") is not None and key is None:
        notes.append(f"{path}: cooldown not checked: no checkpoint named at {' or '.join(keys)}")
    return notes


def _reason(error: BaseException) -> str:
    """The innermost message (our error inside OmegaConf's and Hydra's wrappers), on one line."""
    ours, _ = package_error(error)
    return str(ours) if ours is not None else " ".join(f"{type(error).__name__}: {error}".split())


def _is_group(key: str) -> bool:
    """Whether ``key`` names a config group (so ``key=value`` picks an option); True if unsure."""
    try:
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.object_type import ObjectType

        options = GlobalHydra.instance().config_loader().get_group_options(key, ObjectType.CONFIG)
    except Exception:  # not answerable here: compose every job in full, as Hydra would
        return True
    return bool(options)


class _Composer:
    """Each job's config: one compose per distinct structure, then the job's values set on a copy."""

    def __init__(self, config_name: str, checkpoint_keys: tuple[str, ...] = CHECKPOINT_KEYS) -> None:
        self.config_name = config_name
        self.checkpoint_keys = checkpoint_keys
        self.bases: dict[tuple[str, ...], DictConfig] = {}
        self.parser = OverridesParser.create()  # built once: the grammar is the same for every job
        self.groups: dict[str, bool] = {}  # key -> whether it names a config group (a lookup each)

    def split(self, overrides: list[str]) -> tuple[tuple[str, ...], list[tuple[str, Any, bool]]]:
        """The overrides that need a compose (config groups, ``~``, packages, ``hydra.``), and the value
        overrides that can be set on a composed copy, as ``(key, value, add)`` (``add``: ``+``/``++``)."""
        composed: list[str] = []
        values: list[tuple[str, Any, bool]] = []
        for text, override in zip(overrides, self.parser.parse_overrides(overrides), strict=True):
            key = override.key_or_group
            simple = not override.is_delete() and override.package is None and not key.startswith("hydra")
            if simple and "." not in key and key not in self.groups:
                self.groups[key] = _is_group(key)
            if simple and ("." in key or not self.groups[key]):
                values.append((key, override.value(), override.is_add() or override.is_force_add()))
            else:
                composed.append(text)
        return tuple(composed), values

    def check(self, overrides: list[str]) -> list[str]:
        try:
            structure, values = self.split(overrides)
            if structure not in self.bases:
                self.bases[structure] = compose(config_name=self.config_name, overrides=list(structure))
            config = copy.deepcopy(self.bases[structure])
            for key, value, add in values:
                if add and OmegaConf.select(config, key, default=None) is not None:
                    raise KeyError(key)  # Hydra refuses to append where an item is: its message, below
                OmegaConf.update(config, key, value, merge=True, force_add=add)
        except Exception:  # Hydra's own error, from a full compose of this job
            config = compose(config_name=self.config_name, overrides=overrides)
        try:
            return check_job_config(config, self.checkpoint_keys)
        except Exception:  # bad only if the fully composed job is bad too: its error is the one shown
            full = compose(config_name=self.config_name, overrides=overrides)
            return check_job_config(full, self.checkpoint_keys)


def shared(jobs: list[list[str]]) -> set[str]:
    """The overrides every job of a sweep has (all of them for a single job): the table leaves them out.

    They are the part of the command line that is not swept (a template's experiment, paths);
    repeating them on every row pushed each row's error hundreds of characters to the right.
    """
    return set.intersection(*(set(job) for job in jobs)) if jobs else set()


class SweepPreflight(Callback):
    """Compose and check every job of a sweep in ``on_multirun_start``; exit 1 listing the bad ones.

    Args:
        checkpoint_keys: the config keys that may name the checkpoint a job resumes or branches
            from (the first one set is checked; default ``ckpt_path``, then ``resume_from``).
    """

    def __init__(self, checkpoint_keys: Sequence[str] = CHECKPOINT_KEYS) -> None:
        self.checkpoint_keys = tuple(str(key) for key in checkpoint_keys)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        jobs = expected_jobs(config)
        if jobs is None:  # a sampling sweeper: its jobs do not exist yet
            jobs = [[str(item) for item in config.hydra.overrides.task if "," not in str(item)]]
        composer = _Composer(str(config.hydra.job.config_name), self.checkpoint_keys)
        bad, unchecked = [], []
        for number, overrides in enumerate(jobs):
            try:
                unchecked += [(number, overrides, note) for note in composer.check(overrides)]
            except Exception as error:  # any failure to compose or resolve is this job's problem
                bad.append((number, overrides, _reason(error)))
        common = shared(jobs)
        if unchecked:  # never a silent pass: what only run time can tell is said, per job
            count = len({number for number, _, _ in unchecked})
            head = f"SweepPreflight: {count} of {len(jobs)} jobs could not be checked in full"
            print("\n".join(_table(head, unchecked, common, "not checked")), file=sys.stderr, flush=True)
        if not bad:
            return
        head = f"SweepPreflight: {len(bad)} of {len(jobs)} jobs are bad; nothing was launched."
        print("\n".join(_table(head, bad, common, "error")), file=sys.stderr, flush=True)
        sys.exit(1)


def _table(head: str, rows: list[tuple[int, list[str], str]], common: set[str], what: str) -> list[str]:
    lines = [head, "", f"  {'job':>5}  swept overrides | {what}"]
    for number, overrides, reason in rows:
        own = " ".join(item for item in overrides if item not in common) or "-"
        lines.append(f"  {number:>5}  {own} | {reason}")
    return lines
