"""The private internals of other libraries this package relies on: each fenced in ``_compat.py``, each
checked here so that a release that moves one fails loudly instead of quietly changing behaviour."""

from __future__ import annotations

import re
import types
import warnings
from pathlib import Path

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.optim.lr_scheduler import LRScheduler

from bounded_lr_resolver import BoundedLR, _compat
from bounded_lr_resolver.resolvers import RESOLVERS
from bounded_lr_resolver.trusted import SUPPORTS_WHITELIST
from tests.conftest import register_foreign

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bounded_lr_resolver"


def test_a_tensors_version_counter_counts_in_place_writes() -> None:
    tensor = torch.tensor(0.1)
    before = _compat.version(tensor)
    tensor.fill_(0.2)
    assert _compat.version(tensor) == before + 1


@pytest.mark.usefixtures("registered")
def test_our_registered_resolvers_are_found_behind_omegaconfs_wrapper() -> None:
    for name, function in RESOLVERS.items():
        found = _compat.registered_function(name)
        node = isinstance(found, types.FunctionType) and found.__name__.endswith("_node")  # 2.3's lists
        assert found is function or node, name
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


def _lines(pattern: str) -> list[str]:
    """Every line of the package, its plugin and its tests (not ``_compat.py``) that ``pattern`` finds."""
    found = re.compile(pattern)
    files = [*PACKAGE.glob("*.py"), *ROOT.glob("hydra_plugins/*/*.py"), *ROOT.glob("tests/*.py")]
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        if path.name != "_compat.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if found.search(line)
    ]


def test_nothing_outside_compat_names_what_it_fences() -> None:
    """The issue's grep (``_compat.FENCED``), over the package, the plugin and the tests."""
    assert _lines("|".join(_compat.FENCED)) == []


def test_no_private_name_is_reached_through_a_getattr_string() -> None:
    """A private name given to getattr as text would dodge ruff's SLF001; dunders are public."""
    assert _lines(r"""(getattr|hasattr|setattr)\([^)]*["']_[^_]""") == []


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
    registry = BaseContainer._resolvers  # noqa: SLF001 - what guarded_resolvers patches, read as is
    before = dict(registry)
    with _compat.guarded_resolvers(lambda name: name != "watched") as refused:
        with pytest.raises(InterpolationResolutionError):
            _ = config.b  # through oc.select and a node reference
        assert refused == ["watched"]
        assert config.c == {"x": 1}
        register_foreign("late", lambda: 1)  # registered meanwhile: kept after
    assert calls == []
    assert config.a == "ran"
    assert {name: registry[name] for name in before} == before
    assert OmegaConf.has_resolver("late")
    with pytest.raises(RuntimeError), _compat.guarded_resolvers(lambda name: False):
        raise RuntimeError("inside")
    assert {name: registry[name] for name in before} == before


class _Probe(LRScheduler):
    """torch's own LRScheduler with each private hook BoundedLR relies on recorded as torch uses it."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.calls: list[object] = []
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [0.5 * float(base) for base in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float]:
        self.calls.append("_get_closed_form_lr")
        return [0.25 * float(base) for base in self.base_lrs]

    def _initial_step(self) -> None:
        self.calls.append("_initial_step")
        super()._initial_step()

    def _update_lr(self, epoch: int | None = None) -> None:
        self.calls.append(("_update_lr", epoch, self._step_count))
        super()._update_lr(epoch)

    def privates(self) -> tuple[int, list[float]]:
        return self._step_count, list(self._last_lr)  # type: ignore[arg-type]


def test_torchs_scheduler_still_calls_and_keeps_the_private_names_boundedlr_uses() -> None:
    """Each of ``_compat.TORCH_SCHEDULER_PRIVATES`` as torch's ``LRScheduler`` uses it: ``__init__``
    runs ``_initial_step``, ``step`` counts in ``_step_count`` and calls ``_update_lr(epoch)``,
    which calls ``_get_closed_form_lr`` for an epoch and leaves the LRs in ``_last_lr`` (what
    ``get_last_lr`` and ``state_dict`` give). A torch that moves one fails here, by name."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    probe = _Probe(optimizer)
    assert probe.calls == ["_initial_step", ("_update_lr", None, 1)]
    assert probe.privates() == (1, [0.05])
    optimizer.step()
    probe.step()
    with pytest.warns(UserWarning, match="The epoch parameter"):
        probe.step(7)
    assert probe.calls[2:] == [("_update_lr", None, 2), ("_update_lr", 7, 3), "_get_closed_form_lr"]
    assert probe.privates() == (3, [0.025])
    assert probe.get_last_lr() == [0.025]
    assert {"_step_count": 3, "_last_lr": [0.025]}.items() <= probe.state_dict().items()
    assert set(_compat.TORCH_SCHEDULER_PRIVATES) == {"_initial_step", "_update_lr", "_get_closed_form_lr"} | {
        "_step_count",
        "_last_lr",
    }


def test_every_torch_hook_boundedlr_overrides_is_listed() -> None:
    """A private ``LRScheduler`` name ``BoundedLR`` defines over torch's is in the fenced list."""
    overridden = {
        name
        for name in vars(BoundedLR)
        if name.startswith("_") and not name.startswith("__") and hasattr(LRScheduler, name)
    }
    assert overridden <= set(_compat.TORCH_SCHEDULER_PRIVATES)
    assert overridden  # _update_lr, _get_closed_form_lr today


def test_hydras_whitelist_warning_is_matched_by_its_text() -> None:
    """hydra-core 1.4 warns in the words ``whitelist_warning`` matches (exact names only); 1.3 never warns."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        instantiate({"_target_": "collections.OrderedDict", "_partial_": True})
    shown = [str(warning.message) for warning in caught]
    if not SUPPORTS_WHITELIST:
        assert shown == []
        return
    [message] = shown
    assert re.match(_compat.whitelist_warning(["collections.OrderedDict"]), message), message
    assert not re.match(_compat.whitelist_warning(["collections.Ordered", "OrderedDict"]), message)
    assert [category.category for category in caught] == [UserWarning]
