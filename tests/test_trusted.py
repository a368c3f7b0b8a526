"""instantiate_trusted enforces its allow-list on every Hydra version; trust_our_callbacks is exact."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bounded_lr_resolver import BoundedLR, instantiate_trusted, trust_our_callbacks
from bounded_lr_resolver.errors import BoundedLRError, UntrustedTargetError
from bounded_lr_resolver.trusted import SUPPORTS_WHITELIST, TRUSTED_CALLBACKS
from tests.conftest import register_foreign

RULE = "one of {allowed} (this package's targets and those passed in allow=)"
HINT = (
    "Nothing was called. If you trust this target, pass allow=[...] with it from your code "
    "(never from the config)"
)
OURS = ["bounded_lr_resolver.build_scheduler"]


def _message(target: str, key: str, allowed: list[str] = OURS) -> str:
    rule = RULE.format(allowed=allowed)
    return f"instantiate_trusted: _target_ must be {rule}, got _target_={target!r}, key={key!r}. {HINT}"


SCHEDULER = {
    "_target_": "bounded_lr_resolver.build_scheduler",
    "_partial_": True,
    "initial_lr": 0.1,
    "final_lr": 1e-3,
    "max_steps": 10,
    "n_updates": 2,
}


def _refused(victim: Path) -> list[Any]:
    return [
        pytest.param(
            {"_target_": "builtins.open", "_args_": [str(victim), "w"]}, "builtins.open", "<root>", id="root"
        ),
        pytest.param(
            {**SCHEDULER, "extra": {"_target_": "builtins.open", "_args_": [str(victim), "w"]}},
            "builtins.open",
            "extra",
            id="nested",
        ),
        pytest.param(
            {**SCHEDULER, "items": [1, {"_target_": "os.remove", "_args_": [str(victim)]}]},
            "os.remove",
            "items[1]",
            id="in-a-list",
        ),
        pytest.param(
            OmegaConf.create(
                {"name": "builtins.open", "node": {"_target_": "${name}", "_args_": [str(victim), "w"]}}
            ),
            "builtins.open",
            "node",
            id="interpolated",
        ),
        pytest.param(
            {"_target_": "bounded_lr_resolver.build_scheduler.__globals__", "x": 1},
            "bounded_lr_resolver.build_scheduler.__globals__",
            "<root>",
            id="prefix-of-ours",
        ),
        pytest.param({"_target_": open, "_args_": [str(victim), "w"]}, "io.open", "<root>", id="callable"),
    ]


@pytest.mark.parametrize(("config", "target", "key"), _refused(Path("/tmp/bounded-lr-victim")))
def test_untrusted_target_is_refused_before_anything_runs(
    config: Any, target: str, key: str, tmp_path: Path
) -> None:
    victim = Path("/tmp/bounded-lr-victim")
    victim.write_text("precious\n")
    try:
        with pytest.raises(UntrustedTargetError) as caught:
            instantiate_trusted(config)
        assert str(caught.value) == _message(target, key)
        assert victim.read_text() == "precious\n"
    finally:
        victim.unlink(missing_ok=True)
    assert isinstance(caught.value, (BoundedLRError, ValueError))


@pytest.mark.parametrize(
    ("value", "key"),
    [
        pytest.param("config", "<root>", id="config"),
        pytest.param("in-a-tuple", "[1]", id="config-in-a-tuple"),
        pytest.param("in-a-dict", "hook", id="config-in-a-dict"),
    ],
)
def test_a_config_valued_argument_is_checked_too(value: str, key: str) -> None:
    evil = OmegaConf.create({"_target_": "os.system", "_args_": ["true"]})
    argument = {"config": evil, "in-a-tuple": (1, evil), "in-a-dict": {"hook": evil}}[value]
    with pytest.raises(UntrustedTargetError) as caught:
        instantiate_trusted(SCHEDULER, callback=argument)
    assert str(caught.value) == _message("os.system", key)


def test_allow_extends_the_list_and_our_target_runs() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    config = {"_target_": "torch.optim.SGD", "lr": 0.1}
    params = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(UntrustedTargetError) as caught:
        instantiate_trusted(config, params=params)
    assert str(caught.value) == _message("torch.optim.SGD", "<root>")
    assert isinstance(instantiate_trusted(config, params=params, allow=["torch.optim.SGD"]), torch.optim.SGD)
    scheduler = instantiate_trusted(OmegaConf.create(SCHEDULER))(optimizer=optimizer)
    assert isinstance(scheduler, BoundedLR)


def _whitelist_warning(target: str) -> list[str]:
    """What Hydra warns when it instantiates ``target`` without a whitelist, after trust_our_callbacks().

    ``_partial_`` makes Hydra locate the target (and warn) without calling it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trust_our_callbacks()
        instantiate({"_target_": target, "_partial_": True})
    return [str(warning.message) for warning in caught]


@pytest.mark.skipif(not SUPPORTS_WHITELIST, reason="hydra-core 1.3 has no execution whitelist warning")
@pytest.mark.parametrize(
    ("target", "silenced"),
    [
        *[pytest.param(name, True, id=name.rsplit(".", 1)[1]) for name in TRUSTED_CALLBACKS],
        pytest.param("bounded_lr_resolver.callbacks.OmegaConf.save", False, id="imported-name"),
        pytest.param("bounded_lr_resolver.callbacks.SweepReport.on_multirun_end", False, id="longer-name"),
        pytest.param("bounded_lr_resolver.callbacks.logging.getLogger", False, id="module-attribute"),
        pytest.param("bounded_lr_resolver.preflight.SweepPreflight", False, id="same-class-other-name"),
        pytest.param("collections.OrderedDict", False, id="foreign"),
    ],
)
def test_trust_our_callbacks_trusts_exact_names_only(target: str, silenced: bool) -> None:
    with warnings.catch_warnings():
        shown = _whitelist_warning(target)
    assert (shown == []) is silenced, shown


def _flip(first: str, later: str) -> None:
    """A resolver (never cached) whose value changes after its first call, as an adversary writes it."""
    calls = iter(range(10**6))
    register_foreign("flip", lambda: first if next(calls) == 0 else later)


@pytest.mark.usefixtures("clean_resolvers")
@pytest.mark.parametrize(
    ("first", "later", "refused"),
    [
        pytest.param("os.path.join", "shutil.copyfile", None, id="trusted-first"),
        pytest.param("shutil.copyfile", "os.path.join", "shutil.copyfile", id="untrusted-first"),
    ],
)
def test_a_target_that_changes_between_resolutions_is_checked_as_called(
    tmp_path: Path, first: str, later: str, refused: str | None
) -> None:
    """Resolved once: the target checked is the target called, so shutil.copyfile never runs."""
    source, copy = tmp_path / "source", tmp_path / "copy"
    source.write_text("precious\n")
    _flip(first, later)
    config = OmegaConf.create({"node": {"_target_": "${flip:}", "_args_": [str(source), str(copy)]}})
    allowed = ["os.path.join"]
    if refused is None:
        assert instantiate_trusted(config.node, allow=allowed) == str(copy)  # os.path.join ran
    else:
        with pytest.raises(UntrustedTargetError) as caught:
            instantiate_trusted(config.node, allow=allowed)
        assert str(caught.value) == _message(refused, "<root>", [*OURS, *allowed])
    assert not copy.exists()


@pytest.mark.usefixtures("clean_resolvers")
def test_a_nested_target_that_changes_is_checked_as_called(tmp_path: Path) -> None:
    source, copy = tmp_path / "source", tmp_path / "copy"
    source.write_text("precious\n")
    _flip("os.path.join", "shutil.copyfile")
    config = OmegaConf.create(
        {
            "_target_": "os.path.join",
            "_args_": ["a", {"_target_": "${flip:}", "_args_": [str(source), str(copy)]}],
        }
    )
    assert instantiate_trusted(config, allow=["os.path.join"]) == str(copy)
    assert not copy.exists()


INTERPOLATION_RULE = (
    "resolved text without '${' (Hydra's instantiate would resolve it again, after the check)"
)
INTERPOLATION_HINT = "Nothing was called. Have the resolver return the value itself, not an interpolation"


@pytest.mark.usefixtures("clean_resolvers")
@pytest.mark.parametrize(
    ("config", "kwargs", "key", "text"),
    [
        pytest.param(
            {"name": "shutil.copyfile", "node": {"_target_": "os.path.join", "_args_": ["a", "${text:}"]}},
            {},
            "_args_[1]",
            "${name}",
            id="resolves-to-a-reference",
        ),
        pytest.param(
            {"node": {"_target_": "os.path.join", "_args_": ["a", "\\${oc.env:HOME}"]}},
            {},
            "_args_[1]",
            "${oc.env:HOME}",
            id="escaped-text-hydra-would-resolve",
        ),
        pytest.param(
            {"node": {"_target_": "os.path.join", "_args_": ["a"]}},
            {"extra": "${oc.create:{_target_: shutil.copyfile}}"},
            "<root>",
            "${oc.create:{_target_: shutil.copyfile}}",
            id="text-keyword-argument",
        ),
    ],
)
def test_text_that_hydra_would_resolve_again_is_refused(
    config: dict[str, Any], kwargs: dict[str, Any], key: str, text: str
) -> None:
    register_foreign("text", lambda: "${name}")
    with pytest.raises(UntrustedTargetError) as caught:
        instantiate_trusted(OmegaConf.create(config).node, allow=["os.path.join"], **kwargs)
    assert str(caught.value) == (
        f"instantiate_trusted: value must be {INTERPOLATION_RULE}, got key={key!r}, value={text!r}. "
        f"{INTERPOLATION_HINT}"
    )


def test_absolute_interpolations_resolve_against_the_whole_config() -> None:
    config = OmegaConf.create({"lr": 0.1, "scheduler": {**SCHEDULER, "initial_lr": "${lr}"}})
    made = instantiate_trusted(config.scheduler)
    assert made.keywords["initial_lr"] == 0.1
    assert OmegaConf.is_interpolation(config.scheduler, "initial_lr")  # the caller's config is untouched
