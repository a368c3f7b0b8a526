"""Every argument of the core's public functions, refused by name: the whole message is the oracle.

A mutation run (tools/mutation.sh) found rules whose message could name the wrong function or
argument without a test failing, and normalized fields nothing read. Each row here fails if the
function, the argument, the value or the rule in the message changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from bounded_lr_resolver import bounds, schedule
from bounded_lr_resolver.bounds import MAX_MILESTONES, decay_steps, lr_ratio, lr_values
from bounded_lr_resolver.errors import BoundedLRError
from bounded_lr_resolver.schedule import Schedule

ROWS = [
    (
        lambda: bounds.gamma(1.0, 1.0 - 1e-16 * 4, 10),
        "lr_gamma: final_lr / initial_lr must be small enough for n_updates distinct decays in float64 "
        "(gamma <= 1 - 1e-15), got initial_lr=1.0, final_lr=0.9999999999999996, n_updates=10, "
        "gamma=1.0. Use fewer updates, or final_lr=initial_lr for a constant LR",
    ),
    (
        lambda: bounds.step_size(110, 3, 10),
        "lr_step: max_steps - warmup_steps must be a multiple of n_updates for an evenly stepped decay, "
        "got max_steps=110, n_updates=3, warmup_steps=10. Use kind='multistep' (resolver blr.milestones, "
        "config bounded_lr/multistep), which spreads exactly n_updates decays over any number of steps",
    ),
    (
        lambda: Schedule(0.1, 1e-4, 100, "x"),  # type: ignore[arg-type]
        "Schedule: n_updates must be a whole number, got n_updates='x' (str). Write the number without "
        "quotes, e.g. 1e-4",
    ),
    (
        lambda: Schedule(0.1, 1e-4, 100, "x", kind="exponential"),  # type: ignore[arg-type]
        "Schedule: n_updates must be a whole number, got n_updates='x' (str). Write the number without "
        "quotes, e.g. 1e-4",
    ),
    (
        lambda: Schedule(0.1, 1e-4, 100, 100, kind="exponential", final_lr_at="last_step"),
        "Schedule: n_updates must be max_steps - warmup_steps - 1 = 99 for kind='exponential', which decays "
        "on every step, got n_updates=100, max_steps=100, warmup_steps=0. Set n_updates=99 (or leave it "
        "out), or use kind='step' or 'multistep'",
    ),
    (
        lambda: Schedule(0.1, 1e-4, 10, 10, kind="multistep", final_lr_at="last_step"),
        "Schedule: n_updates must be <= max_steps - 1 (final_lr_at='last_step' keeps one step before the "
        "first decay), got n_updates=10, max_steps=10, warmup_steps=0. There cannot be more decays than "
        "steps",
    ),
    (lambda: decay_steps(0), "blr.decay_steps: max_steps must be a whole number >= 1, got max_steps=0"),
    (
        lambda: decay_steps(5, -1),
        "blr.decay_steps: warmup_steps must be a whole number >= 0, got warmup_steps=-1",
    ),
    (
        lambda: decay_steps(5, 0, "end"),
        "blr.decay_steps: final_lr_at must be one of ['max_steps', 'last_step'], got final_lr_at='end'",
    ),
    (
        lambda: decay_steps(5, 5),
        "blr.decay_steps: warmup_steps must be in [0, max_steps), got warmup_steps=5, max_steps=5. "
        "Warmup must leave steps for the decay",
    ),
    (lambda: lr_values(0.1, 1e-4, 0), "blr.values: n_updates must be a whole number >= 1, got n_updates=0"),
    (lambda: lr_values(0, 1e-4, 3), "blr.values: initial_lr must be a finite number > 0, got initial_lr=0"),
    (
        lambda: lr_values(0.1, 0, 3),
        "blr.values: final_lr must be > 0 for a step decay, which multiplies by gamma = (final_lr / "
        "initial_lr) "
        "** (1 / n_updates), got final_lr=0. A decay to 0 is a shape: kind=linear | cosine | polynomial "
        "| sqrt "
        "| cosine_restarts | wsd | phases",
    ),
    (
        lambda: lr_values(0.1, -1e-4, 3),
        "blr.values: final_lr must be a finite number > 0, got final_lr=-0.0001",
    ),
    (
        lambda: lr_values(1e-4, 0.1, 3),
        "blr.values: final_lr must be in (0, initial_lr], got final_lr=0.1, initial_lr=0.0001. "
        "A bounded decay ends at or below where it starts; were the two swapped?",
    ),
    (
        lambda: lr_values(1e300, 1e-300, 1),
        "blr.values: final_lr / initial_lr must be reachable as gamma**n_updates in float64, got "
        "initial_lr=1e+300, final_lr=1e-300, n_updates=1. The range is too wide for float64; narrow it "
        "or use fewer updates",
    ),
    (
        lambda: lr_values(0.1, 1e-4, MAX_MILESTONES + 1),
        f"blr.values: n_updates must be <= {MAX_MILESTONES} to build a list of values, got "
        "n_updates=10000001",
    ),
    (lambda: lr_ratio(0, 1e-4), "blr.ratio: initial_lr must be a finite number > 0, got initial_lr=0"),
    (lambda: lr_ratio(0.1, -1), "blr.ratio: final_lr must be 0 or a finite number > 0, got final_lr=-1"),
    (
        lambda: lr_ratio(0.1, 0.2),
        "blr.ratio: final_lr must be in [0, initial_lr], got final_lr=0.2, initial_lr=0.1. "
        "A bounded decay ends at or below where it starts; were the two swapped?",
    ),
    (
        lambda: Schedule(0.1, 1e-4, 100, kind="cosine").milestones(),
        "Schedule: kind must be a step kind for milestones, got kind='cosine'",
    ),
]


@pytest.mark.parametrize(("call", "message"), [pytest.param(c, m, id=m[:60]) for c, m in ROWS])
def test_each_argument_is_refused_by_name(call: Callable[[], object], message: str) -> None:
    with pytest.raises(BoundedLRError) as caught:
        call()
    assert str(caught.value) == message


def test_defaults_of_the_derived_values() -> None:
    assert decay_steps(10) == 10  # warmup_steps=0, final_lr_at="max_steps"
    assert decay_steps(10, 2) == 8
    assert decay_steps(10, 2, "last_step") == 7
    assert lr_ratio(0.1, 1e-4) == 1e-4 / 0.1


def test_lr_values_are_the_schedule_lrs_bit_for_bit_across_the_power_table() -> None:
    """3000 values cross the 1024-entry table of low powers twice: each is gamma**k as lr_at computes it."""
    values = lr_values(0.1, 1e-4, 3000)
    s = Schedule(0.1, 1e-4, 3000, 3000, kind="multistep")
    assert values == [s.lr_at(k) for k in range(3001)]
    assert values[1025] == pytest.approx(0.1 * s.gamma**1025, rel=1e-13)
    assert bounds.decayed(s.gamma, 2049) == s.gamma ** (2049 - 1) * s.gamma


@pytest.mark.slow
def test_lr_values_builds_the_largest_list_it_promises() -> None:
    assert len(lr_values(0.1, 1e-4, MAX_MILESTONES)) == MAX_MILESTONES + 1


def test_the_core_has_no_import_cycle_back_to_the_schedule() -> None:
    """``bounds`` no longer re-exports ``Schedule`` (that import ran through a cycle): it says so."""
    assert not hasattr(bounds, "Schedule")
    assert schedule.SCHEDULE_FIELDS[:3] == ("initial_lr", "final_lr", "max_steps")
    with pytest.raises(AttributeError, match=r"has no attribute 'nope'$"):
        _ = bounds.nope  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"kind": "cosine"},
            {"power": None, "decay_steps": None, "decay_shape": None, "start": 0, "first": 1},
            id="cosine",
        ),
        pytest.param(
            {"kind": "polynomial"},
            {"power": 1.0, "decay_steps": None, "decay_shape": None, "start": 0, "first": 1},
            id="polynomial",
        ),
        pytest.param(
            {"kind": "wsd", "decay_steps": 3e1, "warmup_steps": 10},  # YAML's 3e1 is a float
            {"power": None, "decay_steps": 30, "decay_shape": "cosine", "start": 70, "first": 71},
            id="wsd",
        ),
    ],
)
def test_a_shape_normalizes_its_fields(fields: dict[str, object], expected: dict[str, object]) -> None:
    s = Schedule(0.1, 1e-4, 100, **fields)  # type: ignore[arg-type]
    assert (s.power, s.decay_steps, s.decay_shape) == (
        expected["power"],
        expected["decay_steps"],
        expected["decay_shape"],
    )
    assert type(s.power) is (float if s.power is not None else type(None))
    assert type(s.decay_steps) is (int if s.decay_steps is not None else type(None))
    assert (s.decay_start, s.first_decay_step, s.last_decay_step) == (
        expected["start"],
        expected["first"],
        100,
    )
    assert s.change_steps == 100 - int(expected["start"])  # type: ignore[call-overload]
    assert not s.stepwise
    assert (s.n_updates, s.count, s.plateaus, s.low_powers, s.step_size) == (None, 0, 0, (), None)
    assert math.isnan(s.gamma)


def test_a_step_kind_milestones_and_key_steps() -> None:
    s = Schedule(0.1, 1e-4, 110, 4, kind="multistep", warmup_steps=10, final_lr_at="last_step")
    assert s.milestones() == bounds.milestones(110, 4, 10, "last_step") == [30, 50, 70, 90]
    assert (s.decay_start, s.first_decay_step, s.last_decay_step, s.change_steps) == (29, 30, 90, 4)
    assert [s.decays_at(t) for t in (9, 29, 30, 89, 90, 500)] == [0, 0, 1, 3, 4, 4]
    assert s.stepwise
    assert s.bounds() == {
        "initial_lr": 0.1,
        "final_lr": 1e-4,
        "max_steps": 110,
        "n_updates": 4,
        "kind": "multistep",
        "final_lr_at": "last_step",
        "warmup_steps": 10,
        "warmup_start_factor": 0.0,
    }
    assert Schedule(0.1, 1e-4, 100, kind="wsd", decay_steps=5).bounds() == {
        "initial_lr": 0.1,
        "final_lr": 1e-4,
        "max_steps": 100,
        "kind": "wsd",
        "final_lr_at": "max_steps",
        "warmup_steps": 0,
        "warmup_start_factor": 0.0,
        "decay_steps": 5,
        "decay_shape": "cosine",
    }
