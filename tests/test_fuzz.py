"""Fuzzing the factory and the closed form: every valid input gives a correct result, every input
that breaks one rule our error naming that argument, and anything else a value or our error.

Valid and invalid inputs are generated separately, so a rule that refuses a valid input fails here
as surely as one that lets an invalid input through.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounded_lr_resolver import build_scheduler
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.errors import BoundedLRError
from bounded_lr_resolver.schedule import Schedule
from tests.conftest import ANYTHING
from tests.test_contract import declared

anything = ANYTHING
lrs = st.one_of(st.floats(1e-6, 1.0), anything)
counts = st.one_of(st.integers(1, 10_000), anything)
kinds = st.one_of(st.sampled_from(["step", "multistep", "exponential"]), anything)
conventions = st.one_of(st.sampled_from(["max_steps", "last_step"]), anything)

BAD: dict[str, list[object]] = {
    "initial_lr": [0, -0.1, math.nan, math.inf, "0.1", True],  # None: the optimizer's lr (a valid choice)
    "final_lr": [-1e-4, math.nan, math.inf, "1e-4", False, None, 11.0],  # 11.0: above any initial_lr
    "max_steps": [0, -5, 100.5, "100", None, True, 2**53 + 1, math.inf],
    "n_updates": [0, -1, 2.5, "3", True],
    "kind": ["Step", "cosine_annealing", 3],
    "final_lr_at": ["end", None, 1, "last"],
    "warmup_steps": [-1, 1.5, "2", None, True, "max_steps"],  # "max_steps": the draw's max_steps
    "warmup_start_factor": [-0.1, 1.5, math.nan, "0.5", None],
}
"""Values that break a rule of one argument whatever the other arguments are."""


def sgd(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declared(valid=True))
def test_every_valid_declaration_builds_the_declared_schedule(fields: dict[str, object]) -> None:
    scheduler = build_scheduler(sgd(fields["initial_lr"]), **fields)  # type: ignore[arg-type]
    s = scheduler.schedules[0]
    for name, value in fields.items():
        if value is not None:
            assert getattr(s, name) == value, name
    assert scheduler.lrs_at(s.warmup_steps) == [s.initial_lr]
    end = s.max_steps - 1 if s.final_lr_at == "last_step" else s.max_steps
    assert scheduler.lrs_at(end) == [s.final_lr]
    assert scheduler.get_last_lr() == [s.lr_at(0)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declared(valid=True), st.sampled_from(sorted(BAD)), st.data())
def test_breaking_one_rule_is_our_error_naming_the_argument(
    fields: dict[str, object], name: str, data: st.DataObject
) -> None:
    bad = data.draw(st.sampled_from(BAD[name]))
    bad = fields["max_steps"] if bad == "max_steps" else bad
    optimizer = sgd(fields["initial_lr"])  # type: ignore[arg-type]
    before = optimizer.state_dict()
    with pytest.raises(BoundedLRError) as caught:
        build_scheduler(optimizer, **{**fields, name: bad})  # type: ignore[arg-type]
    text = str(caught.value)
    assert text.startswith(f"build_scheduler: {name} "), text
    assert f"got {name}=" in text or name in ("final_lr", "warmup_steps"), text
    assert optimizer.state_dict() == before  # nothing half-applied (no initial_lr written)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=lrs,
    final=lrs,
    steps=counts,
    updates=st.one_of(st.none(), counts),
    kind=kinds,
    at=conventions,
    warmup=st.one_of(st.integers(0, 100), anything),
    factor=st.one_of(st.floats(0, 1), anything),
)
def test_anything_gives_a_bounded_scheduler_or_our_error(
    initial: object,
    final: object,
    steps: object,
    updates: object,
    kind: object,
    at: object,
    warmup: object,
    factor: object,
) -> None:
    usable = isinstance(initial, float) and math.isfinite(initial) and initial > 0
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=initial if usable else 0.1)  # type: ignore[arg-type]
    try:
        scheduler = build_scheduler(
            optimizer,
            initial_lr=initial,
            final_lr=final,
            max_steps=steps,  # type: ignore[arg-type]
            n_updates=updates,
            kind=kind,
            final_lr_at=at,
            warmup_steps=warmup,  # type: ignore[arg-type]
            warmup_start_factor=factor,
        )  # type: ignore[arg-type]
    except BoundedLRError:
        return
    s = scheduler.schedules[0]
    probe = [0, s.warmup_steps, s.max_steps - 1, s.max_steps, s.max_steps + 7]
    values = scheduler.lrs_at(0), *(scheduler.lrs_at(t) for t in probe)
    for (value,) in values:
        assert 0.0 <= value <= s.initial_lr
    assert scheduler.lrs_at(s.warmup_steps) == [s.initial_lr]
    assert scheduler.lrs_at(s.max_steps) == [s.final_lr]
    decay = [
        scheduler.lrs_at(t)[0] for t in range(s.warmup_steps, min(s.max_steps, s.warmup_steps + 300) + 1)
    ]
    assert all(b <= a for a, b in itertools.pairwise(decay))
    assert min(decay) >= s.final_lr


SCHEDULE = Schedule(0.1, 1e-4, 1000, 7, kind="multistep", warmup_steps=10)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.one_of(
        st.lists(st.integers(0, 2**63 - 1), max_size=8),
        st.lists(st.integers(0, 2**70), max_size=8),  # past int64: clipped, never wrapped
        st.integers(0, 10**6),
    )
)
def test_closed_form_of_valid_steps_is_lr_at(steps: object) -> None:
    curve = np.atleast_1d(lr_curve(SCHEDULE, steps))  # type: ignore[arg-type]
    flat = np.atleast_1d(np.asarray(steps, dtype=object)).tolist()
    assert curve.tolist() == [SCHEDULE.lr_at(int(t)) for t in flat]


@settings(max_examples=200, deadline=None)
@given(
    steps=st.one_of(
        st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=8).filter(lambda v: min(v) < 0),
        st.lists(st.floats(allow_nan=True), min_size=1, max_size=4),
        st.integers(-(2**40), -1),
        st.lists(st.text(max_size=3), min_size=1, max_size=3),
    )
)
def test_closed_form_refuses_what_is_not_a_step_count(steps: object) -> None:
    with pytest.raises(BoundedLRError, match=r"^lr_curve: steps must be "):
        lr_curve(SCHEDULE, steps)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    steps=st.one_of(
        st.lists(st.integers(-(2**63), 2**63 - 1), max_size=8),
        st.lists(st.floats(allow_nan=True), max_size=4),
        st.integers(-5, 10**6),
    )
)
def test_closed_form_gives_bounded_values_or_our_error(steps: object) -> None:
    try:
        curve = lr_curve(SCHEDULE, steps)  # type: ignore[arg-type]
    except BoundedLRError:
        return
    assert np.all((curve >= 0) & (curve <= 0.1))
    flat = np.atleast_1d(np.asarray(steps))
    assert np.all(np.atleast_1d(curve)[flat >= 1000] == 1e-4)
