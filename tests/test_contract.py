"""The contract, as one property over random bounds and every kind: a schedule is exact, or refused.

Random (initial_lr, final_lr, kind, max_steps, n_updates or shape parameters, warmup, convention),
with a third of the ranges so narrow that gamma lies within 1e-9 of 1 (where float64 rounding of
gamma, raised to the power n_updates, used to end the decay early): for a step kind either our
error is raised at build time, or the closed form over every step 0..max_steps+2 keeps every
promise. A continuous kind (cosine, linear, polynomial, wsd) drawn here is always valid and must be
built. The references are written here, not taken from the code under test: the decay count is
counted on the curve, and each shape's formula is the issue's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bounded_lr_resolver import bounds
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.errors import BoundedLRError
from bounded_lr_resolver.schedule import Schedule
from tests.conftest import examples
from tests.strategies import CLASSIC_KINDS

EXAMPLES = examples(20_000)


@st.composite
def declared(draw: st.DrawFn, valid: bool = False) -> dict[str, object]:
    """Random bounds of any kind; ``valid=True`` leaves out the hard narrow ranges a step kind may refuse."""
    kind = draw(st.sampled_from(CLASSIC_KINDS))
    at = draw(st.sampled_from(bounds.FINAL_LR_AT))
    initial = draw(st.floats(1e-6, 10.0))
    narrow = st.floats(1e-15, 1e-9)  # gamma within 1e-9 of 1: the hard case
    shrink = draw(
        st.one_of(
            st.floats(1e-6 if valid else 1e-9, 1.0, exclude_max=True),
            *([] if valid else [narrow]),
            st.just(0.0),  # a constant LR
        )
    )
    final = initial * (1.0 - shrink)
    warmup = draw(st.integers(0, 20))
    count = draw(st.integers(1, 300))
    plateaus = count + (at == "last_step")
    if kind == "step":
        steps = warmup + plateaus * draw(st.integers(1, 5))
    else:
        steps = warmup + draw(st.integers(plateaus, plateaus + 600))
    fields = {
        "initial_lr": initial,
        "final_lr": final,
        "max_steps": steps,
        "n_updates": count if kind in ("step", "multistep") else None,
        "kind": kind,
        "final_lr_at": at,
        "warmup_steps": warmup,
        "warmup_start_factor": draw(st.floats(0.0, 1.0)),
    }
    if kind == "polynomial":
        fields["power"] = draw(st.one_of(st.floats(0.05, 8.0), st.sampled_from([0.5, 1.0, 2.0])))
    if kind == "wsd":
        fields["decay_steps"] = draw(st.integers(1, steps - warmup))
        fields["decay_shape"] = draw(st.sampled_from(["linear", "cosine", "sqrt", "exponential"]))
    return fields


def shape_formula(s: Schedule, t: int) -> float:
    """The issue's formula for a continuous kind at step t >= warmup (x clipped to [0, 1])."""
    i, f = s.initial_lr, s.final_lr
    end = s.max_steps - 1 if s.final_lr_at == "last_step" else s.max_steps
    start = s.max_steps - s.decay_steps if s.kind == "wsd" else s.warmup_steps  # type: ignore[operator]
    x = 1.0 if t >= end else 0.0 if t <= start else (t - start) / (end - start)
    shape = s.decay_shape if s.kind == "wsd" else s.kind
    if shape == "cosine":
        return f + (i - f) * (1 + math.cos(math.pi * x)) / 2
    if shape == "linear":
        return i + (f - i) * x
    if shape == "polynomial":
        return f + (i - f) * (1 - x) ** s.power  # type: ignore[operator]
    if shape == "sqrt":
        return f + (i - f) * (1 - math.sqrt(x))
    assert shape == "exponential"
    return i * (f / i) ** x


def check_contract(s: Schedule) -> None:
    curve = lr_curve(s, np.arange(s.max_steps + 3))
    start = s.initial_lr * (s.warmup_start_factor if s.warmup_steps else 1.0)
    assert curve[0] == start, "starts at initial_lr (or the warmup start)"
    decay = curve[s.warmup_steps : s.max_steps + 1]
    assert decay[0] == s.initial_lr, "the decay starts at initial_lr"
    assert np.all(np.diff(decay) <= 0), "never increases after warmup"
    assert np.all((decay >= s.final_lr) & (decay <= s.initial_lr)), "stays in [final_lr, initial_lr]"
    hit = s.max_steps - 1 if s.final_lr_at == "last_step" else s.max_steps
    assert curve[hit] == s.final_lr, "final_lr exactly where promised"
    assert np.all(curve[s.max_steps :] == s.final_lr), "held after max_steps"
    if s.kind in ("step", "multistep", "exponential"):
        expected = s.count if s.final_lr < s.initial_lr else 0
        assert np.count_nonzero(np.diff(decay) < 0) == expected, "exactly n_updates decays"
        if s.final_lr_at == "max_steps" and s.final_lr < s.initial_lr:
            assert curve[hit - 1] > s.final_lr, "and not before (torch's convention)"
        return
    # before the end (which is final_lr exactly, asserted above; the linear formula evaluated at
    # x = 1 is not, by cancellation)
    formula = np.array([shape_formula(s, t) for t in range(s.warmup_steps, hit)])
    assert np.allclose(curve[s.warmup_steps : hit], formula, rtol=1e-12, atol=0), "the formula to 1e-12"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same 20,000 examples on every run and machine
)
@given(declared())
@example(
    {
        "initial_lr": 1.0,
        "final_lr": 0.9999999999983652,
        "max_steps": 1000,
        "n_updates": 1000,
        "kind": "multistep",
        "final_lr_at": "max_steps",
        "warmup_steps": 0,
        "warmup_start_factor": 0.0,
    }
)
def test_every_schedule_is_exact_or_refused(fields: dict[str, object]) -> None:
    if fields["kind"] in bounds.CONTINUOUS_KINDS:  # always valid: refusing one is a failure
        check_contract(Schedule(**fields))  # type: ignore[arg-type]
        return
    initial, final = fields["initial_lr"], fields["final_lr"]
    try:
        schedule = Schedule(**fields)  # type: ignore[arg-type]
    except BoundedLRError:
        # only a range so narrow that float64 cannot hold n_updates distinct decays may be refused
        assert initial * (1 - 1e-6) < final < initial, fields  # type: ignore[operator]
        return
    check_contract(schedule)


def test_the_narrow_range_that_ended_early_is_refused() -> None:
    """Found by a hypothesis search: 982 of 1000 decays, final_lr from step 982. Now an error."""
    with pytest.raises(BoundedLRError) as caught:
        Schedule(1.0, 0.9999999999983652, 1000, 1000, kind="multistep")
    assert str(caught.value) == (
        "Schedule: final_lr / initial_lr must be wide enough for exactly n_updates decays in float64 "
        "(the LR after n_updates - 1 decays must still be above final_lr), got initial_lr=1.0, "
        "final_lr=0.9999999999983652, n_updates=1000, LR after n_updates - 1 decays=0.9999999999983363. "
        "Use fewer updates, or a wider range"
    )
