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
from bounded_lr_resolver.errors import BoundedLRError, package_error
from bounded_lr_resolver.schedule import Schedule
from tests.strategies import REACH_ZERO_KINDS

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
        "blr.values: final_lr must be > 0 for a step decay, whose LRs are ratios of its ends, got "
        f"final_lr=0. These can reach 0: kind={' | '.join(REACH_ZERO_KINDS)}",
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


NUMBER_HINT = (
    "Write the number without quotes; a number from an environment variable is text: decode it with "
    "${oc.decode:${oc.env:NAME}}"
)
BASE_LRS = [
    pytest.param(
        "0.1", f"base_lr must be a number (int or float), got base_lr='0.1' (str). {NUMBER_HINT}", id="text"
    ),
    pytest.param(True, "base_lr must be a number (int or float), got base_lr=True (bool)", id="bool"),
    pytest.param(b"0.1", "base_lr must be a number (int or float), got base_lr=b'0.1' (bytes)", id="bytes"),
    pytest.param([0.1], "base_lr must be a number (int or float), got base_lr=[0.1] (list)", id="list"),
    pytest.param(math.inf, "base_lr must be 0 or a finite number > 0, got base_lr=inf", id="inf"),
    pytest.param(math.nan, "base_lr must be 0 or a finite number > 0, got base_lr=nan", id="nan"),
    pytest.param(-1, "base_lr must be 0 or a finite number > 0, got base_lr=-1", id="negative"),
    pytest.param(10**400, f"base_lr must be 0 or a finite number > 0, got base_lr={10**400}", id="huge-int"),
    pytest.param(
        1e-320,
        "base_lr must be 0 or a normal float64 (>= 2.2250738585072014e-308), got base_lr=1e-320. Use 0 to "
        "decay to zero",
        id="subnormal",
    ),
]
"""A param group's base LR that no group can start from, and the message (after ``<where>: ``)."""


def _entry_points() -> list[tuple[str, Callable[[object], object]]]:
    from bounded_lr_resolver.curve import lr_curve
    from bounded_lr_resolver.preview import preview

    s = Schedule(0.1, 1e-4, 100, 10)
    return [
        ("Schedule.lr_at", lambda base: s.lr_at(5, base)),  # type: ignore[arg-type]
        ("Schedule.plan_for", lambda base: s.plan_for(base)),  # type: ignore[arg-type]
        ("Schedule.ends", lambda base: s.ends(base)),  # type: ignore[arg-type]
        ("lr_curve", lambda base: lr_curve(s, [5], base)),  # type: ignore[arg-type]
        ("lr_curve", lambda base: lr_curve(s.plan, [5], base)),  # type: ignore[arg-type]
        ("lr_curve", lambda base: preview(s, base)),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(("base_lr", "message"), BASE_LRS)
def test_a_base_lr_is_refused_by_name_where_it_enters(base_lr: object, message: str) -> None:
    """``base_lr`` was scaled into the plan unchecked: inf accepted, '0.1' a bare TypeError, -1 and NaN
    blamed on ``Schedule: start_lr``. Every public door it enters by checks it, under its own name."""
    for where, call in _entry_points():
        with pytest.raises(BoundedLRError) as caught:
            call(base_lr)
        assert str(caught.value) == f"{where}: {message}", where


def test_a_valid_base_lr_scales_the_schedule_at_every_entry_point() -> None:
    from bounded_lr_resolver.curve import lr_curve

    s = Schedule(0.1, 1e-4, 100, 10)
    assert s.ends(0.05) == (0.05, 0.05 * (1e-4 / 0.1))
    assert s.ends(0) == (0.0, 0.0)  # a frozen group
    assert s.lr_at(100, 0.05) == lr_curve(s, [100], 0.05)[0] == s.ends(0.05)[1]
    assert s.lr_at(5, 0.1) == s.lr_at(5) == s.lr_at(5, None)
    assert s.lr_at(0, 1) == 1.0  # an int is a number


def test_lr_curve_takes_steps_beyond_int64_as_after_the_end() -> None:
    """``[2**63, 1]`` (a Python int past int64 next to a small one) was refused as 'not whole numbers'."""
    from bounded_lr_resolver.curve import lr_curve

    s = Schedule(0.1, 1e-4, 100, 10)
    assert lr_curve(s, [2**63, 1]).tolist() == [1e-4, 0.1]
    assert lr_curve(s, [1, 2**64 + 5, 0]).tolist() == [0.1, 1e-4, 0.1]
    with pytest.raises(BoundedLRError, match=r"^lr_curve: steps must be scheduler step counts >= 0"):
        lr_curve(s, [2**63, -1])


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(
    ("interpolation", "message"),
    [
        pytest.param(
            "${blr.values:0.1}",
            "blr.values: arguments must be initial_lr, final_lr, n_updates (3 values), got arguments=[0.1]. "
            "Write ${blr.values:initial_lr,final_lr,n_updates}",
            id="values-too-few",
        ),
        pytest.param(
            "${lr_gamma:0.1}",
            "lr_gamma: arguments must be initial_lr, final_lr, n_updates (3 values), got arguments=[0.1]. "
            "Write ${lr_gamma:initial_lr,final_lr,n_updates}",
            id="gamma-too-few",
        ),
        pytest.param(
            "${blr.gamma:0.1,1e-4,10,1}",
            "blr.gamma: arguments must be initial_lr, final_lr, n_updates (3 values), got arguments=[0.1, "
            "0.0001, 10, 1]. Write ${blr.gamma:initial_lr,final_lr,n_updates}",
            id="namespaced-gamma-too-many",
        ),
        pytest.param(
            "${lr_step:1000}",
            "lr_step: arguments must be max_steps, n_updates[, warmup_steps[, final_lr_at]] (2 to 4 values), "
            "got arguments=[1000]. Write ${lr_step:max_steps,n_updates[,warmup_steps[,final_lr_at]]}",
            id="step-optional",
        ),
        pytest.param(
            "${blr.milestones:10,2,0,max_steps,1}",
            "blr.milestones: arguments must be max_steps, n_updates[, warmup_steps[, final_lr_at]] (2 to 4 "
            "values), got arguments=[10, 2, 0, 'max_steps', 1]. "
            "Write ${blr.milestones:max_steps,n_updates[,warmup_steps[,final_lr_at]]}",
            id="list-valued-too-many",
        ),
        pytest.param(
            "${blr.derived:}",
            "blr.derived: arguments must be key (1 value), got arguments=[]. Write ${blr.derived:key}",
            id="derived-none",
        ),
        pytest.param(
            "${blr.steps:}",
            "blr.steps: arguments must be length[, per] (1 to 2 values), got arguments=[]. "
            "Write ${blr.steps:length[,per]}",
            id="steps-none",
        ),
    ],
)
def test_a_wrong_number_of_resolver_arguments_names_the_resolver_and_its_parameters(
    interpolation: str, message: str
) -> None:
    """OmegaConf called our Python function anyway: ``lr_values() takes 3 positional arguments``."""
    from omegaconf import OmegaConf

    with pytest.raises(Exception, match=r"raised while resolving interpolation") as caught:
        _ = OmegaConf.create({"node": {"value": interpolation}}).node.value
    ours, key = package_error(caught.value)
    assert str(ours) == message
    assert isinstance(ours, TypeError)
    assert key == "node.value"


@pytest.mark.usefixtures("registered")
def test_every_resolver_keeps_its_signature_and_pickles_by_reference() -> None:
    """The one check wraps every resolver: OmegaConf still passes ``_parent_``, launchers still pickle it."""
    import inspect
    import pickle

    from omegaconf import OmegaConf

    from bounded_lr_resolver import _compat
    from bounded_lr_resolver.resolvers import RESOLVERS

    for name, resolver in RESOLVERS.items():
        found = _compat.registered_function(name)
        assert pickle.loads(pickle.dumps(found)) is found, name
        assert "_parent_" in inspect.signature(resolver).parameters or name != "blr.derived"
    node = OmegaConf.create(
        {"kind": "step", "initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 100, "n_updates": 10}
    )
    node.step_size = "${blr.derived:step_size}"
    assert node.step_size == 10
