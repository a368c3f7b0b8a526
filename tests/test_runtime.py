"""Never silently wrong at runtime: other code touching the optimizer, resumes, dtypes, repr.

Each behaviour is checked against a real torch scheduler doing the same thing (torch's own
schedulers chain multiplicatively, so ``MultiStepLR`` with our derived milestones and gamma is
the oracle for what a new param group or an outside LR change should lead to).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.optim.lr_scheduler import (
    ChainedScheduler,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    SequentialLR,
)

from bounded_lr_resolver import BoundedLR, build_scheduler
from bounded_lr_resolver.bounds import gamma, milestones
from bounded_lr_resolver.errors import BoundsError, BoundsTypeError, ResumeMismatchError

BOUNDS = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 100, "n_updates": 6, "kind": "multistep"}


def sgd(*lrs: float | torch.Tensor) -> torch.optim.Optimizer:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs], lr=0.1)


def ours(optimizer: torch.optim.Optimizer) -> BoundedLR:
    return build_scheduler(optimizer, **BOUNDS)  # type: ignore[arg-type]


def torch_oracle(optimizer: torch.optim.Optimizer) -> MultiStepLR:
    return MultiStepLR(optimizer, milestones(100, 6), gamma(0.1, 1e-4, 6))


def lrs(optimizer: torch.optim.Optimizer) -> list[float]:
    return [float(group["lr"]) for group in optimizer.param_groups]


def run_both(
    step: Callable[[torch.optim.Optimizer, Any, int], None],
    make: Callable[[torch.optim.Optimizer], Any] | None = None,
    oracle: Callable[[torch.optim.Optimizer], Any] | None = None,
    steps: int = 100,
) -> tuple[list[list[float]], list[list[float]]]:
    """Drive our scheduler and torch's oracle through the same loop; return both LR traces."""
    traces = []
    for factory in (make or ours, oracle or torch_oracle):
        optimizer = sgd(0.1)
        scheduler = factory(optimizer)
        trace = []
        for t in range(steps):
            optimizer.step()
            step(optimizer, scheduler, t)
            trace.append(lrs(optimizer))
        traces.append(trace)
    return traces[0], traces[1]


def assert_close(ours_trace: list[list[float]], torch_trace: list[list[float]]) -> None:
    assert len(ours_trace) == len(torch_trace)
    for t, (mine, theirs) in enumerate(zip(ours_trace, torch_trace, strict=True)):
        assert mine == pytest.approx(theirs, rel=1e-12, abs=0), t


def test_param_group_added_later_follows_the_schedule_like_torch() -> None:
    def step(optimizer: torch.optim.Optimizer, scheduler: LRScheduler, t: int) -> None:
        if t == 30:  # Lightning's BackboneFinetuning: unfreeze the backbone at a tenth of the LR
            optimizer.add_param_group(
                {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lrs(optimizer)[0] / 10}
            )
        scheduler.step()

    mine, theirs = run_both(step)
    assert_close(mine, theirs)
    assert len(mine[-1]) == 2
    assert mine[-1][1] == pytest.approx(1e-5, rel=1e-12)  # the new group ends at its ratio of final_lr


def test_removed_param_group_is_an_error_before_anything_changes() -> None:
    optimizer = sgd(0.1, 0.01)
    scheduler = ours(optimizer)
    optimizer.param_groups.pop()
    with pytest.raises(BoundsError) as caught:
        scheduler.step()
    assert str(caught.value) == (
        "BoundedLR.step: optimizer.param_groups must be at least the 2 param groups this scheduler "
        "follows (groups cannot be removed), got param groups=1"
    )
    assert scheduler.last_epoch == 0
    assert lrs(optimizer) == [0.1]


def test_reduce_lr_on_plateau_cut_is_kept_as_a_factor() -> None:
    def make_step(plateau: dict[str, ReduceLROnPlateau]) -> Callable[[torch.optim.Optimizer, Any, int], None]:
        def step(optimizer: torch.optim.Optimizer, scheduler: LRScheduler, t: int) -> None:
            if t == 0:
                plateau["p"] = ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
            plateau["p"].step(1.0)  # a loss that never improves: a cut on every epoch after the first
            if t >= 3:
                plateau["p"].cooldown_counter = 10**9  # only the first cuts
            scheduler.step()

        return step

    mine, theirs = run_both(make_step({}))
    assert_close(mine, theirs)
    schedule_only = [
        0.1 * gamma(0.1, 1e-4, 6) ** sum(t + 1 >= m for m in milestones(100, 6)) for t in range(100)
    ]
    assert mine[-1][0] < schedule_only[-1]  # the cut was not undone


@pytest.mark.parametrize("ours_first", [True, False], ids=["ours-then-exponential", "exponential-then-ours"])
def test_chained_scheduler_compounds_like_torch(ours_first: bool) -> None:
    def chain(
        first: Callable[[torch.optim.Optimizer], LRScheduler],
    ) -> Callable[[torch.optim.Optimizer], Any]:
        def make(optimizer: torch.optim.Optimizer) -> ChainedScheduler:
            a, b = first(optimizer), ExponentialLR(optimizer, 0.99)
            return ChainedScheduler([a, b] if ours_first else [b, a])

        return make

    def step(optimizer: torch.optim.Optimizer, scheduler: LRScheduler, t: int) -> None:
        scheduler.step()

    mine, theirs = run_both(step, chain(ours), chain(torch_oracle))
    assert_close(mine, theirs)
    assert mine[-1][0] == pytest.approx(1e-4 * 0.99**100, rel=1e-12)


def test_sequential_lr_warmup_then_ours_like_torch() -> None:
    def sequential(
        second: Callable[[torch.optim.Optimizer], LRScheduler],
    ) -> Callable[[torch.optim.Optimizer], Any]:
        def make(optimizer: torch.optim.Optimizer) -> SequentialLR:
            warmup = LinearLR(optimizer, start_factor=0.1, total_iters=10)
            return SequentialLR(optimizer, [warmup, second(optimizer)], milestones=[10])

        return make

    def step(optimizer: torch.optim.Optimizer, scheduler: LRScheduler, t: int) -> None:
        scheduler.step()

    with warnings.catch_warnings():  # torch's own SequentialLR warns about its epoch-style call
        warnings.simplefilter("ignore", UserWarning)
        mine, theirs = run_both(step, sequential(ours), sequential(torch_oracle), steps=120)
    assert_close(mine, theirs)


def test_manual_lr_change_scales_the_rest_and_get_last_lr_is_ours() -> None:
    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    for _ in range(20):
        optimizer.step()
        scheduler.step()
    written = scheduler.get_last_lr()
    optimizer.param_groups[0]["lr"] = written[0] * 0.25
    assert scheduler.get_last_lr() == written  # what the scheduler set, not what is in the optimizer now
    for _ in range(80):
        optimizer.step()
        scheduler.step()
    assert scheduler.factors == pytest.approx((0.25,), rel=1e-15)
    assert lrs(optimizer)[0] == pytest.approx(0.25 * 1e-4, rel=1e-12)
    assert scheduler.get_last_lr() == lrs(optimizer)


def test_outside_change_on_a_tensor_lr_is_seen_in_place_and_by_replacement() -> None:
    optimizer = sgd(torch.tensor(0.1))
    held = optimizer.param_groups[0]["lr"]
    scheduler = ours(optimizer)
    optimizer.step()
    scheduler.step()
    held.mul_(0.5)  # in place, as torch's own schedulers write tensor LRs
    optimizer.step()
    scheduler.step()
    optimizer.param_groups[0]["lr"] = torch.tensor(float(held) * 0.5)  # replaced
    for _ in range(98):
        optimizer.step()
        scheduler.step()
    assert scheduler.factors[0] == pytest.approx(0.25, rel=1e-6)
    assert optimizer.param_groups[0]["lr"] is held  # still the tensor a compiled graph holds
    assert float(held) == pytest.approx(0.25e-4, rel=2e-7)


def test_outside_change_survives_resume() -> None:
    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    for t in range(40):
        if t == 10:
            optimizer.param_groups[0]["lr"] *= 0.5
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    fresh_optimizer = sgd(0.1)
    fresh = ours(fresh_optimizer)
    fresh.load_state_dict(state)
    assert fresh.factors == scheduler.factors
    assert lrs(fresh_optimizer) == lrs(optimizer)
    for _ in range(60):
        for o, s in ((optimizer, scheduler), (fresh_optimizer, fresh)):
            o.step()
            s.step()
    assert lrs(fresh_optimizer) == lrs(optimizer)


def _state() -> dict[str, Any]:
    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    return scheduler.state_dict()


HINT = "Nothing was loaded: the checkpoint is truncated or was not written by BoundedLR.state_dict()"
EDITED = "Nothing was loaded: the checkpoint's record of its re-planned resumes is damaged or hand-edited"
KEYS = (
    "a dict with the keys ['last_epoch', '_step_count', 'bounds'] "
    "(and optionally ['base_lrs', '_last_lr', 'factors', 'adopted', 'segments', 'origin'])"
)
LOAD = "BoundedLR.load_state_dict: "
ADOPTED = "a list of {'base_lr': ..., 'factor': ...} dicts"
STEP_RULE = "last_epoch must be a whole number >= 0, got last_epoch="

BAD_STATES = [
    pytest.param(
        {"last_epoch": "5"},
        BoundsTypeError,
        f"{LOAD}{STEP_RULE}'5' (str). {HINT}",
        id="text-step",
    ),
    pytest.param(
        {"last_epoch": None},
        BoundsTypeError,
        f"{LOAD}{STEP_RULE}None (NoneType). {HINT}",
        id="none-step",
    ),
    pytest.param(
        {"last_epoch": math.nan},
        BoundsTypeError,
        f"{LOAD}{STEP_RULE}nan (float). {HINT}",
        id="nan-step",
    ),
    pytest.param(
        {"last_epoch": -5},
        BoundsError,
        f"{LOAD}{STEP_RULE}-5. {HINT}",
        id="negative-step",
    ),
    pytest.param(
        {"_step_count": 0},
        BoundsError,
        f"BoundedLR.load_state_dict: _step_count must be a whole number >= 1, got _step_count=0. {HINT}",
        id="zero-step-count",
    ),
    pytest.param(
        {"_plan": []},
        BoundsError,
        f"{LOAD}state_dict must be {KEYS}, got missing keys=[], unknown keys=['_plan']. {HINT}",
        id="foreign-key",
    ),
    pytest.param(
        {"factors": [0.0]},
        BoundsError,
        f"BoundedLR.load_state_dict: factors must be positive finite numbers, got factors=[0.0]. {HINT}",
        id="zero-factor",
    ),
    pytest.param(
        lambda state: [("bounds", 1)],
        BoundsTypeError,
        f"{LOAD}state_dict must be a dict from BoundedLR.state_dict(), got state_dict=[('bounds', 1)] "
        f"(list). {HINT}",
        id="not-a-dict",
    ),
    pytest.param(
        {"bounds": {"initial_lr": 0.1}},
        BoundsTypeError,
        f"{LOAD}bounds must be a list of dicts, one per param group, got bounds={{'initial_lr': 0.1}} "
        f"(dict). {HINT}",
        id="bounds-not-a-list",
    ),
    pytest.param(
        {"bounds": ["x"]},
        BoundsTypeError,
        f"{LOAD}bounds must be a list of dicts, one per param group, got bounds=['x'] (list). {HINT}",
        id="bounds-of-text",
    ),
    pytest.param(
        lambda state: {**state, "bounds": state["bounds"] * 2},
        ResumeMismatchError,
        f"{LOAD}the checkpoint must have as many param groups as the optimizer, got checkpoint groups=2, "
        "optimizer groups=1",
        id="bounds-of-two-groups",
    ),
    pytest.param(
        {"adopted": {"base_lr": 0.1}},
        BoundsTypeError,
        f"{LOAD}adopted must be {ADOPTED}, got adopted={{'base_lr': 0.1}} (dict). {HINT}",
        id="adopted-not-a-list",
    ),
    pytest.param(
        {"adopted": [{"base_lr": 0.01, "factor": 1.0, "x": 1}]},
        BoundsTypeError,
        f"{LOAD}adopted must be {ADOPTED}, got adopted=[{{'base_lr': 0.01, 'factor': 1.0, 'x': 1}}] "
        f"(list). {HINT}",
        id="adopted-extra-key",
    ),
    pytest.param(
        {"adopted": [{"base_lr": 0.01, "factor": 0.0}]},
        BoundsError,
        f"{LOAD}adopted factors must be positive finite numbers, got adopted factors=[0.0]. {HINT}",
        id="adopted-factor-zero",
    ),
    pytest.param(
        {"adopted": [{"base_lr": math.inf, "factor": 1.0}]},
        BoundsError,
        f"{LOAD}adopted base_lr must be positive finite numbers, got adopted base_lr=[inf]. {HINT}",
        id="adopted-base-inf",
    ),
    pytest.param(
        {"origin": [{"x": 1}]},
        BoundsTypeError,
        f"{LOAD}origin must be [] while segments is empty (the first re-plan records it), got "
        f"origin=[{{'x': 1}}] (list). {EDITED}",
        id="origin-without-segments",
    ),
    pytest.param(
        {"segments": None},
        BoundsTypeError,
        f"{LOAD}segments must be a list of {{'step': r, 'groups': [one re-planned rest per param group]}} "
        f"with r not decreasing, got segments=None (NoneType). {EDITED}",
        id="segments-none",
    ),
    pytest.param(
        {"factors": [1.0, 1.0]},
        BoundsTypeError,
        "BoundedLR.load_state_dict: factors must be a list of 1 positive finite numbers, "
        f"got factors=[1.0, 1.0] (list). {HINT}",
        id="factor-count",
    ),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD_STATES)
def test_bad_checkpoint_is_refused_before_anything_changes(
    change: dict[str, object] | Callable[[dict[str, Any]], object], error: type[Exception], message: str
) -> None:
    state = change(_state()) if callable(change) else {**_state(), **change}
    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    before = (scheduler.last_epoch, scheduler._step_count, lrs(optimizer))  # noqa: SLF001 - torch's step count, saved
    with pytest.raises(error) as caught:
        scheduler.load_state_dict(state)
    assert str(caught.value) == message
    assert (scheduler.last_epoch, scheduler._step_count, lrs(optimizer)) == before  # noqa: SLF001
    optimizer.step()
    scheduler.step()  # still usable
    assert scheduler.last_epoch == 4


def test_truncated_checkpoint_with_only_bounds_is_refused() -> None:
    scheduler = ours(sgd(0.1))
    with pytest.raises(BoundsError) as caught:
        scheduler.load_state_dict({"bounds": _state()["bounds"]})
    assert str(caught.value) == (
        f"BoundedLR.load_state_dict: state_dict must be {KEYS}, "
        f"got missing keys=['last_epoch', '_step_count'], unknown keys=[]. {HINT}"
    )
    assert scheduler.last_epoch == 0


def test_float_and_fp32_tensor_resume_is_consistent_for_any_number_of_groups() -> None:
    """A checkpoint from float LRs resumes into fp32 tensor LRs (one fp32 rounding apart), 1 or 2 groups."""
    for group_lrs in ((0.1,), (0.01, 0.1)):
        optimizer = sgd(*group_lrs)
        scheduler = ours(optimizer)
        for _ in range(30):
            optimizer.step()
            scheduler.step()
        tensor_optimizer = sgd(*(torch.tensor(lr) for lr in group_lrs))
        resumed = ours(tensor_optimizer)
        resumed.load_state_dict(scheduler.state_dict())
        assert lrs(tensor_optimizer) == pytest.approx(lrs(optimizer), rel=2e-7)


RULE = "must be a float, or a 0-dim float32 or float64 tensor"
ROUNDS = "cannot hold the decays exactly (it rounds them to whole numbers, 0 below 1)"
DIGITS = "cannot hold the decays exactly (it keeps about 3 significant digits)"
NO_ORDER = "has no order (an optimizer compares lr < 0)"
GIVE = "give a float or a float32 tensor"

BAD_LRS = [
    pytest.param(
        torch.tensor(1, dtype=torch.int64),
        BoundsTypeError,
        f"lr=tensor(1) (Tensor). A torch.int64 LR {ROUNDS}; {GIVE}",
        id="int64",
    ),
    pytest.param(
        torch.tensor(True),
        BoundsTypeError,
        f"lr=tensor(True) (Tensor). A torch.bool LR {ROUNDS}; {GIVE}",
        id="bool-tensor",
    ),
    pytest.param(
        torch.tensor(0.1, dtype=torch.bfloat16),
        BoundsTypeError,
        f"lr=tensor(0.1001, dtype=torch.bfloat16) (Tensor). A torch.bfloat16 LR {DIGITS}; {GIVE}",
        id="bf16",
    ),
    pytest.param(
        torch.tensor(0.1, dtype=torch.float16),
        BoundsTypeError,
        f"lr=tensor(0.1000, dtype=torch.float16) (Tensor). A torch.float16 LR {DIGITS}; {GIVE}",
        id="fp16",
    ),
    pytest.param(
        torch.tensor(0.1, dtype=torch.complex64),
        BoundsTypeError,
        f"lr=tensor(0.1000+0.j) (Tensor). A torch.complex64 LR {NO_ORDER}; {GIVE}",
        id="complex64",
    ),
    pytest.param(
        torch.tensor(0.1, dtype=torch.complex128),
        BoundsTypeError,
        f"lr=tensor(0.1000+0.j, dtype=torch.complex128) (Tensor). A torch.complex128 LR {NO_ORDER}; {GIVE}",
        id="complex128",
    ),
    pytest.param(torch.tensor([0.1]), BoundsError, "lr shape=(1,)", id="shape"),
    pytest.param("0.1", BoundsTypeError, "lr='0.1' (str)", id="text"),
    pytest.param(True, BoundsTypeError, "lr=True (bool)", id="bool"),
    pytest.param(None, BoundsTypeError, "lr=None (NoneType)", id="none"),
    pytest.param(b"0.1", BoundsTypeError, "lr=b'0.1' (bytes)", id="bytes"),
    pytest.param([0.1], BoundsTypeError, "lr=[0.1] (list)", id="list"),
]
"""A param group LR the scheduler cannot follow, and the end of the message refusing it."""


def _refusal(where: str, key: str, got: str) -> str:
    shown = got if got.startswith("lr shape") else f"param group 0's {got}"
    return f"{where}: param group 0's {key} {RULE}, got {shown.replace('lr', key, 1)}"


@pytest.mark.parametrize(("lr", "error", "got"), BAD_LRS)
def test_tensor_lr_dtype_and_shape(lr: object, error: type[Exception], got: str) -> None:
    optimizer = sgd(0.1)
    optimizer.param_groups[0]["lr"] = lr
    with pytest.raises(error) as caught:
        build_scheduler(optimizer, **BOUNDS)  # type: ignore[arg-type]
    assert str(caught.value) == _refusal("build_scheduler", "lr", got)


@pytest.mark.parametrize(("lr", "error", "got"), BAD_LRS)
def test_a_group_initial_lr_the_scheduler_cannot_start_from_is_refused(
    lr: object, error: type[Exception], got: str
) -> None:
    """A group's ``initial_lr`` (left by an earlier scheduler or a checkpoint) is where it starts: checked."""
    optimizer = sgd(0.1)
    optimizer.param_groups[0]["initial_lr"] = lr
    with pytest.raises(error) as caught:
        build_scheduler(optimizer, **BOUNDS)  # type: ignore[arg-type]
    assert str(caught.value) == _refusal("build_scheduler", "initial_lr", got)


@pytest.mark.parametrize(("lr", "error", "got"), BAD_LRS)
def test_an_lr_written_from_outside_that_the_scheduler_cannot_follow_is_refused(
    lr: object, error: type[Exception], got: str
) -> None:
    """Written over a group's LR between steps, it was taken as a factor (a str, a bool, a complex
    tensor became float(...)) or raised Python's own TypeError: now refused, and nothing changes."""
    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    optimizer.step()
    scheduler.step()
    optimizer.param_groups[0]["lr"] = lr
    with pytest.raises(error) as caught:
        scheduler.step()
    assert str(caught.value) == _refusal("BoundedLR.step", "lr", got)
    assert scheduler.last_epoch == 1
    optimizer.param_groups[0]["lr"] = 0.1  # put back, the schedule goes on where it was
    scheduler.step()
    assert lrs(optimizer) == [0.1]


def test_float64_tensor_lr_is_exact() -> None:
    optimizer = sgd(torch.tensor(0.1, dtype=torch.float64))
    scheduler = ours(optimizer)
    floats = sgd(0.1)
    reference = ours(floats)
    for _ in range(100):
        for o, s in ((optimizer, scheduler), (floats, reference)):
            o.step()
            s.step()
        assert lrs(optimizer) == lrs(floats)


def test_added_bf16_group_is_refused_at_the_next_step() -> None:
    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    optimizer.add_param_group(
        {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": torch.tensor(0.01, dtype=torch.bfloat16)}
    )
    with pytest.raises(BoundsTypeError, match=r"^BoundedLR.step: param group 1's lr must be a float"):
        scheduler.step()
    assert scheduler.last_epoch == 0


def test_repr_names_the_kind_and_bounds() -> None:
    scheduler = ours(sgd(0.1, 0.01))
    assert repr(scheduler) == (
        "BoundedLR(initial_lr=0.1, final_lr=0.0001, max_steps=100, n_updates=6, kind='multistep', "
        "final_lr_at='max_steps', warmup_steps=0, warmup_start_factor=0.0, param_groups=2, step=0)"
    )


@pytest.mark.parametrize("order", ["group-then-load", "load-then-group"])
def test_resume_with_an_added_group_either_order_is_bitwise(order: str) -> None:
    """BackboneFinetuning re-adds its group on a resume; before or after the scheduler loads, same LRs."""

    def backbone(lr: float) -> dict[str, Any]:
        return {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr}

    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    whole = []
    for t in range(100):
        if t == 30:
            optimizer.add_param_group(backbone(lrs(optimizer)[0] / 10))
        if t == 50:
            state, group_lr = scheduler.state_dict(), lrs(optimizer)[1]
        optimizer.step()
        scheduler.step()
        whole.append(lrs(optimizer))
    resumed_optimizer = sgd(0.1)
    resumed = ours(resumed_optimizer)
    if order == "group-then-load":
        resumed_optimizer.add_param_group(backbone(group_lr))
        resumed.load_state_dict(state)
    else:
        resumed.load_state_dict(state)
        assert resumed.state_dict()["adopted"] == state["adopted"]  # kept while waiting for the group
        resumed_optimizer.add_param_group(backbone(group_lr))
    tail = []
    for _ in range(50, 100):
        resumed_optimizer.step()
        resumed.step()
        tail.append(lrs(resumed_optimizer))
    assert tail == whole[50:]


LR_TYPES = {
    "float": lambda lr: lr,
    "fp32-tensor": lambda lr: torch.tensor(lr),
    "fp64-tensor": lambda lr: torch.tensor(lr, dtype=torch.float64),
}


@pytest.mark.parametrize("kind", sorted(LR_TYPES))
def test_an_outside_change_by_an_exact_factor_is_that_factor(kind: str) -> None:
    """Halving the second group's LR (as stored: float, fp32 or fp64) is a factor of exactly 0.5 there."""
    make = LR_TYPES[kind]
    optimizer = sgd(make(0.1), make(0.01))
    scheduler = ours(optimizer)
    for _ in range(20):
        optimizer.step()
        scheduler.step()
    group = optimizer.param_groups[1]
    if kind == "float":
        group["lr"] *= 0.5
    else:
        group["lr"].mul_(0.5)  # in place, as torch's own schedulers write a tensor LR
    optimizer.step()
    scheduler.step()
    assert scheduler.factors == (1.0, 0.5)  # the unchanged first group neither ends nor hides the loop
    schedule = scheduler.schedules[0]
    # group 1's base is its LR as stored (fp32's 0.01 is 0.00999999977648258); group 0 is at initial_lr
    expected = [schedule.lr_at(21, 0.1), schedule.lr_at(21, float(make(0.01))) * 0.5]
    assert scheduler.lrs_at(21) == expected
    last = scheduler.get_last_lr()
    assert [float(lr) for lr in last] == [float(make(lr)) for lr in expected]
    if kind != "float":
        assert [lr.dtype for lr in last] == [group["lr"].dtype] * 2  # type: ignore[union-attr]


def test_an_outside_change_while_the_warmup_lr_is_0_is_refused() -> None:
    optimizer = sgd(0.1)
    scheduler = build_scheduler(optimizer, **BOUNDS, warmup_steps=10)  # type: ignore[arg-type]
    optimizer.param_groups[0]["lr"] = 0.05
    with pytest.raises(BoundsError) as caught:
        scheduler.step()
    assert str(caught.value) == (
        "BoundedLR.step: param group 0's lr must be changed from outside only while the schedule's LR is "
        "above 0 (a factor on 0 is undefined), got lr=0.05, scheduled lr=0.0, step=0. Start the warmup above "
        "0 (warmup_start_factor > 0), or change the LR after the first step"
    )
    assert (scheduler.last_epoch, scheduler.factors) == (0, (1.0,))


def test_a_tensor_group_added_later_is_filled_in_place() -> None:
    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    for _ in range(30):
        optimizer.step()
        scheduler.step()
    added = torch.tensor(float(optimizer.param_groups[0]["lr"]) / 10)
    optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": added})
    for _ in range(70):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[1]["lr"] is added  # a compiled graph holds this tensor
    assert float(added) == pytest.approx(1e-5, rel=2e-7)


def test_a_group_added_later_follows_the_group_with_the_largest_base_lr() -> None:
    """Per-group bounds: the new group takes the schedule of the group at the largest LR (group 0 here)."""
    optimizer = sgd(0.1, 0.01)
    scheduler = build_scheduler(
        optimizer, initial_lr=[0.1, 0.01], final_lr=[1e-4, 1e-3], max_steps=100, n_updates=4, kind="multistep"
    )
    optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.05})
    for _ in range(100):
        optimizer.step()
        scheduler.step()
    assert lrs(optimizer) == pytest.approx([1e-4, 1e-3, 0.5e-4], rel=1e-12)  # 1000x down, like group 0


def test_a_checkpoint_without_the_optional_keys_loads() -> None:
    """Checkpoints written before factors, adopted groups and re-plans existed resume unchanged."""
    state = _state()
    for key in ("factors", "adopted", "segments", "origin", "base_lrs", "_last_lr"):
        del state[key]
    optimizer = sgd(0.1)
    scheduler = ours(optimizer)
    scheduler.load_state_dict(state)
    assert (scheduler.last_epoch, scheduler.factors, scheduler.resumed_at) == (5, (1.0,), ())
    reference = sgd(0.1)
    oracle = torch_oracle(reference)
    for _ in range(5):
        reference.step()
        oracle.step()
    assert lrs(optimizer) == pytest.approx(lrs(reference), rel=1e-12)


@pytest.mark.parametrize(
    "scribbled",
    [
        pytest.param(lambda: torch.tensor(0.5, dtype=torch.bfloat16), id="bf16-tensor"),
        pytest.param(lambda: torch.tensor([0.5]), id="1-d-tensor"),
        pytest.param(lambda: 0.5, id="another-float"),
    ],
)
def test_a_load_rewrites_a_declared_group_whatever_it_holds(scribbled: Callable[[], Any]) -> None:
    """The scheduler owns its declared groups' LRs: a load writes the checkpoint's LR over them.

    Only groups added after the build are checked at a load (they join with the LR they hold);
    a declared group's LR is the schedule's, so whatever was put there is simply replaced.
    """
    optimizer = sgd(torch.tensor(0.1))
    scheduler = ours(optimizer)
    optimizer.param_groups[0]["lr"] = scribbled()
    scheduler.load_state_dict(_state())
    reference = sgd(0.1)
    oracle = torch_oracle(reference)
    for _ in range(5):
        reference.step()
        oracle.step()
    lr = optimizer.param_groups[0]["lr"]
    assert (lr.dtype, lr.shape) == (torch.float32, ())
    assert float(lr) == pytest.approx(lrs(reference)[0], rel=1e-7)
