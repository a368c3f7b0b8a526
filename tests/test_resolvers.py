"""The resolvers through OmegaConf itself: values, typing, errors with the config key, registration."""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from omegaconf import ListConfig, OmegaConf
from omegaconf.basecontainer import BaseContainer
from omegaconf.errors import InterpolationResolutionError, InterpolationToMissingValueError

from bounded_lr_resolver import _compat, register_resolvers, resolvers
from bounded_lr_resolver.errors import BoundedLRError, ResolverConflictError
from tests.conftest import ANYTHING, register_foreign
from tests.strategies import REACH_ZERO_KINDS

FUNCTIONS = {
    name: getattr(resolvers, name)
    for name in (
        "lr_gamma",
        "lr_step",
        "lr_milestones",
        "lr_values",
        "lr_decay_steps",
        "lr_logspace",
        "lr_ratio",
    )
}
"""The resolvers by their Python names (``lr_milestones`` is registered as ``blr.milestones``)."""


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("${lr_gamma:0.1,1e-4,10000}", 0.999309463003, id="gamma-seed"),
        pytest.param("${lr_step:1e6,1e4}", 100, id="step-float-args"),
        pytest.param("${lr_step:1000000,10000}", 100, id="step-int-args"),
        pytest.param("${lr_step:110,10,10}", 10, id="step-warmup"),
        pytest.param("${lr_step:12,3,0,last_step}", 3, id="step-last-step"),
        pytest.param("${blr.milestones:10,3}", [3, 6, 10], id="milestones"),
        pytest.param("${blr.milestones:10,3,0,last_step}", [2, 5, 7], id="milestones-last-step"),
        pytest.param("${blr.values:1,0.25,2}", [1.0, 0.5, 0.25], id="values"),
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
        "${lr_gamma:0.1,0,10}",
        "lr_gamma: final_lr must be > 0 for a step decay, whose LRs are ratios of its ends, got "
        f"final_lr=0. These can reach 0: kind={' | '.join(REACH_ZERO_KINDS)}",
        id="zero-lr",
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
        "${blr.milestones:[10],2}",
        "blr.milestones: max_steps must be a whole number, got max_steps=[10]",
        id="list",
    ),
    pytest.param(
        "${blr.milestones:10,2,0,end}",
        "blr.milestones: final_lr_at must be one of ['max_steps', 'last_step']",
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
    """A ??? argument is OmegaConf's clear error naming both keys; once set, our resolver answers."""
    cfg = OmegaConf.create({"s": {"final_lr": "???", "g": "${lr_gamma:0.1,${.final_lr},10}"}})
    with pytest.raises(InterpolationToMissingValueError) as caught:
        _ = cfg.s.g  # the key that uses it, not the missing key itself
    assert "Missing mandatory value: s.final_lr" in str(caught.value)
    assert "full_key: s.g" in str(caught.value)
    cfg.s.final_lr = 1e-4
    assert math.isclose(cfg.s.g, (1e-4 / 0.1) ** (1 / 10), rel_tol=1e-15)


@pytest.mark.usefixtures("clean_resolvers")
def test_registration_is_idempotent() -> None:
    assert register_resolvers() == []
    assert register_resolvers() == []
    assert OmegaConf.create({"g": "${lr_step:1e6,1e4}"}).g == 100


@pytest.mark.usefixtures("clean_resolvers")
def test_foreign_resolver_is_never_replaced_silently() -> None:
    register_foreign("lr_step", lambda *args: "theirs")
    with pytest.raises(ResolverConflictError) as caught:
        register_resolvers()
    assert str(caught.value) == (
        "register_resolvers: resolver names ['lr_step'] must be free or ours, but another resolver is "
        "already registered under them. Rename yours, or call "
        "bounded_lr_resolver.register_resolvers(replace=True) to use ours"
    )
    assert not OmegaConf.has_resolver("lr_gamma")  # nothing half-applied
    assert register_resolvers(on_conflict="skip") == ["lr_step"]
    assert OmegaConf.create({"s": "${lr_step:1,1}", "g": "${lr_gamma:1,1,1}"}).s == "theirs"
    assert OmegaConf.has_resolver("lr_gamma")
    register_resolvers(replace=True)
    assert OmegaConf.create({"s": "${lr_step:1e6,1e4}"}).s == 100


@pytest.mark.usefixtures("clean_resolvers")
def test_registering_again_leaves_the_registry_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second call registers nothing: OmegaConf's registration calls (run as usual) are counted."""
    register_resolvers()
    bound: list[str] = []
    for api in ("register_resolver", "register_new_resolver"):
        original = getattr(OmegaConf, api)

        def counted(name: str, *args: object, _original: Any = original, **kwargs: object) -> object:
            bound.append(name)
            return _original(name, *args, **kwargs)

        monkeypatch.setattr(OmegaConf, api, counted)
    assert register_resolvers() == []
    assert bound == []
    OmegaConf.clear_resolver("lr_gamma")
    assert register_resolvers() == []
    assert bound == ["lr_gamma"]  # what is missing is registered, and counted


@pytest.mark.usefixtures("clean_resolvers")
def test_an_entry_written_straight_into_the_registry_is_foreign() -> None:
    """Another library that bypasses OmegaConf's API still keeps its name (no closure to unwrap)."""
    BaseContainer._resolvers["blr.ratio"] = len  # noqa: SLF001 - what such a library does
    with pytest.raises(ResolverConflictError, match=r"resolver names \['blr.ratio'\] must be free or ours"):
        register_resolvers()
    assert register_resolvers(on_conflict="skip") == ["blr.ratio"]
    assert _compat.registered_function("blr.ratio") is len


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize("key", ["m", "v"])
def test_list_resolvers_resolve_in_place_in_an_untyped_config(key: str) -> None:
    """OmegaConf.resolve (what --cfg job --resolve and instantiate use) needs a node, not a list, on 2.3."""
    cfg = OmegaConf.create({"m": "${blr.milestones:10,3}", "v": "${blr.values:1,0.25,2}"})
    OmegaConf.resolve(cfg)
    assert OmegaConf.to_container(cfg)[key] == {"m": [3, 6, 10], "v": [1.0, 0.5, 0.25]}[key]
    assert isinstance(cfg[key], ListConfig)


def test_list_wrappers_return_a_plain_list_for_a_typed_list_field() -> None:
    """A typed list[int] field validates a plain list cheaply; an untyped node needs a ListConfig."""
    from bounded_lr_resolver.resolvers import _as_node, _lr_milestones_node, _lr_values_node

    assert type(_as_node([3, 6, 10], ListConfig([]))) is list
    assert isinstance(_as_node([3, 6, 10], None), ListConfig)
    # the wrappers registered on OmegaConf <= 2.3 hand their node on
    assert _lr_milestones_node(10, 3, _node_=ListConfig([])) == [3, 6, 10]
    assert type(_lr_milestones_node(10, 3, _node_=ListConfig([]))) is list
    assert type(_lr_values_node(1, 0.25, 2, _node_=ListConfig([]))) is list
    assert _lr_values_node(1, 0.25, 2, _node_=ListConfig([])) == [1.0, 0.5, 0.25]
    assert isinstance(_lr_values_node(1, 0.25, 2), ListConfig)


RESOLVER_MESSAGES = [
    (
        "lr_gamma",
        (0.1, 1.0, 10),
        "lr_gamma: final_lr must be in (0, initial_lr], got final_lr=1.0, initial_lr=0.1",
    ),
    ("lr_step", (10, 0), "lr_step: n_updates must be a whole number >= 1, got n_updates=0"),
    ("lr_milestones", (10, 0), "blr.milestones: n_updates must be a whole number >= 1, got n_updates=0"),
    ("lr_values", (0.1, 1e-4, 0), "blr.values: n_updates must be a whole number >= 1, got n_updates=0"),
    ("lr_decay_steps", (0,), "blr.decay_steps: max_steps must be a whole number >= 1, got max_steps=0"),
    ("lr_logspace", (1e-3, 0, 3, 0), "blr.logspace: high must be a finite number > 0, got high=0"),
    ("lr_ratio", (0, 1e-4), "blr.ratio: initial_lr must be a finite number > 0, got initial_lr=0"),
]


@pytest.mark.parametrize(
    ("name", "args", "message"), RESOLVER_MESSAGES, ids=[r[0] for r in RESOLVER_MESSAGES]
)
def test_each_resolver_names_itself(name: str, args: tuple[object, ...], message: str) -> None:
    with pytest.raises(BoundedLRError) as caught:
        FUNCTIONS[name](*args)
    assert str(caught.value).split(". ")[0] == message


@pytest.mark.usefixtures("registered")
def test_no_resolver_caches() -> None:
    """Hydra copies resolver caches between sweep jobs; a cached gamma would leak across a final_lr sweep."""
    cfg = OmegaConf.create({"f": 1e-4, "g": "${lr_gamma:0.1,${f},10}"})
    assert math.isclose(cfg.g, (1e-4 / 0.1) ** (1 / 10), rel_tol=1e-15)
    cfg.f = 1e-5
    assert math.isclose(cfg.g, (1e-5 / 0.1) ** (1 / 10), rel_tol=1e-15)  # the new value, not the first


args = ANYTHING


@settings(max_examples=600, deadline=None)
@given(
    name=st.sampled_from(sorted(FUNCTIONS)),
    a=args,
    b=args,
    c=args,
    d=args,
    at=st.sampled_from(["max_steps", "last_step"]),
)
@example(name="lr_gamma", a=18945965, b=0.001, c=18945965, d=None, at="max_steps")  # n ulps of rounding
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
        value = FUNCTIONS[name](*calls.get(name, (a, b, c if isinstance(c, int) else 0)))
    except BoundedLRError:
        return
    if name == "lr_values":
        assert len(value) == int(c) + 1  # type: ignore[call-overload]
        assert value[0] == a
        assert value[-1] == b
        assert all(y < x for x, y in pairwise(value)) or a == b
    elif name == "lr_gamma":
        assert 0.0 < value <= 1.0
        # gamma is the float64 nearest the exact root (half an ulp, 2**-53 relative), so gamma**n is
        # within about n ulps of final / initial: 1e-9, or more past 4.5e6 decays
        tolerance = max(1e-9, 2 * 2.0**-53 * int(c))  # type: ignore[call-overload]
        assert math.isclose(a * value ** int(c), b, rel_tol=tolerance)  # type: ignore[operator]
    elif name == "lr_step":
        assert type(value) is int
        assert value >= 1
    elif name == "lr_decay_steps":
        assert type(value) is int
        assert value == int(a) - int(b) - (at == "last_step") >= 1  # type: ignore[call-overload]
    elif name == "lr_ratio":
        assert value == float(b) / float(a)  # type: ignore[arg-type]
        assert 0.0 <= value <= 1.0
    elif name == "lr_logspace":
        low, high, num, index = float(a), float(b), int(c), int(d)  # type: ignore[arg-type, call-overload]
        assert 0 <= index < num
        assert min(low, high) * (1 - 1e-12) <= value <= max(low, high) * (1 + 1e-12)
        start, stop = math.log10(low), math.log10(high)  # one value of numpy.logspace, without building it
        assert value == pytest.approx(10 ** (start + (stop - start) * index / (num - 1)), rel=1e-9)
    else:
        assert name == "lr_milestones"
        assert len(value) == int(b)  # type: ignore[call-overload]
        assert all(x < y for x, y in pairwise(value))
        assert value[0] > 0
        assert value[-1] <= int(a)  # type: ignore[call-overload]


@st.composite
def valid_call(draw: st.DrawFn) -> tuple[str, tuple[object, ...]]:
    """A resolver and arguments inside every rule (counts as int or as a whole float, as YAML gives)."""
    name = draw(st.sampled_from(sorted(FUNCTIONS)))
    initial = draw(st.floats(1e-6, 10.0))
    ratio = draw(st.one_of(st.just(1.0), st.floats(1e-6, 1.0 - 1e-6)))
    count = draw(st.integers(1, 300))
    warmup = draw(st.integers(0, 50))
    at = draw(st.sampled_from(["max_steps", "last_step"]))
    plateaus = count + (at == "last_step")

    def whole(n: int) -> object:
        return draw(st.sampled_from([n, float(n)]))

    if name in ("lr_gamma", "lr_values"):
        return name, (initial, initial * ratio, whole(count))
    if name == "lr_ratio":
        return name, (initial, initial * ratio)
    if name == "lr_step":
        return name, (whole(warmup + plateaus * draw(st.integers(1, 50))), whole(count), whole(warmup), at)
    if name == "lr_milestones":
        return name, (whole(warmup + plateaus + draw(st.integers(0, 500))), whole(count), whole(warmup), at)
    if name == "lr_decay_steps":
        return name, (
            whole(warmup + 1 + (at == "last_step") + draw(st.integers(0, 10**6))),
            whole(warmup),
            at,
        )
    assert name == "lr_logspace"
    num = draw(st.integers(2, 200))
    return name, (initial, initial * ratio, whole(num), whole(draw(st.integers(0, num - 1))))


@settings(max_examples=600, deadline=None)
@given(call=valid_call())
def test_valid_arguments_always_give_the_value(call: tuple[str, tuple[object, ...]]) -> None:
    """Every valid call answers (no rule may refuse it) with the value of a formula written here."""
    name, args = call
    value = FUNCTIONS[name](*args)
    numbers = [a if isinstance(a, str) else float(a) for a in args]  # type: ignore[arg-type]
    if name == "lr_gamma":
        initial, final, n = numbers
        assert value == pytest.approx((final / initial) ** (1 / n), rel=1e-15, abs=0)
    elif name == "lr_values":
        initial, final, n = numbers
        assert len(value) == int(n) + 1
        assert (value[0], value[-1]) == (initial, final)  # both ends exact
        expected = [initial * (final / initial) ** (i / n) for i in range(int(n) + 1)]
        assert value == pytest.approx(expected, rel=1e-12, abs=0)
    elif name == "lr_ratio":
        assert value == numbers[1] / numbers[0]
    elif name == "lr_step":
        steps, n, warmup, at = numbers
        assert type(value) is int
        assert value == (steps - warmup) / (n + (at == "last_step"))
    elif name == "lr_milestones":
        steps, n, warmup, at = numbers
        span, plateaus = int(steps - warmup), int(n) + (at == "last_step")
        assert value == [int(warmup) + i * span // plateaus for i in range(1, int(n) + 1)]
        assert all(type(m) is int for m in value)
    elif name == "lr_decay_steps":
        steps, warmup, at = numbers
        assert value == int(steps - warmup) - (at == "last_step")
        assert type(value) is int
    else:
        low, high, num, index = numbers
        expected = 10 ** np.linspace(np.log10(low), np.log10(high), int(num))
        assert value == pytest.approx(expected[int(index)], rel=1e-12, abs=0)
        assert value == {0: low, int(num) - 1: high}.get(int(index), value)  # exact at both ends


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
