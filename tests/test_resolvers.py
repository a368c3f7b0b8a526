"""The resolvers through OmegaConf itself: values, typing, errors with the config key, registration."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from omegaconf.errors import InterpolationResolutionError

from bounded_lr_resolver import register_resolvers
from bounded_lr_resolver.errors import BoundedLRError, ResolverConflictError
from bounded_lr_resolver.resolvers import RESOLVERS
from tests.conftest import ANYTHING, register_foreign


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("${lr_gamma:0.1,1e-4,10000}", 0.999309463003, id="gamma-seed"),
        pytest.param("${lr_step:1e6,1e4}", 100, id="step-float-args"),
        pytest.param("${lr_step:1000000,10000}", 100, id="step-int-args"),
        pytest.param("${lr_step:110,10,10}", 10, id="step-warmup"),
        pytest.param("${lr_step:12,3,0,last_step}", 3, id="step-last-step"),
        pytest.param("${lr_milestones:10,3}", [3, 6, 10], id="milestones"),
        pytest.param("${lr_milestones:10,3,0,last_step}", [2, 5, 7], id="milestones-last-step"),
        pytest.param("${lr_values:1,0.25,2}", [1.0, 0.5, 0.25], id="values"),
        pytest.param(
            "${lr_gamma:${s.initial_lr},${s.final_lr},${s.n_updates}}", 0.999309463003, id="interpolated"
        ),
        pytest.param("${lr_step:${s.max_steps},${s.n_updates}}", 100, id="interpolated-step"),
    ],
)
def test_resolved_values(expression: str, expected: object) -> None:
    cfg = OmegaConf.create(
        {
            "s": {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 1000000, "n_updates": 10000},
            "x": expression,
        }
    )
    value = OmegaConf.to_container(cfg, resolve=True)["x"]  # type: ignore[index]
    if isinstance(expected, float):
        assert abs(value - expected) < 1e-12
    else:
        assert value == expected
        assert all(
            type(v) is type(expected[0] if isinstance(expected, list) else expected)
            for v in (value if isinstance(value, list) else [value])
        )


RESOLVER_BAD = [
    pytest.param(
        "${lr_gamma:0.1,0.5,10}",
        "lr_gamma: final_lr must be in (0, initial_lr], got final_lr=0.5, initial_lr=0.1",
        id="final-above-initial",
    ),
    pytest.param(
        "${lr_gamma:0.1,0,10}", "lr_gamma: final_lr must be a finite number > 0, got final_lr=0", id="zero-lr"
    ),
    pytest.param(
        "${lr_gamma:0.1,1e-4,abc}",
        "lr_gamma: n_updates must be a whole number, got n_updates='abc' (str)",
        id="text-count",
    ),
    pytest.param(
        "${lr_gamma:0.1,'1e-4',10}",
        "lr_gamma: final_lr must be a number (int or float), got final_lr='1e-4' (str)",
        id="quoted-number",
    ),
    pytest.param(
        "${lr_gamma:0.1,true,10}",
        "lr_gamma: final_lr must be a number (int or float), got final_lr=True (bool)",
        id="bool",
    ),
    pytest.param(
        "${lr_gamma:0.1,null,10}",
        "lr_gamma: final_lr must be a number (int or float), got final_lr=None",
        id="null",
    ),
    pytest.param(
        "${lr_gamma:0.1,nan,10}", "lr_gamma: final_lr must be a finite number > 0, got final_lr=nan", id="nan"
    ),
    pytest.param(
        "${lr_gamma:inf,1e-4,10}",
        "lr_gamma: initial_lr must be a finite number > 0, got initial_lr=inf",
        id="inf",
    ),
    pytest.param(
        "${lr_step:1e6,1.5}", "lr_step: n_updates must be a whole number, got n_updates=1.5", id="fractional"
    ),
    pytest.param(
        "${lr_step:-10,2}", "lr_step: max_steps must be a whole number >= 1, got max_steps=-10", id="negative"
    ),
    pytest.param("${lr_step:1e18,1e4}", "lr_step: max_steps must be <= 2**53", id="huge"),
    pytest.param("${lr_step:10,3}", "lr_step: max_steps must be a multiple of n_updates", id="non-divisible"),
    pytest.param("${lr_step:10,20}", "lr_step: n_updates must be <= max_steps", id="too-many-updates"),
    pytest.param(
        "${lr_step:10,2,10}", "lr_step: warmup_steps must be in [0, max_steps)", id="warmup-too-long"
    ),
    pytest.param(
        "${lr_milestones:[10],2}",
        "lr_milestones: max_steps must be a whole number, got max_steps=[10]",
        id="list",
    ),
    pytest.param(
        "${lr_milestones:10,2,0,end}",
        "lr_milestones: final_lr_at must be one of ['max_steps', 'last_step']",
        id="bad-convention",
    ),
    pytest.param(
        "${lr_gamma:0.1,${s.bad},10}",
        "lr_gamma: final_lr must be a number (int or float), got final_lr='x'",
        id="interpolated-text",
    ),
]


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(("expression", "message"), RESOLVER_BAD)
def test_resolver_errors_name_resolver_argument_value_and_key(expression: str, message: str) -> None:
    cfg = OmegaConf.create({"s": {"bad": "x"}, "sched": {"gamma": expression}})
    with pytest.raises(InterpolationResolutionError) as info:
        OmegaConf.to_container(cfg, resolve=True)
    text = str(info.value)
    assert message in text, text
    assert "full_key: sched.gamma" in text, text


@pytest.mark.usefixtures("registered")
def test_missing_value_names_the_key() -> None:
    cfg = OmegaConf.create({"s": {"final_lr": "???", "g": "${lr_gamma:0.1,${.final_lr},10}"}})
    with pytest.raises(Exception, match=r"Missing mandatory value: s.final_lr"):
        OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.usefixtures("clean_resolvers")
def test_registration_is_idempotent() -> None:
    assert register_resolvers() == []
    assert register_resolvers() == []
    assert OmegaConf.create({"g": "${lr_step:1e6,1e4}"}).g == 100


@pytest.mark.usefixtures("clean_resolvers")
def test_foreign_resolver_is_never_replaced_silently() -> None:
    register_foreign("lr_step", lambda *args: "theirs")
    with pytest.raises(
        ResolverConflictError, match=r"register_resolvers: resolver names \['lr_step'\] must be free or ours"
    ):
        register_resolvers()
    assert not OmegaConf.has_resolver("lr_gamma")  # nothing half-applied
    assert register_resolvers(on_conflict="skip") == ["lr_step"]
    assert OmegaConf.create({"s": "${lr_step:1,1}", "g": "${lr_gamma:1,1,1}"}).s == "theirs"
    assert OmegaConf.has_resolver("lr_gamma")
    register_resolvers(replace=True)
    assert OmegaConf.create({"s": "${lr_step:1e6,1e4}"}).s == 100


@pytest.mark.usefixtures("registered")
def test_no_resolver_caches() -> None:
    """Hydra copies resolver caches between sweep jobs; a cached gamma would leak across a final_lr sweep."""
    cfg = OmegaConf.create({"f": 1e-4, "g": "${lr_gamma:0.1,${f},10}"})
    first = cfg.g
    cfg.f = 1e-5
    assert cfg.g != first


args = ANYTHING


@settings(max_examples=600, deadline=None)
@given(
    name=st.sampled_from(sorted(RESOLVERS)),
    a=args,
    b=args,
    c=args,
    d=args,
    at=st.sampled_from(["max_steps", "last_step"]),
)
def test_fuzzed_arguments_give_a_valid_value_or_our_error(
    name: str, a: object, b: object, c: object, d: object, at: str
) -> None:
    calls = {
        "lr_gamma": (a, b, c),
        "lr_decay_steps": (a, b, at),
        "lr_logspace": (a, b, c, d),
        "lr_ratio": (a, b),
    }
    try:
        value = RESOLVERS[name](*calls.get(name, (a, b, c if isinstance(c, int) else 0)))
    except BoundedLRError:
        return
    if name == "lr_values":
        assert len(value) == int(c) + 1  # type: ignore[call-overload]
        assert value[0] == a
        assert value[-1] == b
        assert all(y < x for x, y in pairwise(value)) or a == b
    elif name == "lr_gamma":
        assert 0.0 < value <= 1.0
        assert math.isclose(a * value ** int(c), b, rel_tol=1e-9)  # type: ignore[operator]
    elif name == "lr_step":
        assert type(value) is int
        assert value >= 1
    elif name == "lr_decay_steps":
        assert type(value) is int
        assert value == int(a) - int(b) - (at == "last_step") >= 1  # type: ignore[call-overload]
    elif name == "lr_ratio":
        assert value == float(b) / float(a)  # type: ignore[arg-type]
        assert 0.0 < value <= 1.0
    elif name == "lr_logspace":
        low, high, num, index = float(a), float(b), int(c), int(d)  # type: ignore[arg-type, call-overload]
        assert 0 <= index < num
        assert min(low, high) * (1 - 1e-12) <= value <= max(low, high) * (1 + 1e-12)
        assert value == pytest.approx(10 ** np.linspace(np.log10(low), np.log10(high), num)[index], rel=1e-9)
    else:
        assert name == "lr_milestones"
        assert len(value) == int(b)  # type: ignore[call-overload]
        assert all(x < y for x, y in pairwise(value))
        assert value[0] > 0
        assert value[-1] <= int(a)  # type: ignore[call-overload]


@pytest.mark.usefixtures("registered")
def test_number_from_the_environment_gets_the_decode_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """``${oc.env:...}`` gives text; the error says how to decode it, and the decoded form works."""
    monkeypatch.setenv("MAX_STEPS", "1000")
    cfg = OmegaConf.create(
        {"bad": "${lr_step:${oc.env:MAX_STEPS},10}", "good": "${lr_step:${oc.decode:${oc.env:MAX_STEPS}},10}"}
    )
    with pytest.raises(InterpolationResolutionError) as info:
        _ = cfg.bad
    assert (
        "lr_step: max_steps must be a whole number, got max_steps='1000' (str). Write the number without "
        "quotes; a number from an environment variable is text: decode it with ${oc.decode:${oc.env:NAME}}"
    ) in str(info.value)
    assert cfg.good == 100
