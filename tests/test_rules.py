"""Every validation rule, tolerance, default and rarely taken path pinned by a fast test.

A mutation run found rules that could be deleted, tolerances that could be loosened a million
times and branches no test ran, with every test still passing. Each test here fails if its rule,
tolerance or branch goes; messages are compared in full. Oracles are written here (formulas with
Python ints, torch's own schedulers), not taken from the code under test.
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import StepLR

from bounded_lr_resolver import BoundedLR, bounds, build_scheduler, register_resolvers
from bounded_lr_resolver.bounds import MAX_MILESTONES, lr_values, milestones
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.errors import (
    BoundedLRError,
    BoundsError,
    BoundsTypeError,
    ResumeMismatchError,
    StepCountWarning,
)
from bounded_lr_resolver.resolvers import lr_decay_steps
from bounded_lr_resolver.schedule import Schedule


def sgd(*lrs: float | torch.Tensor) -> torch.optim.Optimizer:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs], lr=0.1)


def k_of(step: int, warmup: int, decay_steps: int, plateaus: int, count: int) -> int:
    """The decay count at a step, written out with Python ints (the module docstring's formula)."""
    return 0 if step < warmup else min(count, ((step - warmup + 1) * plateaus - 1) // decay_steps)


RULES = [
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 10, 2, warmup_steps=2, warmup_start_factor="0.5"),
        BoundsTypeError,
        "Schedule: warmup_start_factor must be a number in [0, 1], got warmup_start_factor='0.5' (str)",
        id="factor-type",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 10, 2, warmup_steps=2, warmup_start_factor=1.5),
        BoundsError,
        "Schedule: warmup_start_factor must be a number in [0, 1], got warmup_start_factor=1.5",
        id="factor-range",
    ),
    pytest.param(
        lambda: lr_values(0.1, 1e-4, MAX_MILESTONES + 1),
        BoundsError,
        "blr.values: n_updates must be <= 10000000 to build a list of values, got n_updates=10000001",
        id="values-limit",
    ),
    pytest.param(
        lambda: milestones(MAX_MILESTONES + 1, MAX_MILESTONES + 1),
        BoundsError,
        "blr.milestones: n_updates must be <= 10000000 to build a milestone list, got n_updates=10000001. "
        "Use kind='exponential' or kind='step', which need no list",
        id="milestones-limit",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 2, None, kind="exponential", final_lr_at="last_step", warmup_steps=1),
        BoundsError,
        "Schedule: max_steps - warmup_steps must be >= 2 for kind='exponential' with "
        "final_lr_at='last_step', got max_steps=2, warmup_steps=1",
        id="exponential-too-short",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 10, 2).lr_at(-1),
        BoundsError,
        "Schedule: step must be a scheduler step count >= 0, got step=-1",
        id="negative-step",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 11, 2, warmup_steps=3).lr_at(-2),
        BoundsError,
        "Schedule: step must be a scheduler step count >= 0, got step=-2",
        id="negative-step-in-warmup",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 9 * 10**15, None, kind="exponential"),
        BoundsError,
        "Schedule: final_lr / initial_lr must be small enough for n_updates distinct decays in float64 "
        "(gamma <= 1 - 1e-15), got initial_lr=0.1, final_lr=0.0001, n_updates=9000000000000000, "
        "gamma=0.9999999999999992. Use kind='multistep' with fewer n_updates (kind='exponential' makes one "
        "decay per step, n_updates = 9000000000000000), or kind='phases' with the continuous exponential "
        "shape: phases=[{shape: exponential, steps: 9000000000000000, end_lr: 0.0001}], or "
        "final_lr=initial_lr for a constant LR",
        id="exponential-past-float64",
    ),
    pytest.param(
        lambda: Schedule(0.1, 1e-4, 10**12, None, kind="exponential"),
        BoundsError,
        "Schedule: final_lr / initial_lr must be wide enough for exactly n_updates decays in float64 (the "
        "LR after n_updates - 1 decays must still be above final_lr), got initial_lr=0.1, final_lr=0.0001, "
        "n_updates=1000000000000, LR after n_updates - 1 decays=9.999476211192834e-05. Use kind='multistep' "
        "with fewer n_updates (kind='exponential' makes one decay per step, n_updates = 1000000000000), or "
        "kind='phases' with the continuous exponential shape: phases=[{shape: exponential, steps: "
        "1000000000000, end_lr: 0.0001}], or a wider range",
        id="exponential-whose-gamma-rounds-early",
    ),
    pytest.param(
        lambda: build_scheduler(
            sgd(0.1, 0.02), initial_lr=[0.1, 0.01], final_lr=[1e-3, 1e-4], max_steps=10, n_updates=2
        ),
        BoundsError,
        "build_scheduler: initial_lr[1] must be param group 1's lr, got initial_lr[1]=0.01, group lr=0.02",
        id="per-group-initial-lr",
    ),
    pytest.param(
        lambda: build_scheduler(
            sgd(torch.tensor(0.1), torch.tensor(0.0100002)),
            initial_lr=[0.1, 0.01],
            final_lr=[1e-3, 1e-4],
            max_steps=10,
            n_updates=2,
        ),
        BoundsError,
        "build_scheduler: initial_lr[1] must be param group 1's lr, got initial_lr[1]=0.01, "
        "group lr=0.010000200010836124",
        id="per-group-tensor-tolerance",
    ),
    pytest.param(
        lambda: build_scheduler(
            sgd(0.1),
            initial_lr=0.1,
            final_lr=1e-4,
            max_steps=12,
            n_updates=3,
            kind="multistep",
            milestones=[4, 8, 11],
        ),
        BoundsError,
        "build_scheduler: milestones must be the milestones derived from the bounds (or left out), "
        "got milestones=[4, 8, 11], derived=[4, 8, 12]. Change max_steps, n_updates or warmup_steps "
        "instead of milestones",
        id="milestones",
    ),
    pytest.param(
        lambda: build_scheduler(
            sgd(0.1 * (1 + 1e-11)), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2
        ),
        BoundsError,
        "build_scheduler: initial_lr must be the optimizer's (largest param group's) lr, got initial_lr=0.1, "
        "optimizer lrs=[0.10000000000100001]. Build the optimizer with lr=initial_lr (in a config, lr: "
        "${<the scheduler node's key>.initial_lr}), or give per-group lists: initial_lr=[...], "
        "final_lr=[...]",
        id="float-lr-tolerance",
    ),
    pytest.param(
        lambda: build_scheduler(
            sgd(0.1), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2, gamma=0.1**1.5 * (1 + 1e-11)
        ),
        BoundsError,
        "build_scheduler: gamma must be the gamma derived from the bounds (or left out), got "
        f"gamma={0.1**1.5 * (1 + 1e-11)!r}, derived gamma={(1e-3) ** 0.5!r}. Change initial_lr, final_lr or "
        "n_updates instead of gamma",
        id="gamma-tolerance",
    ),
    pytest.param(
        lambda: register_resolvers(on_conflict="bogus"),  # type: ignore[arg-type]
        BoundsError,
        "register_resolvers: on_conflict must be one of ['raise', 'skip'], got on_conflict='bogus'",
        id="on-conflict",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), RULES)
def test_rule(call: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        call()  # type: ignore[operator]
    assert str(caught.value) == message


def test_values_just_inside_the_rules_are_accepted() -> None:
    """The other side of each boundary above, so a rule cannot be tightened unnoticed."""
    assert len(milestones(MAX_MILESTONES, MAX_MILESTONES)) == MAX_MILESTONES  # the 10**7 boundary
    assert (
        Schedule(0.1, 1e-4, 3, None, kind="exponential", final_lr_at="last_step", warmup_steps=1).count == 1
    )
    assert Schedule(0.1, 1e-4, 10**6, None, kind="exponential").count == 10**6
    # the smallest normal float is a final_lr, and gamma == 1 - 1e-15 still gives a distinct decay
    assert bounds.gamma(0.1, sys.float_info.min, 1) == sys.float_info.min / 0.1
    assert bounds.gamma(1.0, 1.0 - 1e-15, 1) == 1.0 - 1e-15
    tensors = build_scheduler(
        sgd(torch.tensor(0.1), torch.tensor(0.01)),
        initial_lr=[0.1, 0.01],
        final_lr=[1e-3, 1e-4],
        max_steps=10,
        n_updates=2,
    )
    assert tensors.base_lrs_exact == (0.1, 0.01)  # fp32 tensors within one rounding, snapped to the declared
    near = build_scheduler(sgd(0.1 * (1 + 1e-13)), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    assert near.base_lrs_exact == (0.1,)
    gamma = (1e-3) ** 0.5
    shown = build_scheduler(
        sgd(0.1), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2, gamma=gamma * (1 + 1e-13)
    )
    assert (
        shown.schedules[0].gamma == gamma
    )  # a shown gamma within 1e-12 is accepted; the derived one is used
    right = build_scheduler(
        sgd(0.1),
        initial_lr=0.1,
        final_lr=1e-4,
        max_steps=12,
        n_updates=3,
        kind="multistep",
        milestones=[4, 8, 12],
    )
    assert right.schedules[0].milestones() == [4, 8, 12]
    assert register_resolvers(on_conflict="skip") == []


def test_defaults() -> None:
    s = Schedule(0.1, 1e-4, 10, 2, warmup_steps=2)
    assert (s.kind, s.final_lr_at, s.warmup_start_factor) == ("step", "max_steps", 0.0)
    assert s.lr_at(0) == 0.0  # the warmup starts at 0 unless told otherwise
    built = build_scheduler(sgd(0.1), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    assert (built.schedules[0].kind, built.schedules[0].warmup_steps) == ("step", 0)


def test_counts_are_normalized_to_ints() -> None:
    s = Schedule(0.1, 1e-4, 1e6, 1e4)
    assert (type(s.max_steps), type(s.n_updates), type(s.warmup_steps)) == (int, int, int)
    assert lr_curve(s, [0, 10**6]).tolist() == [0.1, 1e-4]


def test_every_field_is_normalized_to_its_type() -> None:
    """YAML gives 1 for 1.0 and 1e2 for 100; numpy gives np.float64: each field keeps one type."""
    s = Schedule(1, np.float64(1e-4), 1.0001e6, 1e4, warmup_steps=1e2, warmup_start_factor=0)  # type: ignore[arg-type]
    normalized = (s.initial_lr, s.final_lr, s.max_steps, s.n_updates, s.warmup_steps, s.warmup_start_factor)
    assert normalized == (1.0, 1e-4, 1_000_100, 10**4, 100, 0.0)
    assert [type(value) for value in normalized] == [float, float, int, int, int, float]


@pytest.mark.parametrize(
    ("schedule", "steps"),
    [
        pytest.param(
            # decays 3000..4000: blocks of 1024 decays 2 and 3, so the table starts at block 2
            Schedule(0.1, 1e-4, 10**6, 10**4),
            [300_000, 300_100, 310_000, 400_000],
            id="dense-table-first-block-not-0",
        ),
        pytest.param(Schedule(0.1, 1e-4, 10**6, 10**4), [0, 500_000, 10**6], id="sparse-table"),
        pytest.param(
            Schedule(0.1, 1e-4, 2**53, 2**12, kind="multistep"), [0, 2**52, 2**53 - 1, 2**53], id="exact-ints"
        ),
        pytest.param(
            Schedule(0.1, 1e-4, 2**53, 7, kind="multistep"),
            [2**53 - 3, 2**53 - 2, 2**53 - 1, 2**53],
            id="near-2**53",
        ),
    ],
)
def test_rarely_taken_curve_branches_match_the_formula(schedule: Schedule, steps: list[int]) -> None:
    """lr_curve's table lookups and its exact-integer branch, against the formula in Python ints."""
    s = schedule
    expected = []
    for t in steps:
        k = k_of(t, s.warmup_steps, s.decay_span, s.plateaus, s.count)
        expected.append(s.final_lr if k >= s.count else max(s.final_lr, s.initial_lr * s.gamma**k))
    got = lr_curve(s, steps)
    assert got.tolist() == pytest.approx(expected, rel=1e-13)
    assert got.tolist() == [s.lr_at(t) for t in steps]  # and bit for bit the scheduler's form
    assert np.all(got <= s.initial_lr)


def test_milestones_and_decay_counts_against_torch() -> None:
    s = Schedule(0.1, 1e-4, 10, 3, kind="multistep")
    assert s.milestones() == [3, 6, 10]
    optimizer = sgd(0.1)
    torch_scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [3, 6, 10], 0.5)
    for t in range(12):
        assert s.decays_at(t) == round(math.log(optimizer.param_groups[0]["lr"] / 0.1, 0.5)), t
        optimizer.step()
        torch_scheduler.step()


def test_each_group_follows_its_own_base_lr() -> None:
    scheduler = build_scheduler(sgd(0.01, 0.1), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    low, high = scheduler.lrs_at(5)
    assert high == 0.1 * (1e-3) ** 0.5
    assert low == pytest.approx(high / 10, rel=1e-15)
    assert scheduler.lrs_at(10) == [pytest.approx(1e-5, rel=1e-15), 1e-4]


def test_resume_into_other_group_lrs_is_refused() -> None:
    state = build_scheduler(
        sgd(0.01, 0.1), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2
    ).state_dict()
    other = build_scheduler(sgd(0.02, 0.1), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    with pytest.raises(ResumeMismatchError) as caught:
        other.load_state_dict(state)
    assert "group 0 base_lr: checkpoint base_lr=0.01, config base_lr=0.02" in str(caught.value)


def test_initial_lr_of_an_already_scheduled_optimizer_is_the_start() -> None:
    optimizer = sgd(0.1)
    other = StepLR(optimizer, 1, 0.5)
    optimizer.step()
    other.step()  # another scheduler ran: lr is 0.05, initial_lr 0.1
    assert optimizer.param_groups[0]["lr"] == 0.05
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    assert scheduler.base_lrs_exact == (0.1,)


def test_tensor_base_is_the_declared_float_not_its_fp32_rounding() -> None:
    scheduler = build_scheduler(
        sgd(torch.tensor(0.1)), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2
    )
    assert scheduler.base_lrs_exact == (0.1,)
    assert scheduler.lrs_at(10) == [1e-4]  # exactly final_lr, not 1e-4 * float32(0.1) / 0.1


def test_last_epoch_and_step_epoch_follow_torch() -> None:
    optimizer, torch_optimizer = sgd(0.1), sgd(0.1)
    for o in (optimizer, torch_optimizer):
        o.param_groups[0]["initial_lr"] = 0.1
    s = Schedule(0.1, 1e-4, 12, 3)
    ours = BoundedLR(optimizer, [(s, 0.1)], last_epoch=5)
    theirs = StepLR(torch_optimizer, 4, s.gamma, last_epoch=5)
    assert ours.last_epoch == theirs.last_epoch == 6
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * s.gamma ** (6 // 4), rel=1e-15)
    optimizer.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        ours.step(9)
    assert ours.last_epoch == 9
    assert optimizer.param_groups[0]["lr"] == s.lr_at(9)
    torch_optimizer.step()
    with pytest.warns(UserWarning, match="The epoch parameter"):
        theirs.step(9)
    # Side by side through plain steps and epoch steps (back to 0, then forward), as torch counts them:
    # last_epoch, _step_count (saved in both state_dicts), the LR and the private _last_lr that
    # tutorials read.
    for epoch in (None, None, 0, None, 3, 11, None):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The epoch parameter", UserWarning)
            for o, scheduler in ((optimizer, ours), (torch_optimizer, theirs)):
                o.step()
                scheduler.step(epoch)
        assert (ours.last_epoch, ours._step_count) == (theirs.last_epoch, theirs._step_count), epoch  # noqa: SLF001 - torch's fields, side by side
        ours_lr, torch_lr = optimizer.param_groups[0]["lr"], torch_optimizer.param_groups[0]["lr"]
        assert ours_lr == pytest.approx(torch_lr, rel=1e-15)
        assert ours._last_lr == pytest.approx(theirs._last_lr, rel=1e-15)  # noqa: SLF001 - what tutorials read
        assert ours.get_lr() == pytest.approx(theirs._get_closed_form_lr(), rel=1e-15)  # noqa: SLF001 - torch's closed form at last_epoch
        assert ours.state_dict()["_step_count"] == theirs.state_dict()["_step_count"]


def test_call_order_warning_is_torchs() -> None:
    scheduler = build_scheduler(sgd(0.1), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    with pytest.warns(
        UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"
    ):
        scheduler.step()


def test_get_last_lr_returns_copies() -> None:
    optimizer = sgd(torch.tensor(0.1))
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    last = scheduler.get_last_lr()
    last[0].fill_(7.0)  # type: ignore[union-attr]
    last.append(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert float(scheduler.get_last_lr()[0]) == pytest.approx(0.1, rel=1e-7)
    assert len(scheduler.get_last_lr()) == 1
    assert float(optimizer.param_groups[0]["lr"]) == pytest.approx(0.1, rel=1e-7)


DEFAULT_NAMES = [
    (lambda: bounds.gamma(0.1, 1.0, 3), "lr_gamma: final_lr must be in (0, initial_lr]"),
    (lambda: bounds.step_size(10, 0), "lr_step: n_updates must be a whole number >= 1"),
    (lambda: bounds.milestones(10, 0), "blr.milestones: n_updates must be a whole number >= 1"),
    (lambda: bounds.decay_steps(0), "blr.decay_steps: max_steps must be a whole number >= 1"),
    (lambda: bounds.logspace(1e-3, 0, 3, 0), "blr.logspace: high must be a finite number > 0"),
    (lambda: bounds.lr_values(0.1, 1e-4, 0), "blr.values: n_updates must be a whole number >= 1"),
    (lambda: bounds.lr_ratio(0, 1e-4), "blr.ratio: initial_lr must be a finite number > 0"),
    (
        lambda: Schedule(0.1, 1e-4, 2 * 10**7, 10**7 + 1, kind="multistep").milestones(),
        "Schedule: n_updates must be <= 10000000 to build a milestone list",
    ),
]


@pytest.mark.parametrize(("call", "start"), DEFAULT_NAMES, ids=[s.split(":")[0] for _, s in DEFAULT_NAMES])
def test_the_core_functions_name_their_resolver_by_default(call: Any, start: str) -> None:
    """bounds.* called directly (as the resolvers do, without where=) names the resolver."""
    with pytest.raises(BoundedLRError) as caught:
        call()
    assert str(caught.value).startswith(start + ", got ")


def test_the_list_limit_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 10**7 boundary of lr_values and milestones, at a size a fast test builds (slow: the real one)."""
    monkeypatch.setattr(bounds, "MAX_MILESTONES", 10)
    assert len(lr_values(1.0, 1e-3, 10)) == 11
    assert len(milestones(10, 10)) == 10
    with pytest.raises(BoundsError, match=r"^blr.values: n_updates must be <= 10 to build a list of values"):
        lr_values(1.0, 1e-3, 11)


def test_lr_decay_steps_defaults_to_no_warmup_and_the_max_steps_convention() -> None:
    assert lr_decay_steps(100) == 100
    assert lr_decay_steps(100, 10) == 90
    assert lr_decay_steps(100, 10, "last_step") == 89


def test_state_dict_records_the_lrs_it_wrote() -> None:
    optimizer = sgd(0.1, 0.01)
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    assert (
        scheduler.state_dict()["_last_lr"] == [0.1 * 1e-3**0.5, 0.01 * 1e-3**0.5] == scheduler.get_last_lr()
    )


def test_a_bool_factor_in_a_checkpoint_is_refused() -> None:
    optimizer = sgd(0.1)
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    state = {**scheduler.state_dict(), "factors": [True]}
    with pytest.raises(BoundsError, match=r"factors must be positive finite numbers, got factors=\[True\]"):
        build_scheduler(sgd(0.1), initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2).load_state_dict(
            state
        )


def test_a_bound_changed_in_the_last_bit_is_a_change() -> None:
    """Only a group's base LR may differ by an fp32 rounding; every bound is compared exactly."""
    optimizer = sgd(0.1)
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    nearly = math.nextafter(1e-4, 1.0)
    fresh = build_scheduler(sgd(0.1), initial_lr=0.1, final_lr=nearly, max_steps=10, n_updates=2)
    with pytest.raises(
        ResumeMismatchError,
        match=rf"group 0 final_lr: checkpoint final_lr=0.0001, config final_lr={nearly!r}",
    ):
        fresh.load_state_dict(scheduler.state_dict())


def test_an_adopted_group_is_checked_and_filled_in_place_after_a_load() -> None:
    optimizer = sgd(0.1)
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01})
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    bf16 = sgd(0.1)
    target = build_scheduler(bf16, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    bf16.add_param_group(  # re-added before the load, as Lightning's BackboneFinetuning does
        {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": torch.tensor(0.01, dtype=torch.bfloat16)}
    )
    with pytest.raises(BoundsTypeError) as caught:
        target.load_state_dict(state)
    assert str(caught.value).startswith(
        "BoundedLR.load_state_dict: param group 1's lr must be a float, or a 0-dim float32 or float64 tensor"
    )
    held = torch.tensor(0.01)
    tensors = sgd(0.1)
    resumed = build_scheduler(tensors, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    tensors.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": held})
    resumed.load_state_dict(state)
    for _ in range(7):
        tensors.step()
        resumed.step()
    assert tensors.param_groups[1]["lr"] is held
    assert float(held) == pytest.approx(1e-5, rel=2e-7)


def test_the_step_count_warning_restarts_its_count_at_a_load_and_is_given_once() -> None:
    optimizer = sgd(0.1)
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10**4, n_updates=2)
    optimizer.step()
    for _ in range(50):
        scheduler.step()
    state = scheduler.state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.load_state_dict(state)  # counts restart: 102 (= 2 * 1 + 100) more steps are allowed
        for _ in range(100):
            scheduler.step()
    with pytest.warns(StepCountWarning):
        scheduler.step()
    scheduler.load_state_dict(state)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(300):  # warned once: never again, not even after a load
            scheduler.step()


CURVE_SHAPES = [
    pytest.param(Schedule(0.1, 1e-4, 10**6, 10**4), [[300_000, 300_100], [0, 400_000]], id="dense"),
    pytest.param(Schedule(0.1, 1e-4, 10**6, 10**4), [[0, 500_000], [10**6, 7]], id="sparse"),
    pytest.param(
        Schedule(0.1, 1e-4, 2**53, 2**12, kind="multistep"), [[0, 2**52], [2**53 - 1, 2**53]], id="exact"
    ),
    pytest.param(
        Schedule(0.1, 1e-4, 100, 4), np.array([[0, 2**70], [50, 2**64]], dtype=object), id="huge-ints"
    ),
    pytest.param(Schedule(0.1, 1e-4, 100, kind="cosine"), [[0, 50], [99, 100]], id="cosine"),
]


@pytest.mark.parametrize(("schedule", "steps"), CURVE_SHAPES)
def test_lr_curve_keeps_the_shape_of_the_steps(schedule: Schedule, steps: Any) -> None:
    got = lr_curve(schedule, steps)
    assert got.shape == (2, 2)
    assert got.tolist() == [
        [schedule.lr_at(min(int(t), schedule.max_steps + 1)) for t in row] for row in steps
    ]


CURVE_REFUSALS = [
    pytest.param([1, None], "lr_curve: steps must be whole numbers, got steps dtype='object'", id="none"),
    pytest.param(
        [True, 2**70], "lr_curve: steps must be whole numbers, got steps dtype='object'", id="bool-and-huge"
    ),
    pytest.param([0.5], "lr_curve: steps must be whole numbers, got steps dtype='float64'", id="float"),
    pytest.param(
        [3, -1], "lr_curve: steps must be scheduler step counts >= 0, got min step=-1", id="negative"
    ),
]


@pytest.mark.parametrize(("steps", "message"), CURVE_REFUSALS)
def test_lr_curve_refuses_what_is_not_a_step_count_in_full(steps: list[object], message: str) -> None:
    with pytest.raises(BoundsError) as caught:
        lr_curve(Schedule(0.1, 1e-4, 100, 4), steps)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_the_dense_curve_limit_is_inclusive() -> None:
    from bounded_lr_resolver.curve import MAX_DENSE

    with pytest.raises(BoundsError, match=rf"^lr_curve: steps must be given when max_steps >= {MAX_DENSE} "):
        lr_curve(Schedule(0.1, 1e-4, MAX_DENSE, 4))
    assert lr_curve(Schedule(0.1, 1e-4, MAX_DENSE, 4), [MAX_DENSE]).tolist() == [1e-4]


def test_bounded_lr_built_directly_refuses_by_name() -> None:
    s = Schedule(0.1, 1e-4, 10, 2)
    with pytest.raises(BoundsError) as caught:
        BoundedLR(sgd(0.1), [(s, 0.1)], on_resume_change="yes")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "BoundedLR: on_resume_change must be one of ['refuse', 'replan'], got on_resume_change='yes'"
    )
    with pytest.raises(BoundsError) as caught:
        BoundedLR(sgd(0.1, 0.01), [(s, 0.1)])
    assert str(caught.value) == (
        "BoundedLR: plan must be one (schedule, base_lr) pair per param group, got plan entries=1, "
        "param groups=2"
    )
    with pytest.raises(BoundsTypeError) as caught:
        BoundedLR(sgd(torch.tensor(0.1, dtype=torch.bfloat16)), [(s, 0.1)])
    assert str(caught.value).startswith(
        "BoundedLR: param group 0's lr must be a float, or a 0-dim float32 or float64 tensor, got param "
        "group 0's lr=tensor(0.1001, dtype=torch.bfloat16) (Tensor). A torch.bfloat16 LR cannot hold"
    )


@pytest.mark.parametrize("epoch", [1.5, True, -1, "3"])
def test_step_refuses_an_epoch_that_is_not_a_step_count(epoch: object) -> None:
    optimizer = sgd(0.1)
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    optimizer.step()
    with pytest.raises(BoundsError) as caught:
        scheduler.step(epoch)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"BoundedLR.step: epoch must be a whole number >= 0 (or left out), got epoch={epoch!r}"
    )
    assert scheduler.last_epoch == 0


def test_the_step_count_warning_threshold_and_message() -> None:
    """Built, one optimizer step: 2 * 1 + 100 scheduler steps are allowed (the build's own step counts)."""
    optimizer = sgd(0.1)
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10**4, n_updates=2)
    optimizer.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(101):
            scheduler.step()
    with pytest.warns(StepCountWarning) as caught:
        scheduler.step()
    assert str(caught[0].message) == (
        "BoundedLR.step: scheduler.step() was called 103 times while the optimizer stepped 1 times since the "
        "scheduler was built or loaded. Call it once per optimizer.step(): stepping it per micro-batch or "
        "once per process runs the schedule that many times too fast (accelerate#2773). Stepping without "
        "the optimizer on purpose? warnings.filterwarnings('ignore', "
        "category=bounded_lr_resolver.errors.StepCountWarning)"
    )


def test_per_group_bounds_are_replanned_per_group() -> None:
    """After a re-plan each declared group follows its own plan, not the main group's at a ratio."""
    fields = {"initial_lr": [0.1, 0.01], "final_lr": [1e-4, 1e-3], "max_steps": 12, "n_updates": 3}
    optimizer = sgd(0.1, 0.01)
    scheduler = build_scheduler(optimizer, **fields)  # type: ignore[arg-type]
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    resumed_opt = sgd(0.1, 0.01)
    resumed = build_scheduler(resumed_opt, **{**fields, "max_steps": 24}, on_resume_change="replan")  # type: ignore[arg-type]
    resumed.load_state_dict(scheduler.state_dict())
    for _ in range(20):
        resumed_opt.step()
        resumed.step()
    assert [float(g["lr"]) for g in resumed_opt.param_groups] == [1e-4, 1e-3]


@pytest.mark.parametrize("mode", ["refuse", "replan"])
def test_an_unchanged_future_resumes_into_fp32_tensor_lrs(mode: str) -> None:
    """A changed warmup_start_factor after warmup changes no LR to come; group 1's base, one fp32 rounding
    from the checkpoint's, is the same base: accepted without a re-plan."""
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 24, "n_updates": 4, "warmup_steps": 4}
    optimizer = sgd(0.1, 0.01)
    scheduler = build_scheduler(optimizer, **fields)  # type: ignore[arg-type]
    for _ in range(8):
        optimizer.step()
        scheduler.step()
    resumed_opt = sgd(torch.tensor(0.1), torch.tensor(0.01))
    resumed = build_scheduler(
        resumed_opt,
        **fields,
        warmup_start_factor=0.5,
        on_resume_change=mode,  # type: ignore[arg-type]
    )
    resumed.load_state_dict(scheduler.state_dict())
    assert resumed.resumed_at == ()
    assert [float(g["lr"]) for g in resumed_opt.param_groups] == pytest.approx(
        [float(g["lr"]) for g in optimizer.param_groups], rel=2e-7
    )


@pytest.mark.parametrize("lr", ["0.01", True, None])
def test_a_group_added_with_an_lr_that_is_no_number_is_refused_at_the_next_step(lr: object) -> None:
    optimizer = sgd(0.1)
    scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=10, n_updates=2)
    optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr})
    optimizer.step()
    with pytest.raises(BoundsTypeError) as caught:
        scheduler.step()
    assert str(caught.value) == (
        "BoundedLR.step: param group 1's lr must be a float, or a 0-dim float32 or float64 tensor, got "
        f"param group 1's lr={lr!r} ({type(lr).__name__})"
    )
    assert scheduler.last_epoch == 0


@pytest.mark.parametrize("max_steps", [10**8, 3 * 10**8], ids=["1e8", "3e8"])
def test_exponential_decays_every_step_of_a_long_run(max_steps: int) -> None:
    """A decay every step over 10**8 steps: gamma**k within k * 2**-52 of the float64 reference."""
    schedule = Schedule(0.1, 1e-4, max_steps, None, kind="exponential")
    assert schedule.n_updates == max_steps
    steps = [0, 1, 2, 12345, max_steps // 3, max_steps // 2, max_steps - 2, max_steps - 1]
    for step in steps:
        reference = 0.1 * (1e-4 / 0.1) ** (step / max_steps)
        assert schedule.lr_at(step) == pytest.approx(reference, rel=max(step, 1) * 2.0**-52), step
    assert schedule.lr_at(max_steps - 1) > 1e-4  # max_steps decays, not one fewer
    assert schedule.lr_at(max_steps) == 1e-4
    assert list(lr_curve(schedule, steps)) == [schedule.lr_at(step) for step in steps]
