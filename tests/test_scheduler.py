"""build_scheduler and BoundedLR against PyTorch's own schedulers, the seed's numbers, and resume."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import ExponentialLR, LRScheduler, MultiStepLR, StepLR

from bounded_lr_resolver import BoundedLR, build_scheduler
from bounded_lr_resolver.bounds import gamma, milestones, step_size
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.errors import BoundsError, BoundsTypeError, ResumeMismatchError
from tests.conftest import MUTATION


def sgd(*lrs: float, tensor: bool = False) -> torch.optim.Optimizer:
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": torch.tensor(lr) if tensor else lr}
        for lr in lrs
    ]
    return torch.optim.SGD(groups, lr=lrs[0])


def trace(
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler,
    steps: int,
    group: int = 0,
    every_step: bool = True,
) -> list[float]:
    """The LR before any step, then after each of ``steps`` (optimizer.step(); scheduler.step()).

    ``every_step=False`` calls ``optimizer.step()`` only once (the params have no gradients, so
    it changes nothing but the cost) to keep 10**6-step runs short.
    """
    out = [float(optimizer.param_groups[group]["lr"])]
    for index in range(steps):
        if every_step or index == 0:
            optimizer.step()
        scheduler.step()
        out.append(float(optimizer.param_groups[group]["lr"]))
    return out


# (kind, max_steps, n_updates, the torch scheduler with the derived parameters)
TorchFactory = Callable[[torch.optim.Optimizer], LRScheduler]
ORACLES = [
    pytest.param("step", 1000, 10, lambda o: StepLR(o, step_size(1000, 10), gamma(0.1, 1e-4, 10)), id="step"),
    pytest.param(
        "multistep",
        1000,
        7,
        lambda o: MultiStepLR(o, milestones(1000, 7), gamma(0.1, 1e-4, 7)),
        id="multistep-uneven",
    ),
    pytest.param(
        "multistep",
        1000,
        10,
        lambda o: StepLR(o, 100, gamma(0.1, 1e-4, 10)),
        id="multistep-is-step-when-even",
    ),
    pytest.param(
        "exponential", 1000, None, lambda o: ExponentialLR(o, gamma(0.1, 1e-4, 1000)), id="exponential"
    ),
]


@pytest.mark.parametrize(("kind", "max_steps", "n_updates", "oracle"), ORACLES)
def test_factory_contract_against_torch(
    kind: str, max_steps: int, n_updates: int | None, oracle: TorchFactory
) -> None:
    ours_opt = sgd(0.1)
    ours = build_scheduler(
        ours_opt, initial_lr=0.1, final_lr=1e-4, max_steps=max_steps, n_updates=n_updates, kind=kind
    )
    assert isinstance(ours, LRScheduler)
    theirs_opt = sgd(0.1)
    got, expected = trace(ours_opt, ours, max_steps + 5), trace(theirs_opt, oracle(theirs_opt), max_steps)
    assert got[0] == 0.1
    assert np.allclose(got[: max_steps + 1], expected, rtol=1e-12, atol=0)  # torch chains multiplications
    assert abs(got[max_steps] - 1e-4) / 1e-4 <= 1e-12
    assert all(b <= a for a, b in pairwise(got))
    assert min(got[: max_steps + 1]) >= 1e-4
    assert sum(b < a for a, b in pairwise(got)) == (n_updates or max_steps)
    assert got[max_steps:] == [1e-4] * 6  # held at final_lr past max_steps


@pytest.mark.filterwarnings("ignore::bounded_lr_resolver.errors.StepCountWarning")  # one optimizer.step()
def test_seed_example_through_torch() -> None:
    opt = sgd(0.1)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=10**6, n_updates=10**4)
    assert abs(sched.schedules[0].gamma - 0.999309463003) < 1e-12
    assert sched.schedules[0].step_size == 100
    got = trace(opt, sched, 10**6, every_step=False)
    assert got[-1] == 1e-4
    assert np.array_equal(np.array(got), lr_curve(sched.schedules[0]))


LAST_STEP = [
    # (max_steps, n_updates, kind, final_lr_at, the LR the last training step (max_steps - 1) uses)
    pytest.param(3, 3, "exponential", "max_steps", 1e-3, id="seed-convention-m3-trains-at-10x-final"),
    pytest.param(12, 3, "step", "max_steps", 1e-3, id="step-m3-seed-convention"),
    pytest.param(12, 3, "step", "last_step", 1e-4, id="step-m3-last-step"),
    pytest.param(10, 3, "multistep", "last_step", 1e-4, id="multistep-m3-last-step"),
    pytest.param(4, None, "exponential", "last_step", 1e-4, id="exponential-last-step"),
]


@pytest.mark.parametrize(("max_steps", "n_updates", "kind", "at", "last_lr"), LAST_STEP)
def test_last_training_step_convention(
    max_steps: int, n_updates: int | None, kind: str, at: str, last_lr: float
) -> None:
    if kind == "exponential" and at == "max_steps":
        n_updates = max_steps
    opt = sgd(0.1)
    sched = build_scheduler(
        opt,
        initial_lr=0.1,
        final_lr=1e-4,
        max_steps=max_steps,
        n_updates=n_updates,
        kind=kind,
        final_lr_at=at,
    )
    lrs = trace(opt, sched, max_steps)
    assert math.isclose(lrs[max_steps - 1], last_lr, rel_tol=1e-12)
    decays_in_training = sum(b < a for a, b in pairwise(lrs[:max_steps]))
    assert decays_in_training == (3 if at == "last_step" else sched.schedules[0].count - 1)


def test_last_step_matches_torch_multisteplr() -> None:
    opt, ref_opt = sgd(0.1), sgd(0.1)
    sched = build_scheduler(
        opt,
        initial_lr=0.1,
        final_lr=1e-4,
        max_steps=100,
        n_updates=3,
        kind="multistep",
        final_lr_at="last_step",
    )
    ref = MultiStepLR(ref_opt, milestones(100, 3, 0, "last_step"), gamma(0.1, 1e-4, 3))
    assert np.allclose(trace(opt, sched, 100), trace(ref_opt, ref, 100), rtol=1e-12, atol=0)


def test_warmup_then_bounded_decay() -> None:
    opt = sgd(0.1)
    sched = build_scheduler(
        opt,
        initial_lr=0.1,
        final_lr=1e-3,
        max_steps=110,
        n_updates=2,
        kind="step",
        warmup_steps=10,
        warmup_start_factor=0.0,
    )
    lrs = trace(opt, sched, 110)
    assert lrs[:11] == pytest.approx([0.01 * t for t in range(11)], rel=1e-15)
    assert lrs[10] == 0.1
    assert lrs[60] == pytest.approx(0.01, rel=1e-15)
    assert lrs[110] == 1e-3
    assert sum(b < a for a, b in pairwise(lrs[10:])) == 2


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::bounded_lr_resolver.errors.StepCountWarning")  # one optimizer.step()
@pytest.mark.parametrize("kind", ["step", "multistep", "exponential"])
def test_tensor_lr_has_no_drift(kind: str) -> None:
    steps = 10**6
    opt = sgd(0.1, tensor=True)
    lr_tensor = opt.param_groups[0]["lr"]
    sched = build_scheduler(
        opt,
        initial_lr=0.1,
        final_lr=1e-4,
        max_steps=steps,
        kind=kind,
        n_updates=None if kind == "exponential" else 10**4,
    )
    opt.step()
    for _ in range(steps):
        sched.step()
    assert opt.param_groups[0]["lr"] is lr_tensor  # compiled graphs hold this tensor
    assert abs(float(lr_tensor) - 1e-4) / 1e-4 <= 2e-7


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::bounded_lr_resolver.errors.StepCountWarning")  # one optimizer.step()
def test_torch_chained_tensor_lr_drifts_where_ours_does_not() -> None:
    """The problem we solve, measured side by side: the same fp32 tensor LR, 10**5 exponential decays."""
    steps, final = 10**5, 1e-4
    theirs_opt, ours_opt = sgd(0.1, tensor=True), sgd(0.1, tensor=True)
    theirs = ExponentialLR(theirs_opt, (final / 0.1) ** (1 / steps))  # the per-step factor, by hand
    ours = build_scheduler(ours_opt, initial_lr=0.1, final_lr=final, max_steps=steps, kind="exponential")
    theirs_opt.step()
    ours_opt.step()
    for _ in range(steps):
        theirs.step()
        ours.step()
    drift = {
        name: abs(float(opt.param_groups[0]["lr"]) - final) / final
        for name, opt in (("theirs", theirs_opt), ("ours", ours_opt))
    }
    assert drift["theirs"] > 1e-4, drift  # torch multiplies the rounded fp32 value 10**5 times
    assert drift["ours"] <= 2e-7, drift  # ours writes the float64 closed form: one fp32 rounding
    assert float(ours_opt.param_groups[0]["lr"]) == float(torch.tensor(final))


def test_param_groups_keep_their_ratio() -> None:
    opt = sgd(0.01, 0.1)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10)
    trace(opt, sched, 100)
    assert math.isclose(opt.param_groups[0]["lr"], 1e-5, rel_tol=1e-15)
    assert opt.param_groups[1]["lr"] == 1e-4


def test_per_group_bounds() -> None:
    opt = sgd(0.01, 0.1)
    sched = build_scheduler(opt, initial_lr=[0.01, 0.1], final_lr=[1e-3, 1e-5], max_steps=100, n_updates=10)
    trace(opt, sched, 100)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-5]
    assert [s.gamma for s in sched.schedules] == [gamma(0.01, 1e-3, 10), gamma(0.1, 1e-5, 10)]


FACTORY_BAD = [
    pytest.param(
        dict(optimizer=[1, 2]),
        BoundsTypeError,
        "build_scheduler: optimizer must be a torch.optim.Optimizer, got optimizer=[1, 2] (list)",
        id="not-an-optimizer",
    ),
    pytest.param(
        dict(initial_lr=0.2),
        BoundsError,
        "build_scheduler: initial_lr must be the optimizer's (largest param group's) lr, got "
        "initial_lr=0.2, optimizer lrs=[0.1]. Build the optimizer with lr=initial_lr (in a config, lr: "
        "${<the scheduler node's key>.initial_lr}), or give per-group lists: initial_lr=[...], "
        "final_lr=[...]",
        id="optimizer-lr-contradicts-config",
    ),
    pytest.param(
        dict(max_steps=1000, n_updates=3),
        BoundsError,
        "build_scheduler: max_steps must be a multiple of n_updates for an evenly stepped decay, "
        "got max_steps=1000, n_updates=3, warmup_steps=0. Use kind='multistep' (resolver "
        "blr.milestones, config bounded_lr/multistep), which spreads exactly n_updates decays over "
        "any number of steps",
        id="non-divisible-step",
    ),
    pytest.param(
        dict(kind="exponential"),
        BoundsError,
        "build_scheduler: n_updates must be max_steps - warmup_steps = 1000 for "
        "kind='exponential', which decays on every step, got n_updates=10, max_steps=1000, "
        "warmup_steps=0. Set n_updates=1000 (or leave it out), or use kind='step' or 'multistep'",
        id="exponential-n-updates",
    ),
    pytest.param(
        dict(gamma=0.5),
        BoundsError,
        "build_scheduler: gamma must be the gamma derived from the bounds (or left out), got "
        "gamma=0.5, derived gamma=0.5011872336272722. Change initial_lr, final_lr or n_updates "
        "instead of gamma",
        id="hand-edited-gamma",
    ),
    pytest.param(
        dict(step_size=7),
        BoundsError,
        "build_scheduler: step_size must be the step size derived from the bounds (or left out), "
        "got step_size=7, derived step_size=100. Change max_steps, n_updates or warmup_steps "
        "instead of step_size",
        id="hand-edited-step-size",
    ),
    pytest.param(
        dict(warmup_steps=1000),
        BoundsError,
        "build_scheduler: warmup_steps must be in [0, max_steps), got warmup_steps=1000, "
        "max_steps=1000. Warmup must leave steps for the decay",
        id="warmup-not-below-max-steps",
    ),
    pytest.param(
        dict(initial_lr=[0.1, 0.2], final_lr=[1e-4, 1e-4]),
        BoundsError,
        "build_scheduler: initial_lr must be a list with one entry per param group, got "
        "initial_lr=[0.1, 0.2], param groups=1",
        id="per-group-count",
    ),
    pytest.param(
        dict(initial_lr=[0.1], final_lr=1e-4),
        BoundsTypeError,
        "build_scheduler: final_lr must be a list like the other bound when one of them is a "
        "list, got final_lr=0.0001 (float)",
        id="per-group-mixed",
    ),
    pytest.param(
        dict(final_lr="1e-4"),
        BoundsTypeError,
        "build_scheduler: final_lr must be a number (int or float), got final_lr='1e-4' (str). "
        "Write the number without quotes; a number from an environment variable is text: decode "
        "it with ${oc.decode:${oc.env:NAME}}",
        id="text-lr",
    ),
    pytest.param(
        dict(max_steps=1e18),
        BoundsError,
        "build_scheduler: max_steps must be <= 2**53 = 9007199254740992, got max_steps=1e+18",
        id="huge-max-steps",
    ),
]


@pytest.mark.parametrize(("overrides", "error", "message"), FACTORY_BAD)
def test_factory_bad_input(overrides: dict[str, object], error: type[Exception], message: str) -> None:
    kwargs: dict[str, object] = dict(
        optimizer=sgd(0.1), initial_lr=0.1, final_lr=1e-4, max_steps=1000, n_updates=10
    )
    kwargs.update(overrides)
    before = (
        [dict(g) for g in kwargs["optimizer"].param_groups]
        if isinstance(kwargs["optimizer"], torch.optim.Optimizer)
        else None
    )
    with pytest.raises(error) as info:
        build_scheduler(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
    if before is not None:  # nothing half-applied: the optimizer is untouched
        assert [dict(g) for g in kwargs["optimizer"].param_groups] == before  # type: ignore[union-attr]


RESUME_SCRIPT = """
import json, sys, torch
from bounded_lr_resolver import build_scheduler
mode, folder, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
results = []
for index, (kind, warmup, stop, tensor) in enumerate(cases):
    path = f"{folder}/ckpt{index}.pt"
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p], lr=torch.tensor(0.1) if tensor else 0.1)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=300, warmup_steps=warmup, kind=kind,
                            n_updates=None if kind == "exponential" else 10)
    start = 0
    if mode == "resume":
        state = torch.load(path)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start = stop
    lrs = []
    for step in range(start, 300):
        if mode == "save" and step == stop:
            torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, path)
        lrs.append(float(opt.param_groups[0]["lr"]).hex())
        p.grad = torch.ones(3)
        opt.step()
        sched.step()
    results.append(lrs)
print(json.dumps(results))
"""

resume_cases = st.lists(
    st.tuples(
        st.sampled_from(["step", "multistep", "exponential"]),
        st.sampled_from([0, 50]),
        st.integers(1, 299),
        st.booleans(),
    ),
    min_size=6,
    max_size=12,
)


@pytest.mark.slow
@settings(max_examples=2, deadline=None)
@given(cases=resume_cases)
def test_resume_in_new_process_is_bitwise_identical(
    tmp_path_factory: pytest.TempPathFactory, cases: list[tuple[str, int, int, bool]]
) -> None:
    """Save at random steps in one process; a second process loads and continues, bit for bit."""
    import json

    folder = tmp_path_factory.mktemp("ckpt")

    def run(mode: str) -> list[list[str]]:
        out = subprocess.run(
            [sys.executable, "-c", RESUME_SCRIPT, mode, str(folder), json.dumps(cases)],
            capture_output=True,
            text=True,
            check=True,
        )
        result: list[list[str]] = json.loads(out.stdout)
        return result

    full, resumed = run("save"), run("resume")
    for (_, _, stop, _), whole, tail in zip(cases, full, resumed, strict=True):
        assert tail == whole[stop:]


def test_resume_with_other_bounds_is_refused() -> None:
    opt = sgd(0.1)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10)
    trace(opt, sched, 30)
    state = sched.state_dict()
    fresh = build_scheduler(sgd(0.1), initial_lr=0.1, final_lr=1e-5, max_steps=100, n_updates=10)
    with pytest.raises(
        ResumeMismatchError, match=r"group 0 final_lr: checkpoint final_lr=0.0001, config final_lr=1e-05"
    ):
        fresh.load_state_dict(state)
    assert fresh.last_epoch == 0  # nothing half-applied


def test_resume_from_a_torch_checkpoint_is_refused() -> None:
    torch_state = StepLR(sgd(0.1), 10).state_dict()
    with pytest.raises(ResumeMismatchError, match="got one without 'bounds'"):
        build_scheduler(sgd(0.1), initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10).load_state_dict(
            torch_state
        )


def test_state_dict_loads_with_weights_only(tmp_path: Path) -> None:
    opt = sgd(0.1, tensor=True)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10)
    trace(opt, sched, 42)
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    fresh = build_scheduler(sgd(0.1, tensor=True), initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10)
    fresh.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert fresh.last_epoch == 42
    assert float(fresh.optimizer.param_groups[0]["lr"]) == float(opt.param_groups[0]["lr"])


def test_is_a_real_lr_scheduler_usable_with_partial() -> None:
    import functools

    make = functools.partial(build_scheduler, initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10)
    sched = make(optimizer=sgd(0.1))
    assert isinstance(sched, BoundedLR)
    assert sched.get_last_lr() == [0.1]


def test_tensor_lr_object_survives_resume() -> None:
    """Compiled graphs hold the optimizer's LR tensor; loading a checkpoint must not swap it out."""
    opt = sgd(0.1, tensor=True)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10)
    trace(opt, sched, 37)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    fresh_opt = sgd(0.1, tensor=True)
    held = fresh_opt.param_groups[0]["lr"]
    fresh = build_scheduler(fresh_opt, initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10)
    fresh_opt.load_state_dict(opt_state)
    fresh.load_state_dict(sched_state)
    fresh_opt.step()
    fresh.step()
    assert fresh_opt.param_groups[0]["lr"] is held
    assert float(held) == float(
        torch.tensor(
            build_scheduler(sgd(0.1), initial_lr=0.1, final_lr=1e-4, max_steps=100, n_updates=10).lrs_at(38)[
                0
            ]
        )
    )


def test_stepping_the_scheduler_more_often_than_the_optimizer_warns_once() -> None:
    """The classic bug (accelerate#2773): scheduler.step() per micro-batch, 4 per optimizer step."""
    from bounded_lr_resolver.errors import StepCountWarning

    opt = sgd(0.1)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=10_000, n_updates=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(100):
            opt.step()
            for _ in range(4):
                sched.step()
    [warning] = [w for w in caught if issubclass(w.category, StepCountWarning)]
    assert str(warning.message) == (
        "BoundedLR.step: scheduler.step() was called 201 times while the optimizer stepped 50 times since "
        "the scheduler was built or loaded. Call it once per optimizer.step(): stepping it per micro-batch "
        "or once per process runs the schedule that many times too fast (accelerate#2773). Stepping "
        "without the optimizer on purpose? warnings.filterwarnings('ignore', "
        "category=bounded_lr_resolver.errors.StepCountWarning)"
    )
    assert MUTATION or warning.filename == __file__  # the caller's loop (mutmut adds a frame)


def test_skipped_optimizer_steps_as_amp_makes_them_do_not_warn() -> None:
    """GradScaler skips optimizer.step() on inf/NaN gradients while it calibrates: no warning."""
    opt = sgd(0.1)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=10_000, n_updates=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(10_000):
            if step == 0 or (step > 60 and step % 7):  # steps 1..60 skipped, then one in seven
                opt.step()
            sched.step()
        opt2 = sgd(0.1)
        resumed = build_scheduler(opt2, initial_lr=0.1, final_lr=1e-4, max_steps=10_000, n_updates=10)
        resumed.load_state_dict(sched.state_dict())  # counting starts again at the load
        for _ in range(50):
            opt2.step()
            resumed.step()


class _CountingSlowPath(BoundedLR):
    """BoundedLR counting the steps that take the path folding outside LR changes into factors."""

    slow_steps = 0

    def _follow_outside_changes(self) -> None:
        self.slow_steps += 1
        super()._follow_outside_changes()


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"kind": "step", "n_updates": 10}, id="step"),
        pytest.param({"kind": "multistep", "n_updates": 7}, id="multistep"),
        pytest.param({"kind": "exponential"}, id="exponential"),
        pytest.param({"kind": "cosine"}, id="cosine"),
        pytest.param({"kind": "wsd", "decay_steps": 300, "warmup_steps": 100}, id="wsd"),
    ],
)
def test_a_tensor_lr_shared_by_ten_groups_never_takes_the_outside_change_path(
    fields: dict[str, object],
) -> None:
    """``SGD(groups, lr=torch.tensor(0.1))`` gives all 10 groups one tensor: each group's write bumps its
    version, which must not read as a change from outside (issue 23: it did on 1000 of 1000 steps)."""
    from bounded_lr_resolver.schedule import Schedule

    shared = torch.tensor(0.1)
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(10)]
    optimizer = torch.optim.SGD(groups, lr=shared)
    assert all(group["lr"] is shared for group in optimizer.param_groups)
    schedule = Schedule(0.1, 1e-4, 1000, where="build_scheduler", **fields)  # type: ignore[arg-type]
    scheduler = _CountingSlowPath(optimizer, [(schedule, 0.1)] * 10)
    for _ in range(1000):
        optimizer.step()
        scheduler.step()
    assert scheduler.slow_steps == 0
    assert float(shared) == float(torch.tensor(1e-4))  # the schedule's end, in the one tensor
    shared.fill_(1e-3)  # a change from outside still takes that path, once
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    assert scheduler.slow_steps == 1
    assert all(group["lr"] is shared for group in optimizer.param_groups)
    assert float(shared) == float(torch.tensor(1e-3))  # kept: a factor of 10 on the held final LR
