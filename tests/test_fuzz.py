"""Fuzzing the factory and the closed form: a correct scheduler or our own error, nothing else."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounded_lr_resolver import build_scheduler
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.errors import BoundedLRError
from bounded_lr_resolver.schedule import Schedule
from tests.conftest import ANYTHING

anything = ANYTHING
lrs = st.one_of(st.floats(1e-6, 1.0), anything)
counts = st.one_of(st.integers(1, 10_000), anything)
kinds = st.one_of(st.sampled_from(["step", "multistep", "exponential"]), anything)
conventions = st.one_of(st.sampled_from(["max_steps", "last_step"]), anything)


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
def test_factory_gives_a_bounded_scheduler_or_our_error(
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


@settings(max_examples=200, deadline=None)
@given(
    steps=st.one_of(
        st.lists(st.integers(-(2**63), 2**63 - 1), max_size=8),
        st.lists(st.floats(allow_nan=True), max_size=4),
        st.integers(-5, 10**6),
    )
)
def test_closed_form_gives_bounded_values_or_our_error(steps: object) -> None:
    schedule = Schedule(0.1, 1e-4, 1000, 7, kind="multistep", warmup_steps=10)
    try:
        curve = lr_curve(schedule, steps)  # type: ignore[arg-type]
    except BoundedLRError:
        return
    assert np.all((curve >= 0) & (curve <= 0.1))
    flat = np.atleast_1d(np.asarray(steps))
    assert np.all(np.atleast_1d(curve)[flat >= 1000] == 1e-4)
