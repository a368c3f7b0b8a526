"""The pure core against the seed's numbers, hypothesis invariants, and its bad-input table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bounded_lr_resolver import bounds
from bounded_lr_resolver.bounds import gamma, milestones, step_size
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.errors import BoundedLRError, BoundsError, BoundsTypeError
from bounded_lr_resolver.schedule import Schedule
from tests.strategies import CLASSIC_KINDS

SEED_GAMMA = 0.999309463003  # the seed's worked example, to 12 digits


def test_seed_example() -> None:
    assert abs(gamma(0.1, 1e-4, 10_000) - SEED_GAMMA) < 1e-12
    size = step_size(1e6, 1e4)
    assert size == 100
    assert type(size) is int
    marks = milestones(1e6, 1e4)
    assert marks[:3] == [100, 200, 300]
    assert marks[-1] == 1_000_000
    assert len(marks) == 10_000


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(lambda: step_size(12, 3), 4, id="step-divisible"),
        pytest.param(lambda: step_size(12, 3, 0, "last_step"), 3, id="step-last-step"),
        pytest.param(lambda: step_size(110, 10, 10), 10, id="step-after-warmup"),
        pytest.param(lambda: milestones(10, 3), [3, 6, 10], id="milestones-uneven"),
        pytest.param(lambda: milestones(10, 3, 0, "last_step"), [2, 5, 7], id="milestones-last-step"),
        pytest.param(lambda: milestones(12, 3, 2), [5, 8, 12], id="milestones-warmup"),
        pytest.param(lambda: milestones(5, 5), [1, 2, 3, 4, 5], id="milestones-every-step"),
        pytest.param(lambda: gamma(0.1, 0.1, 5), 1.0, id="gamma-constant"),
        pytest.param(lambda: gamma(1, 1e-3, 3.0), 0.1, id="gamma-int-and-float-args"),
    ],
)
def test_derived_values(call: object, expected: object) -> None:
    result = call()  # type: ignore[operator]
    if isinstance(expected, float):
        assert math.isclose(result, expected, rel_tol=1e-15)
    else:
        assert result == expected


BAD = [
    # (callable, exception type, exact message start)
    pytest.param(
        lambda: gamma(0.1, 0.5, 10),
        BoundsError,
        "lr_gamma: final_lr must be in (0, initial_lr], got final_lr=0.5, initial_lr=0.1. A "
        "bounded decay ends at or below where it starts; were the two swapped?",
        id="final-above-initial",
    ),
    pytest.param(
        lambda: gamma(0.0, 1e-4, 10),
        BoundsError,
        "lr_gamma: initial_lr must be a finite number > 0, got initial_lr=0.0",
        id="zero-initial",
    ),
    pytest.param(
        lambda: gamma(0.1, -1e-4, 10),
        BoundsError,
        "lr_gamma: final_lr must be a finite number > 0, got final_lr=-0.0001",
        id="negative-final",
    ),
    pytest.param(
        lambda: gamma(float("nan"), 1e-4, 10),
        BoundsError,
        "lr_gamma: initial_lr must be a finite number > 0, got initial_lr=nan",
        id="nan",
    ),
    pytest.param(
        lambda: gamma(float("inf"), 1e-4, 10),
        BoundsError,
        "lr_gamma: initial_lr must be a finite number > 0, got initial_lr=inf",
        id="inf",
    ),
    pytest.param(
        lambda: gamma(0.1, 5e-324, 10),
        BoundsError,
        "lr_gamma: final_lr must be a normal float64 (>= 2.2250738585072014e-308), got "
        "final_lr=5e-324. Subnormal learning rates lose precision",
        id="subnormal",
    ),
    pytest.param(
        lambda: gamma("0.1", 1e-4, 10),
        BoundsTypeError,
        "lr_gamma: initial_lr must be a number (int or float), got initial_lr='0.1' (str). "
        "Write the number without quotes; a number from an environment variable is text: "
        "decode it with ${oc.decode:${oc.env:NAME}}",
        id="text-lr",
    ),
    pytest.param(
        lambda: gamma("abc", 1e-4, 10),
        BoundsTypeError,
        "lr_gamma: initial_lr must be a number (int or float), got initial_lr='abc' (str). "
        "Write the number without quotes, e.g. 1e-4",
        id="text-not-a-number",
    ),
    pytest.param(
        lambda: gamma(10**400, 1e-4, 10),
        BoundsError,
        f"lr_gamma: initial_lr must be a finite number > 0, got initial_lr={10**400!r}",
        id="int-beyond-float",
    ),
    pytest.param(
        lambda: gamma(True, 1e-4, 10),
        BoundsTypeError,
        "lr_gamma: initial_lr must be a number (int or float), got initial_lr=True (bool)",
        id="bool-lr",
    ),
    pytest.param(
        lambda: gamma(None, 1e-4, 10),
        BoundsTypeError,
        "lr_gamma: initial_lr must be a number (int or float), got initial_lr=None (NoneType). "
        "Give the value in the config or on the command line",
        id="none-lr",
    ),
    pytest.param(
        lambda: gamma([0.1], 1e-4, 10),
        BoundsTypeError,
        "lr_gamma: initial_lr must be a number (int or float), got initial_lr=[0.1] (list)",
        id="list-lr",
    ),
    pytest.param(
        lambda: gamma(0.1, 1e-4, 0),
        BoundsError,
        "lr_gamma: n_updates must be a whole number >= 1, got n_updates=0",
        id="zero-updates",
    ),
    pytest.param(
        lambda: gamma(0.1, 1e-4, -3),
        BoundsError,
        "lr_gamma: n_updates must be a whole number >= 1, got n_updates=-3",
        id="negative-updates",
    ),
    pytest.param(
        lambda: gamma(0.1, 1e-4, 2.5),
        BoundsError,
        "lr_gamma: n_updates must be a whole number, got n_updates=2.5",
        id="fractional-updates",
    ),
    pytest.param(
        lambda: gamma(0.1, 1e-4, False),
        BoundsTypeError,
        "lr_gamma: n_updates must be a whole number, got n_updates=False (bool)",
        id="bool-updates",
    ),
    pytest.param(
        lambda: gamma(1e300, 1e-300, 1),
        BoundsError,
        "lr_gamma: final_lr / initial_lr must be reachable as gamma**n_updates in float64, got "
        "initial_lr=1e+300, final_lr=1e-300, n_updates=1. The range is too wide for float64; "
        "narrow it or use fewer updates",
        id="range-underflows",
    ),
    pytest.param(
        lambda: step_size(1e18, 10),
        BoundsError,
        "lr_step: max_steps must be <= 2**53 = 9007199254740992, got max_steps=1e+18",
        id="huge-count",
    ),
    pytest.param(
        lambda: step_size(float("inf"), 10),
        BoundsError,
        "lr_step: max_steps must be a whole number, got max_steps=inf",
        id="inf-count",
    ),
    pytest.param(
        lambda: step_size(10, 11),
        BoundsError,
        "lr_step: n_updates must be <= max_steps, got n_updates=11, max_steps=10, warmup_steps=0. "
        "There cannot be more decays than steps",
        id="more-updates-than-steps",
    ),
    pytest.param(
        lambda: step_size(10, 3),
        BoundsError,
        "lr_step: max_steps must be a multiple of n_updates for an evenly stepped decay, got "
        "max_steps=10, n_updates=3, warmup_steps=0. Use kind='multistep' (resolver blr.milestones, "
        "config bounded_lr/multistep), which spreads exactly n_updates decays over any number of "
        "steps",
        id="non-divisible-step",
    ),
    pytest.param(lambda: step_size(12, 3, 0, "last_step"), None, None, id="last-step-divisible-ok"),
    pytest.param(
        lambda: step_size(12, 4, 0, "last_step"),
        BoundsError,
        "lr_step: max_steps must be a multiple of n_updates + 1 for an evenly stepped decay, got "
        "max_steps=12, n_updates=4, warmup_steps=0. Use kind='multistep' (resolver blr.milestones, "
        "config bounded_lr/multistep), which spreads exactly n_updates decays over any number of "
        "steps",
        id="non-divisible-last-step",
    ),
    pytest.param(
        lambda: step_size(100, 10, 100),
        BoundsError,
        "lr_step: warmup_steps must be in [0, max_steps), got warmup_steps=100, max_steps=100. "
        "Warmup must leave steps for the decay",
        id="warmup-too-long",
    ),
    pytest.param(
        lambda: step_size(100, 10, -1),
        BoundsError,
        "lr_step: warmup_steps must be a whole number >= 0, got warmup_steps=-1",
        id="negative-warmup",
    ),
    pytest.param(
        lambda: step_size(100, 95, 10),
        BoundsError,
        "lr_step: n_updates must be <= max_steps - warmup_steps, got n_updates=95, max_steps=100, "
        "warmup_steps=10. There cannot be more decays than steps",
        id="warmup-leaves-too-few-steps",
    ),
    pytest.param(
        lambda: step_size(100, 10, 0, "end"),
        BoundsError,
        "lr_step: final_lr_at must be one of ['max_steps', 'last_step'], got final_lr_at='end'",
        id="bad-convention",
    ),
    pytest.param(
        lambda: milestones(10, 10, 0, "last_step"),
        BoundsError,
        "blr.milestones: n_updates must be <= max_steps - 1 (final_lr_at='last_step' keeps one "
        "step before the first decay), got n_updates=10, max_steps=10, warmup_steps=0. There "
        "cannot be more decays than steps",
        id="last-step-needs-a-spare-step",
    ),
    pytest.param(
        lambda: milestones(2**40, 2**30),
        BoundsError,
        "blr.milestones: n_updates must be <= 10000000 to build a milestone list, got "
        "n_updates=1073741824. Use kind='exponential' or kind='step', which need no list",
        id="milestone-list-too-long",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 100, 10, kind="cosh"),
        BoundsError,  # type: ignore[arg-type]
        f"Schedule: kind must be one of {list(bounds.KINDS)}, got kind='cosh'",
        id="bad-kind",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 100, 10, kind="exponential"),
        BoundsError,
        "Schedule: n_updates must be max_steps - warmup_steps = 100 for kind='exponential', which "
        "decays on every step, got n_updates=10, max_steps=100, warmup_steps=0. Set n_updates=100 "
        "(or leave it out), or use kind='step' or 'multistep'",
        id="exponential-count",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 100, 10, warmup_start_factor=1.5),
        BoundsError,
        "Schedule: warmup_start_factor must be a number in [0, 1], got warmup_start_factor=1.5",
        id="bad-warmup-factor",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_input(call: object, error: type[Exception] | None, message: str | None) -> None:
    if error is None:
        call()  # type: ignore[operator]
        return
    with pytest.raises(error) as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, BoundedLRError)
    assert str(info.value) == message


lrs = st.floats(min_value=1e-8, max_value=10.0)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    kind = draw(st.sampled_from(CLASSIC_KINDS))
    at = draw(st.sampled_from(bounds.FINAL_LR_AT))
    initial = draw(lrs)
    final = draw(
        st.one_of(st.just(initial), st.floats(min_value=initial * 1e-6, max_value=initial * (1 - 1e-9)))
    )
    warmup = draw(st.integers(0, 50))
    if kind == "step":
        count = draw(st.integers(1, 40))
        plateaus = count + (at == "last_step")
        steps = warmup + plateaus * draw(st.integers(1, 30))
    else:
        steps = warmup + draw(st.integers(2, 400))
        count = draw(st.integers(1, steps - warmup - 1))
    shape: dict[str, object] = {}
    if kind == "polynomial":
        shape = {"power": draw(st.floats(0.1, 5.0))}
    elif kind == "wsd":
        shape = {
            "decay_steps": draw(st.integers(1, steps - warmup)),
            "decay_shape": draw(st.sampled_from(["linear", "cosine", "sqrt", "exponential"])),
        }
    return Schedule(
        initial_lr=initial,
        final_lr=final,
        max_steps=steps,
        n_updates=count if kind in ("step", "multistep") else None,
        **shape,  # type: ignore[arg-type]
        kind=kind,
        final_lr_at=at,
        warmup_steps=warmup,
        warmup_start_factor=draw(st.floats(0.0, 1.0)),
    )


@settings(max_examples=300, deadline=None)
@given(schedules())
@example(Schedule(0.1, 1e-4, 12, 3, final_lr_at="last_step"))
@example(Schedule(0.1, 1e-4, 10**6, 10**4))
def test_schedule_invariants(s: Schedule) -> None:
    curve = lr_curve(s, np.arange(s.max_steps + 3))
    expected_start = s.initial_lr * (s.warmup_start_factor if s.warmup_steps else 1.0)
    assert curve[0] == expected_start
    decay = curve[s.warmup_steps : s.max_steps + 1]
    assert decay[0] == s.initial_lr
    assert np.all(np.diff(decay) <= 0)
    assert np.all((decay >= s.final_lr) & (decay <= s.initial_lr))
    if s.final_lr < s.initial_lr and s.stepwise:
        assert np.count_nonzero(np.diff(decay) < 0) == s.count
    hit = s.max_steps - 1 if s.final_lr_at == "last_step" else s.max_steps
    assert curve[hit] == s.final_lr
    if s.stepwise:  # a shape's last step may round to final_lr where the range is very narrow
        assert s.final_lr_at == "last_step" or s.final_lr == s.initial_lr or curve[hit - 1] > s.final_lr
    assert np.all(curve[s.max_steps :] == s.final_lr)
    if s.warmup_steps:
        assert np.all(np.diff(curve[: s.warmup_steps + 1]) >= 0)


@settings(max_examples=100, deadline=None)
@given(schedules(), st.lists(st.integers(0, 10**6), max_size=20), st.floats(1e-6, 1.0))
def test_curve_matches_scalar_form_bitwise(s: Schedule, steps: list[int], scale: float) -> None:
    base = s.initial_lr * scale
    curve = lr_curve(s, np.array(steps, dtype=np.int64), base_lr=base)
    assert curve.tolist() == [s.lr_at(t, base) for t in steps]


def test_too_narrow_range_is_refused_not_flattened() -> None:
    with pytest.raises(
        BoundsError, match=r"lr_gamma: final_lr / initial_lr must be small enough for n_updates distinct"
    ):
        gamma(0.1, 0.1 * (1 - 1e-14), 10**4)
