"""The private internals of other libraries this package relies on: each fenced in ``_compat.py``, each
checked here so that a release that moves one fails loudly instead of quietly changing behaviour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from bounded_lr_resolver import _compat
from bounded_lr_resolver.resolvers import RESOLVERS
from tests.conftest import register_foreign

PACKAGE = Path(__file__).resolve().parent.parent / "bounded_lr_resolver"


def test_a_tensors_version_counter_counts_in_place_writes() -> None:
    tensor = torch.tensor(0.1)
    before = _compat.version(tensor)
    tensor.fill_(0.2)
    assert _compat.version(tensor) == before + 1


@pytest.mark.usefixtures("registered")
def test_our_registered_resolvers_are_found_behind_omegaconfs_wrapper() -> None:
    for name, function in RESOLVERS.items():
        found = _compat.registered_function(name)
        assert found is function or getattr(found, "__name__", "").endswith("_node"), name
    assert _compat.registered_function("no.such.resolver") is None


@pytest.mark.usefixtures("clean_resolvers")
def test_a_foreign_resolver_is_not_ours() -> None:
    def mine(x: object) -> object:
        return x

    register_foreign("lr_gamma", mine)
    assert _compat.registered_function("lr_gamma") is mine
    assert OmegaConf.create({"g": "${lr_gamma:1}"}).g == 1


def test_the_basic_sweepers_expansion() -> None:
    parsed = OverridesParser.create().parse_overrides(["a=1,2", "b=x,y", "c=3"])
    assert _compat.split_sweep(parsed) == [
        [["a=1", "b=x", "c=3"], ["a=1", "b=y", "c=3"], ["a=2", "b=x", "c=3"], ["a=2", "b=y", "c=3"]]
    ]


def test_a_failed_jobs_error_is_read_without_writing_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    job = JobReturn()
    job.status = JobStatus.FAILED
    job.return_value = ValueError("boom")
    assert str(_compat.job_error(job)) == "boom"
    assert capfd.readouterr().err == ""
    assert _compat.job_error(object()) is None


def test_nothing_outside_compat_reaches_into_another_librarys_internals() -> None:
    """The issue's grep: no ``_internal``, ``._get_resolver``, ``co_freevars``, ``_return_value``,
    ``.repository`` (nor a tensor's ``._version``) in the package outside ``_compat.py``."""
    pattern = re.compile(r"_internal|\._get_resolver|co_freevars|_return_value|\.repository\b|\._version\b")
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in [*PACKAGE.glob("*.py"), *PACKAGE.parent.glob("hydra_plugins/*/*.py")]
        if path.name != "_compat.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


@pytest.mark.usefixtures("clean_resolvers")
def test_the_resolver_guard_sees_every_call_and_restores_the_registry() -> None:
    """``guarded_resolvers`` patches OmegaConf's registry: a refused call raises (wrapped by
    OmegaConf) and runs nothing, an allowed one runs, and the registry is the same after, also on
    error. Fails loudly if OmegaConf stops looking resolvers up in ``BaseContainer._resolvers``."""
    from omegaconf.basecontainer import BaseContainer
    from omegaconf.errors import InterpolationResolutionError

    calls: list[str] = []
    register_foreign("watched", lambda: calls.append("watched") or "ran")
    config = OmegaConf.create({"a": "${watched:}", "b": "${oc.select:a}", "c": "${oc.create:{x: 1}}"})
    before = dict(BaseContainer._resolvers)
    with _compat.guarded_resolvers(lambda name: name != "watched") as refused:
        with pytest.raises(InterpolationResolutionError):
            _ = config.b  # through oc.select and a node reference
        assert refused == ["watched"]
        assert config.c == {"x": 1}
        register_foreign("late", lambda: 1)  # registered meanwhile: kept after
    assert calls == []
    assert config.a == "ran"
    assert {name: BaseContainer._resolvers[name] for name in before} == before
    assert OmegaConf.has_resolver("late")
    with pytest.raises(RuntimeError), _compat.guarded_resolvers(lambda name: False):
        raise RuntimeError("inside")
    assert {name: BaseContainer._resolvers[name] for name in before} == before
