"""Resume that re-plans: random original bounds, resume step and changed bounds, for every kind.

The property (``test_replanned_resume_keeps_every_promise``): a re-planned resume either raises
``ResumeMismatchError`` or keeps history, is continuous at the resume step, never increases after
it (after the new warmup), stays in ``[new final_lr, LR at resume]``, ends exactly at the new
``final_lr`` where the new convention says, makes exactly the new ``n_updates`` decays in all (step
kinds), and resumes again bitwise from its own checkpoint. The references are computed here from
the old schedule and the new bounds, not taken from the re-planned scheduler.
"""

from __future__ import annotations

import io
import itertools
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bounded_lr_resolver import build_scheduler
from bounded_lr_resolver.errors import BoundedLRError, BoundsError, ResumeMismatchError
from bounded_lr_resolver.schedule import SCHEDULE_FIELDS, Schedule
from bounded_lr_resolver.shapes import SHAPES
from tests.conftest import examples, run
from tests.test_main_job import BOUNDED_LR

STEP_KINDS = ("step", "multistep", "exponential")


def sgd(lr: float = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def stepped(optimizer: torch.optim.Optimizer, scheduler: Any, steps: int) -> list[float]:
    lrs = []
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        lrs.append(float(optimizer.param_groups[0]["lr"]))
    return lrs


@st.composite
def bounds(draw: st.DrawFn, initial: float, at_least: int = 2) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(["step", "multistep", "exponential", "cosine", "linear", "polynomial", "wsd"])
    )
    at = draw(st.sampled_from(["max_steps", "last_step"]))
    warmup = draw(st.sampled_from([0, 0, draw(st.integers(1, 20))]))
    count = draw(st.integers(1, 12))
    plateaus = count + (at == "last_step")
    if kind == "step":
        steps = warmup + plateaus * draw(st.integers(max(1, at_least // plateaus), 12))
    else:
        steps = warmup + draw(st.integers(max(plateaus, at_least), 160))
    fields: dict[str, Any] = {
        "initial_lr": initial,
        "final_lr": initial * draw(st.sampled_from([1e-3, 0.05, 0.5, 1.0])),
        "max_steps": steps,
        "kind": kind,
        "final_lr_at": at,
        "warmup_steps": warmup,
        "warmup_start_factor": draw(st.sampled_from([0.0, 0.1, 1.0])),
    }
    if kind in ("step", "multistep"):
        fields["n_updates"] = count
    if kind == "polynomial":
        fields["power"] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    if kind == "wsd":
        fields["decay_steps"] = draw(st.integers(1, steps - warmup))
        fields["decay_shape"] = draw(st.sampled_from(["linear", "cosine", "sqrt", "exponential"]))
    return fields


def build(fields: dict[str, Any], **extra: Any) -> tuple[torch.optim.Optimizer, Any]:
    optimizer = sgd(fields["initial_lr"])
    return optimizer, build_scheduler(optimizer, **fields, **extra)


@settings(
    max_examples=examples(5000),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_replanned_resume_keeps_every_promise(data: st.DataObject) -> None:
    try:
        old = data.draw(bounds(0.1))
        opt, sched = build(old)
    except BoundsError:
        event("invalid original bounds")
        return  # not a valid original schedule (the step kind's divisibility, a tight range)
    r = data.draw(st.integers(0, old["max_steps"] + 3))
    before = [float(opt.param_groups[0]["lr"]), *stepped(opt, sched, r)]  # LRs at steps 0..r
    state = sched.state_dict()
    new = data.draw(bounds(0.1, at_least=2))
    try:
        opt2, resumed = build(new, on_resume_change="replan")
    except BoundsError:
        event("invalid new bounds")
        return
    # A change may be refused, naming it (its messages are tested one by one below) -- but never a
    # tail that is always plannable: a continuous kind from the LR at the resume step down to a
    # final_lr at or below it, over at least two steps left, with the same peak and warmup.
    same = all(new[key] == old[key] for key in ("initial_lr", "warmup_steps", "warmup_start_factor"))
    continuous = new["kind"] in ("exponential", "cosine", "linear", "polynomial")
    if continuous and same and r + 2 <= new["max_steps"] and new["final_lr"] <= before[r]:
        resumed.load_state_dict(state)
    else:
        try:
            resumed.load_state_dict(state)
        except ResumeMismatchError:
            event("refused")
            return
    event("re-planned" if resumed.resumed_at else "accepted unchanged")
    assert float(opt2.param_groups[0]["lr"]) == before[r], "continuous: the checkpoint's LR at its step"
    plan = resumed.plans[0]
    assert [plan.lr_at(t) for t in range(r + 1)] == before, "history unchanged"
    end = max(new["max_steps"] + 2, r)
    after = [float(opt2.param_groups[0]["lr"]), *stepped(opt2, resumed, end - r)]  # steps r..end
    assert after == [plan.lr_at(t) for t in range(r, end + 1)], "the plan is what the scheduler writes"
    final = new["final_lr"]
    hit = new["max_steps"] - (new["final_lr_at"] == "last_step")
    assert all(lr == final for lr in after[hit - r :]), "final_lr exactly where promised, then held"
    decaying = after[max(0, new["warmup_steps"] - r) :]  # steps from max(r, warmup_steps) on
    assert all(b <= a for a, b in itertools.pairwise(decaying)), "never increases after warmup"
    top = max(before[r], new["initial_lr"]) if r < new["warmup_steps"] else before[r]
    assert all(final <= lr <= top for lr in decaying), "within [new final_lr, LR at resume]"
    if new["kind"] in ("step", "multistep") and final < before[r]:
        made = (
            Schedule(**old).decays_at(r) if old["kind"] in STEP_KINDS and not resumed_twice(state) else None
        )
        if made is not None:
            decays = sum(b < a for a, b in itertools.pairwise(after))
            assert made + decays == new["n_updates"], "exactly n_updates decays in all"
    # a second resume from the re-planned run's own checkpoint, same config: bitwise
    r2 = data.draw(st.integers(r, end))
    opt3, again = build(new, on_resume_change="replan")
    opt4, original = build(new, on_resume_change="replan")
    original.load_state_dict(state)
    stepped(opt4, original, r2 - r)
    checkpoint = original.state_dict()
    again.load_state_dict(checkpoint)
    assert [float(opt3.param_groups[0]["lr"]), *stepped(opt3, again, end - r2)] == after[r2 - r :]


def resumed_twice(state: dict[str, Any]) -> bool:
    return bool(state.get("segments"))


def test_extend_a_step_run_and_resume_it_twice_bitwise() -> None:
    """12 steps / 3 decays resumed at step 6 as 24 / 6: 1 decay made, 5 spread over the 18 left."""
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    first = [0.1, *stepped(opt, sched, 6)]
    state = sched.state_dict()
    longer = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 24, "n_updates": 6}
    opt2, resumed = build(longer, on_resume_change="replan")
    resumed.load_state_dict(state)
    rest = [float(opt2.param_groups[0]["lr"]), *stepped(opt2, resumed, 18)]
    assert rest[0] == first[6] == pytest.approx(1e-2, rel=1e-15)
    assert rest[-1] == 1e-4
    gamma = (1e-4 / 1e-2) ** (1 / 5)  # the remaining decays share the remaining range
    expected_values = [1e-2 * gamma**k for k in range(5)] + [1e-4]
    values = sorted(set(rest), reverse=True)
    assert values == pytest.approx(expected_values, rel=1e-13)
    changes = [t + 6 for t, (a, b) in enumerate(itertools.pairwise(rest), 1) if b < a]
    assert changes == [6 + (i * 18) // 5 for i in range(1, 6)]  # the rest, evenly spread
    assert resumed.resumed_at == (6,)
    opt2, resumed = build(longer, on_resume_change="replan")
    resumed.load_state_dict(state)
    stepped(opt2, resumed, 9)
    saved = resumed.state_dict()
    assert saved["segments"][0]["step"] == 6
    assert saved["origin"][0]["max_steps"] == 12
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True) == saved  # plain data
    opt3, again = build(longer)  # "refuse" is fine: the config is the checkpoint's
    again.load_state_dict(saved)
    assert [float(opt3.param_groups[0]["lr"]), *stepped(opt3, again, 9)] == rest[9:]


def test_refuse_stays_the_default_and_says_how_to_replan() -> None:
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    stepped(opt, sched, 6)
    _, other = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 24, "n_updates": 6})
    with pytest.raises(ResumeMismatchError) as caught:
        other.load_state_dict(sched.state_dict())
    assert str(caught.value) == (
        "BoundedLR.load_state_dict: the checkpoint's bounds must equal the config's, got group 0 "
        "max_steps: checkpoint max_steps=12, config max_steps=24; group 0 n_updates: checkpoint "
        "n_updates=3, config n_updates=6. Resume with the config the checkpoint was trained with, "
        "start a new schedule, or set on_resume_change='replan' to plan the rest of the run under the "
        "new bounds"
    )


@pytest.mark.parametrize(
    ("old", "new", "step"),
    [
        pytest.param(
            {"max_steps": 12, "n_updates": 3},
            {"max_steps": 12, "n_updates": 3, "kind": "multistep"},
            6,
            id="step-to-multistep-same-milestones",
        ),
        pytest.param(
            {"max_steps": 110, "n_updates": 10, "warmup_steps": 10, "warmup_start_factor": 0.0},
            {"max_steps": 110, "n_updates": 10, "warmup_steps": 10, "warmup_start_factor": 0.5},
            10,
            id="warmup-start-factor-after-warmup",
        ),
        pytest.param(
            {"max_steps": 100, "kind": "exponential"},
            {"max_steps": 100, "n_updates": 100, "kind": "multistep"},
            40,
            id="exponential-to-multistep-every-step",
        ),
    ],
)
def test_a_change_that_changes_no_lr_is_accepted_with_refuse(
    old: dict[str, Any], new: dict[str, Any], step: int
) -> None:
    common = {"initial_lr": 0.1, "final_lr": 1e-4}
    opt, sched = build({**common, **old})
    stepped(opt, sched, step)
    rest = stepped(opt, sched, 30)
    opt, sched = build({**common, **old})
    stepped(opt, sched, step)
    opt2, resumed = build({**common, **new})  # on_resume_change="refuse"
    resumed.load_state_dict(sched.state_dict())
    assert resumed.resumed_at == ()  # nothing re-planned
    assert stepped(opt2, resumed, 30) == rest


def test_warmup_start_factor_still_ramping_is_a_change() -> None:
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 110, "n_updates": 10, "warmup_steps": 10}
    opt, sched = build(fields)
    stepped(opt, sched, 5)
    _, resumed = build({**fields, "warmup_start_factor": 0.5})
    with pytest.raises(ResumeMismatchError, match=r"checkpoint warmup_start_factor=0\.0"):
        resumed.load_state_dict(sched.state_dict())


REFUSED = [
    pytest.param(
        {"max_steps": 6},
        "cannot honour max_steps: checkpoint max_steps=12, config max_steps=6: the checkpoint is at step 6, "
        "so the run must go on after it. Give max_steps > 6",
        id="max-steps-at-resume",
    ),
    pytest.param(
        {"max_steps": 24, "n_updates": 1, "kind": "multistep"},
        "cannot honour n_updates: checkpoint n_updates=3, config n_updates=1: the checkpoint has made 1 "
        "decays by step 6. Give n_updates > 1 (the decays so far plus the ones still to come)",
        id="fewer-decays-than-made",
    ),
    pytest.param(
        {"max_steps": 24, "n_updates": 6, "final_lr": 0.05},
        "cannot honour final_lr: checkpoint final_lr=0.0001, config final_lr=0.05: the checkpoint trains "
        "at 0.010000000000000002 at step 6, and the LR never rises after warmup. Give final_lr <= "
        "0.010000000000000002 (for this group's base LR)",
        id="final-above-lr-at-resume",
    ),
    pytest.param(
        {"max_steps": 24, "n_updates": 6, "initial_lr": 0.2},
        "cannot honour initial_lr: checkpoint initial_lr=0.1, config initial_lr=0.2: warmup has ended by "
        "step 6, so the peak LR is history. Keep initial_lr=0.1 (and the optimizer's lr)",
        id="initial-after-warmup",
    ),
    pytest.param(
        {"max_steps": 7, "n_updates": 3, "kind": "multistep"},
        "cannot honour n_updates: checkpoint n_updates=3, config n_updates=3: 2 decays are still to come "
        "after "
        "step 6 (the checkpoint has made 1), and 1 steps are left for them. Give n_updates <= 2, or 1 "
        "more steps",
        id="more-decays-than-steps-left",
    ),
]


@pytest.mark.parametrize(("new", "message"), REFUSED)
def test_a_change_that_cannot_be_honoured_is_refused_naming_it(new: dict[str, Any], message: str) -> None:
    old = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3}
    opt, sched = build(old)
    stepped(opt, sched, 6)
    state = sched.state_dict()
    fields = {**old, **new}
    _, resumed = build(fields, on_resume_change="replan")
    before = resumed.state_dict()
    with pytest.raises(ResumeMismatchError) as caught:
        resumed.load_state_dict(state)
    assert str(caught.value) == f"BoundedLR.load_state_dict: on_resume_change='replan' {message}"
    assert resumed.state_dict() == before  # nothing applied


def test_switch_step_to_cosine_and_extend_warmup() -> None:
    """Resumed in warmup with a longer warmup: it ramps on from where it was to the peak."""
    old = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 110, "n_updates": 10, "warmup_steps": 10}
    opt, sched = build(old)
    before = [0.0, *stepped(opt, sched, 4)]
    new = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 220, "kind": "cosine", "warmup_steps": 20}
    opt2, resumed = build(new, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    rest = [float(opt2.param_groups[0]["lr"]), *stepped(opt2, resumed, 216)]
    assert rest[0] == before[4] == pytest.approx(0.04, rel=1e-15)
    assert rest[1:17] == pytest.approx([0.04 + (0.1 - 0.04) * t / 16 for t in range(1, 17)], rel=1e-14)
    assert rest[16] == 0.1  # step 20: warmup done
    assert rest[16 + 100] == pytest.approx(1e-4 + (0.1 - 1e-4) / 2, rel=1e-12)
    assert rest[-1] == 1e-4


def test_a_step_run_replanned_into_exponential_decays_every_step_left() -> None:
    """kind step -> exponential at step 6: one decay per remaining step, as torch's ExponentialLR."""
    old = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3}
    opt, sched = build(old)
    stepped(opt, sched, 6)  # one decay made: trains at 0.01
    opt2, resumed = build({**old, "kind": "exponential", "n_updates": None}, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    ours = stepped(opt2, resumed, 6)
    theirs_opt = sgd(0.1 * (1e-4 / 0.1) ** (1 / 3))
    theirs = torch.optim.lr_scheduler.ExponentialLR(theirs_opt, gamma=(1e-4 / 0.01) ** (1 / 6))
    assert ours == pytest.approx(stepped(theirs_opt, theirs, 6), rel=1e-12)
    assert ours[-1] == 1e-4
    assert resumed.resumed_at == (6,)


@pytest.mark.parametrize(
    "bad", [{"segments": "x"}, {"segments": [{"step": 99, "groups": []}]}, {"origin": [1]}]
)
def test_a_hand_edited_plan_is_refused_before_anything_is_applied(bad: dict[str, Any]) -> None:
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    stepped(opt, sched, 6)
    _, resumed = build(
        {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 24, "n_updates": 6}, on_resume_change="replan"
    )
    resumed.load_state_dict(sched.state_dict())
    state = {**resumed.state_dict(), **bad}
    _, fresh = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 24, "n_updates": 6})
    with pytest.raises(BoundedLRError) as caught:
        fresh.load_state_dict(state)
    assert "BoundedLR.load_state_dict: " in str(caught.value)
    assert fresh.resumed_at == ()


def test_on_resume_change_is_validated() -> None:
    with pytest.raises(BoundsError) as caught:
        build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3}, on_resume_change="yes")
    assert str(caught.value) == (
        "build_scheduler: on_resume_change must be one of ['refuse', 'replan'], got on_resume_change='yes'"
    )


@pytest.mark.slow
def test_main_job_previews_a_replanned_resume(tmp_path: Path) -> None:
    """bounded-lr resume_from=<ckpt>: the history, the resume step, the re-planned rest, verified."""
    opt, sched = build(
        {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12_000, "n_updates": 6, "kind": "multistep"}
    )
    lrs = [0.1, *stepped(opt, sched, 5_000)]
    torch.save({"scheduler": sched.state_dict()}, tmp_path / "last.ckpt")
    args = [
        BOUNDED_LR,
        f"hydra.run.dir={tmp_path / 'out'}",
        f"resume_from={tmp_path / 'last.ckpt'}",
        "plot=true",
        "scheduler=multistep",
        "scheduler.max_steps=24000",
        "scheduler.n_updates=8",
        "scheduler.on_resume_change=replan",
        "verify=true",
    ]
    output = run(args, cwd=tmp_path).stdout
    assert f"bounded-lr: resumed at step 5000 (LR {lrs[5000]!r})" in output
    assert "  history      steps 0..5000: multistep 0.1 -> 0.0001 over 12000 steps" in output
    assert (
        "  re-planned   steps 5001..24000: 0.010000000000000002 -> 0.0001 over the 19000 steps left" in output
    )
    # 8 minus the 2 made by step 5000, over the steps left
    assert (
        "  rest[0]      steps 0..19000 (19000): multistep 0.010000000000000002 -> 0.0001, n_updates=6:"
        in output
    )
    assert "bounds       HOLD" in output
    assert "stepped the resumed scheduler 19000 times: every LR equals the closed form" in output
    with (tmp_path / "out" / "schedule.csv").open() as stream:
        rows = [line.split(",") for line in stream.read().splitlines()[1:]]
    written = {int(step): float(lr) for step, lr in rows}
    assert written[5000] == lrs[5000]
    assert written[24000] == 1e-4
    assert all(written[t] == lrs[t] for t in written if t <= 5000)  # history unchanged
    assert (tmp_path / "out" / "schedule.png").stat().st_size > 20_000
    refused = run([*args[:-2], "plot=false"], cwd=tmp_path, check=False)
    assert refused.returncode == 1
    assert (
        "Error: BoundedLR.load_state_dict: the checkpoint's bounds must equal the config's" in refused.stderr
    )
    missing = run(
        [BOUNDED_LR, f"hydra.run.dir={tmp_path / 'x'}", "resume_from=nope.pt"], cwd=tmp_path, check=False
    )
    assert missing.returncode == 1
    assert (
        "bounded-lr: resume_from must be an existing checkpoint file, got resume_from='nope.pt'"
        in missing.stderr
    )


def test_a_second_replan_counts_the_decays_of_every_segment() -> None:
    """12/3 resumed at 6 as 24/6 (1 made, 5 to come), then at 15 as 30/8: 3 made by then, 5 more."""
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    history = [0.1, *stepped(opt, sched, 6)]
    second = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 24, "n_updates": 6}
    opt2, resumed = build(second, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    history += stepped(opt2, resumed, 9)  # steps 7..15; the tail's decays at 9 and 13
    third = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 30, "n_updates": 8, "kind": "multistep"}
    opt3, again = build(third, on_resume_change="replan")
    again.load_state_dict(resumed.state_dict())
    assert again.resumed_at == (6, 15)
    assert again.plans[0].decays_by(15) == 3
    rest = stepped(opt3, again, 15)
    whole = history + rest
    decays = [t for t in range(1, 31) if whole[t] < whole[t - 1]]
    assert decays == [4, 9, 13, 18, 21, 24, 27, 30]  # 8 in all: 3 in history, 5 over the 15 steps left
    assert whole[30] == 1e-4
    assert [again.plans[0].lr_at(t) for t in range(31)] == whole


def test_a_group_added_during_warmup_follows_the_replanned_plan_at_its_ratio() -> None:
    """An added group (adopted at LR 0, so at its own base 0.01) keeps 1/10 of the main group's LR."""
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 110, "n_updates": 4, "warmup_steps": 10}
    opt, sched = build(fields)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01})
    stepped(opt, sched, 30)
    longer = {**fields, "max_steps": 200, "n_updates": 6, "kind": "multistep"}
    opt2, resumed = build(longer, on_resume_change="replan")
    opt2.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01})
    resumed.load_state_dict(sched.state_dict())
    for _ in range(170):
        opt2.step()
        resumed.step()
        main, added = (float(group["lr"]) for group in opt2.param_groups)
        assert added == pytest.approx(main / 10, rel=1e-15)
    assert main == 1e-4
    # the history before the re-plan (warmup from 0, then the peak), at the same ratio
    history = [lr for t in (5, 10, 29) for lr in resumed.lrs_at(t)]
    assert history == pytest.approx([0.05, 0.005, 0.1, 0.01, 0.1, 0.01], rel=1e-15)


def test_the_rest_follows_the_new_shape_formula() -> None:
    """A cosine run resumed at step 40 as polynomial (power 2) over 200 steps: the formula from L."""
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-3, "max_steps": 100, "kind": "cosine"})
    at_40 = stepped(opt, sched, 40)[-1]
    new = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 200, "kind": "polynomial", "power": 2.0}
    opt2, resumed = build(new, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    rest = stepped(opt2, resumed, 160)
    expected = [1e-4 + (at_40 - 1e-4) * (1 - (t - 40) / 160) ** 2 for t in range(41, 200)]
    assert rest[:-1] == pytest.approx(expected, rel=1e-12, abs=0)
    assert rest[-1] == 1e-4


def test_a_wsd_rest_holds_then_decays_over_its_last_steps() -> None:
    """Resumed in the stable phase as a longer wsd with a sqrt decay: hold to max_steps - decay_steps."""
    old = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 100, "kind": "wsd", "decay_steps": 20}
    opt, sched = build(old)
    stepped(opt, sched, 50)
    new = {**old, "max_steps": 300, "decay_steps": 60, "decay_shape": "sqrt"}
    opt2, resumed = build(new, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    rest = [0.1, *stepped(opt2, resumed, 250)]  # steps 50..300
    assert rest[: 240 - 50 + 1] == [0.1] * 191  # held through step 240
    expected = [1e-4 + (0.1 - 1e-4) * (1 - math.sqrt((t - 240) / 60)) for t in range(241, 300)]
    assert rest[241 - 50 : 300 - 50] == pytest.approx(expected, rel=1e-12, abs=0)
    assert rest[-1] == 1e-4


def test_resumed_at_the_end_with_more_steps_stays_at_final_lr() -> None:
    """All decays made and the LR at final_lr: more steps with the same bounds hold it (a constant rest)."""
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3}
    opt, sched = build(fields)
    assert stepped(opt, sched, 12)[-1] == 1e-4
    opt2, resumed = build({**fields, "max_steps": 24}, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    assert stepped(opt2, resumed, 14) == [1e-4] * 14


@pytest.mark.parametrize(
    ("step", "new", "message"),
    [
        pytest.param(
            10,
            {"initial_lr": 0.2},
            "cannot honour initial_lr: checkpoint initial_lr=0.1, config initial_lr=0.2: warmup has ended by "
            "step 10, so the peak LR is history. Keep initial_lr=0.1 (and the optimizer's lr)",
            id="peak-at-the-end-of-warmup",
        ),
        pytest.param(
            8,
            {"initial_lr": 0.05, "warmup_steps": 20},
            "cannot honour initial_lr: checkpoint initial_lr=0.1, config initial_lr=0.05: the warmup would "
            "have to fall from 0.08000000000000002 (the LR at step 8) to it. Give initial_lr >= "
            "0.08000000000000002",
            id="warmup-would-fall",
        ),
    ],
)
def test_warmup_changes_that_cannot_be_honoured(step: int, new: dict[str, Any], message: str) -> None:
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 110, "n_updates": 4, "warmup_steps": 10}
    opt, sched = build(fields)
    stepped(opt, sched, step)
    _, resumed = build({**fields, **new, "max_steps": 220, "kind": "multistep"}, on_resume_change="replan")
    with pytest.raises(ResumeMismatchError) as caught:
        resumed.load_state_dict(sched.state_dict())
    assert str(caught.value) == f"BoundedLR.load_state_dict: on_resume_change='replan' {message}"


def test_a_group_lr_changed_after_warmup_is_refused_naming_base_lr() -> None:
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3}
    opt = torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in (0.1, 0.01)], lr=0.1
    )
    sched = build_scheduler(opt, **fields)
    stepped(opt, sched, 6)
    opt2 = torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in (0.1, 0.02)], lr=0.1
    )
    resumed = build_scheduler(opt2, **{**fields, "max_steps": 24}, on_resume_change="replan")
    with pytest.raises(ResumeMismatchError) as caught:
        resumed.load_state_dict(sched.state_dict())
    assert str(caught.value) == (
        "BoundedLR.load_state_dict: on_resume_change='replan' cannot honour base_lr: checkpoint "
        "base_lr=0.01, config base_lr=0.02: warmup has ended by step 6, so this param group's peak LR is "
        "history. Build the optimizer with this group's lr=0.01 again"
    )


def replanned_state() -> dict[str, Any]:
    """A checkpoint with every part: 12 steps / 3 decays resumed at step 4 as 24 / 6, stepped to 8."""
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    stepped(opt, sched, 4)
    opt2, resumed = build(LONGER, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    stepped(opt2, resumed, 4)
    return resumed.state_dict()


LONGER = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 24, "n_updates": 6}
EDITED = ". Nothing was loaded: the checkpoint's record of its re-planned resumes is damaged or hand-edited"
ORIGIN = (
    "BoundedLR.load_state_dict: origin must be a list of 1 dicts (a schedule's bounds and base_lr), one per "
    "param group, got "
)
ORIGIN_BASE = (
    "BoundedLR.load_state_dict: origin must be dicts with a base_lr > 0 and finite, got origin[0] base_lr="
)
SEGMENTS = (
    "BoundedLR.load_state_dict: segments must be a list of {'step': r, 'groups': [one re-planned rest per "
    "param group]} with r not decreasing, got "
)
TAIL = (
    "{'start_lr': 0.010000000000000002, 'phases': [{'shape': 'multistep', 'steps': 20, 'end_lr': 0.0001, "
    "'n_updates': 5, 'plateaus': 5}]}"
)
CORRUPTED: list[Any] = [
    ("origin-not-a-list", ("origin",), {"x": 1}, ORIGIN + "origin={'x': 1} (dict)" + EDITED),
    ("origin-too-short", ("origin",), [], ORIGIN + "origin=[] (list)" + EDITED),
    ("origin-base-zero", ("origin", 0, "base_lr"), 0, ORIGIN_BASE + "0" + EDITED),
    ("origin-base-inf", ("origin", 0, "base_lr"), math.inf, ORIGIN_BASE + "inf" + EDITED),
    ("origin-base-bool", ("origin", 0, "base_lr"), True, ORIGIN_BASE + "True" + EDITED),
    ("origin-base-text", ("origin", 0, "base_lr"), "0.1", ORIGIN_BASE + "'0.1'" + EDITED),
    (
        "origin-unknown-field",
        ("origin", 0, "gamma"),
        0.5,
        "BoundedLR.load_state_dict (origin, group 0): gamma must be one of the arguments "
        f"{list(SCHEDULE_FIELDS)}, "
        "got gamma=0.5",
    ),
    (
        "origin-bad-bound",
        ("origin", 0, "final_lr"),
        1.0,
        "BoundedLR.load_state_dict (origin, group 0): final_lr must be in (0, initial_lr], got final_lr=1.0, "
        "initial_lr=0.1. A bounded decay ends at or below where it starts; were the two swapped?",
    ),
    ("segments-not-a-list", ("segments",), "x", SEGMENTS + "segments='x' (str)" + EDITED),
    (
        "segments-step-after-last-epoch",
        ("segments", 0, "step"),
        9,
        SEGMENTS + "segments[0]={'step': 9, 'groups': [" + TAIL + "]}, last_epoch=8" + EDITED,
    ),
    (
        "segments-step-bool",
        ("segments", 0, "step"),
        True,
        SEGMENTS + "segments[0]={'step': True, 'groups': [" + TAIL + "]}, last_epoch=8" + EDITED,
    ),
    ("segments-entry-text", ("segments", 0), "x", SEGMENTS + "segments[0]='x', last_epoch=8" + EDITED),
    (
        "segments-entry-extra-key",
        ("segments", 0, "x"),
        1,
        SEGMENTS + "segments[0]={'step': 4, 'groups': [" + TAIL + "], 'x': 1}, last_epoch=8" + EDITED,
    ),
    (
        "segments-step-negative",
        ("segments", 0, "step"),
        -1,
        SEGMENTS + "segments[0]={'step': -1, 'groups': [" + TAIL + "]}, last_epoch=8" + EDITED,
    ),
    (
        "segments-rest-unknown-key",
        ("segments", 0, "groups", 0, "gamma"),
        0.5,
        SEGMENTS + "segments[0]={'step': 4, 'groups': [" + TAIL[:-1] + ", 'gamma': 0.5}]}" + EDITED,
    ),
    (
        "segments-rest-bad-count",
        ("segments", 0, "groups", 0, "phases", 0, "n_updates"),
        0,
        "BoundedLR.load_state_dict (segments[0], group 0): phases[0].n_updates must be a whole number >= "
        "1, got "
        "phases[0].n_updates=0",
    ),
    (
        "segments-rest-unknown-shape",
        ("segments", 0, "groups", 0, "phases", 0, "shape"),
        "stairs",
        "BoundedLR.load_state_dict (segments[0], group 0): phases[0].shape must be one of "
        f"{list(SHAPES)}, got phases[0].shape='stairs'",
    ),
    (
        "segments-rest-text-lr",
        ("segments", 0, "groups", 0, "phases", 0, "end_lr"),
        "x",
        SEGMENTS
        + "segments[0]={'step': 4, 'groups': ["
        + TAIL.replace("'end_lr': 0.0001", "'end_lr': 'x'")
        + "]}"
        + EDITED
        + " (the phases' LRs must be numbers)",
    ),
    (
        "segments-rest-rises",
        ("segments", 0, "groups", 0, "phases", 0, "end_lr"),
        0.05,
        "BoundedLR.load_state_dict (segments[0], group 0): phases[0].end_lr must be <= the LR it starts "
        "at, as "
        "the LR never rises after warmup unless the phase says rewarm: true, got phases[0].end_lr=0.05, "
        "start=0.010000000000000002. A step phase only decays",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), [c[1:] for c in CORRUPTED], ids=[c[0] for c in CORRUPTED]
)
def test_a_corrupted_replanned_checkpoint_is_refused_whole(
    path: tuple[Any, ...], value: object, message: str
) -> None:
    state = replanned_state()
    target = state
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    optimizer, fresh = build(LONGER, on_resume_change="replan")
    before = ([float(g["lr"]) for g in optimizer.param_groups], fresh.last_epoch, fresh.resumed_at)
    with pytest.raises(BoundedLRError) as caught:
        fresh.load_state_dict(state)
    text = str(caught.value)
    assert text == message
    assert ([float(g["lr"]) for g in optimizer.param_groups], fresh.last_epoch, fresh.resumed_at) == before


def test_the_unchanged_replanned_checkpoint_loads() -> None:
    """The other side of every row above: the same checkpoint, untouched, resumes at step 8."""
    optimizer, fresh = build(LONGER, on_resume_change="replan")
    fresh.load_state_dict(replanned_state())
    assert fresh.last_epoch == 8
    # one decay of 10x made by step 4, then 5 decays from 1e-2 to 1e-4 over the 20 steps left: one by step 8
    assert float(optimizer.param_groups[0]["lr"]) == pytest.approx(1e-2 * (1e-4 / 1e-2) ** (1 / 5), rel=1e-12)


@pytest.mark.parametrize("mode", ["refuse", "replan"])
def test_bounds_that_are_no_schedule_are_refused_without_offering_a_replan(mode: str) -> None:
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    stepped(opt, sched, 4)
    state = sched.state_dict()
    state["bounds"][0]["gamma"] = 0.5  # a field no Schedule has (a hand edit, or another tool's)
    _, fresh = build(
        {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3}, on_resume_change=mode
    )
    with pytest.raises(ResumeMismatchError) as caught:
        fresh.load_state_dict(state)
    ending = " or start a new schedule (the checkpoint's are no schedule's bounds: they cannot be re-planned)"
    assert str(caught.value) == (
        "BoundedLR.load_state_dict: the checkpoint's bounds must equal the config's, got group 0 gamma: "
        "checkpoint gamma=0.5, config gamma=None. Resume with the config the checkpoint was trained with"
        + ending
    )
    assert fresh.last_epoch == 0


@pytest.mark.parametrize("lr_type", ["float", "fp32-tensor"])
def test_a_second_group_is_replanned_at_its_own_base_lr(lr_type: str) -> None:
    """Group 1 at a tenth of group 0 keeps that ratio through a re-plan, also when the resumed optimizer
    holds fp32 tensor LRs (its base is then one fp32 rounding from the checkpoint's)."""
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3}
    optimizer = torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in (0.1, 0.01)], lr=0.1
    )
    scheduler = build_scheduler(optimizer, **fields)
    stepped(optimizer, scheduler, 4)
    make = torch.tensor if lr_type == "fp32-tensor" else float
    resumed_opt = torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": make(lr)} for lr in (0.1, 0.01)], lr=0.1
    )
    resumed = build_scheduler(resumed_opt, **LONGER, on_resume_change="replan")
    resumed.load_state_dict(scheduler.state_dict())
    trace = []
    for _ in range(20):
        resumed_opt.step()
        resumed.step()
        trace.append([float(group["lr"]) for group in resumed_opt.param_groups])
    # 5 decays from 1e-2 to 1e-4 over the 20 steps left (every 4), group 1 a tenth of group 0
    expected = [1e-2 * 1e-2 ** ((t // 4) / 5) for t in range(1, 21)]
    tolerance = 2e-7 if lr_type == "fp32-tensor" else 1e-12
    assert [lrs[0] for lrs in trace] == pytest.approx(expected, rel=tolerance)
    assert [lrs[1] for lrs in trace] == pytest.approx([lr / 10 for lr in expected], rel=tolerance)
    assert [plan.lr_at(24) for plan in resumed.plans] == pytest.approx([1e-4, 1e-5], rel=tolerance)


def test_a_warmup_resumed_at_its_constant_peak_is_replanned() -> None:
    """warmup_start_factor=1: the warmup LR already equals the peak; extending the run is no fall."""
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 20, "n_updates": 2, "warmup_steps": 10}
    opt, sched = build({**fields, "warmup_start_factor": 1.0})
    stepped(opt, sched, 5)
    opt2, resumed = build({**fields, "max_steps": 30, "warmup_start_factor": 1.0}, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    lrs = stepped(opt2, resumed, 25)
    assert lrs[:4] == [0.1] * 4  # steps 6..9: still the warmup, at the peak
    assert lrs[-1] == 1e-4
    assert sorted(set(lrs), reverse=True) == pytest.approx([0.1, 0.1 * 1e-3**0.5, 1e-4], rel=1e-12)


def test_a_resume_at_the_end_with_one_more_step_holds_final_lr() -> None:
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    stepped(opt, sched, 12)
    opt2, resumed = build(
        {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 13, "n_updates": 3, "kind": "multistep"},
        on_resume_change="replan",
    )
    resumed.load_state_dict(sched.state_dict())
    assert stepped(opt2, resumed, 3) == [1e-4, 1e-4, 1e-4]


def test_one_decay_left_is_replanned_as_one() -> None:
    """12/3 at step 8 has made 2 decays; 24/3 leaves exactly one for the 16 steps after it."""
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    stepped(opt, sched, 8)
    opt2, resumed = build(
        {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 24, "n_updates": 3}, on_resume_change="replan"
    )
    resumed.load_state_dict(sched.state_dict())
    lrs = stepped(opt2, resumed, 16)
    assert lrs == [pytest.approx(1e-3, rel=1e-12)] * 15 + [1e-4]


def test_decays_made_across_three_replans_skip_the_shape_segment() -> None:
    """step 12/3 -> (at 4) cosine 24 -> (at 8) multistep 24/6 -> (at 12) multistep 30/8: a cosine segment
    makes no decays, so the count on the curve outside it is what each step kind's plan has made."""
    base = {"initial_lr": 0.1, "final_lr": 1e-4}
    opt, sched = build({**base, "max_steps": 12, "n_updates": 3})
    history = [0.1, *stepped(opt, sched, 4)]
    configs = [
        ({**base, "max_steps": 24, "kind": "cosine"}, 4),
        ({**base, "max_steps": 24, "n_updates": 6, "kind": "multistep"}, 4),
        ({**base, "max_steps": 30, "n_updates": 8, "kind": "multistep"}, 18),
    ]
    for fields, steps in configs:
        opt2, resumed = build(fields, on_resume_change="replan")
        resumed.load_state_dict(sched.state_dict())
        history += stepped(opt2, resumed, steps)
        sched = resumed
    assert sched.resumed_at == (4, 8, 12)
    assert len(history) == 31
    assert history[30] == 1e-4
    in_cosine = range(5, 9)
    decays = [t for t in range(1, 31) if history[t] < history[t - 1] and t not in in_cosine]
    assert [sched.plans[0].decays_by(t) for t in range(31)] == [
        sum(1 for d in decays if d <= t) for t in range(31)
    ]
    assert len(decays) == 8  # 1 before the cosine, then 7 more to reach n_updates=8


def test_segments_must_not_go_back_in_steps() -> None:
    state = replanned_state()
    later = {"step": 6, "groups": state["segments"][0]["groups"]}
    state["segments"] = [later, state["segments"][0]]  # step 6, then step 4
    _, fresh = build(LONGER, on_resume_change="replan")
    with pytest.raises(BoundedLRError) as caught:
        fresh.load_state_dict(state)
    assert (
        str(caught.value)
        == SEGMENTS + "segments[1]={'step': 4, 'groups': [" + TAIL + "]}, last_epoch=8" + EDITED
    )


def test_a_checkpoint_saved_right_after_a_replan_resumes_again_with_other_bounds() -> None:
    """The adversary's case: re-plan, save before stepping (a preemption), re-plan that at the same step
    with other bounds, step, save. It loads (the second rest replaces the first: nothing trained under it),
    under these bounds and under the next ones, and the LRs are the last re-plan's."""
    opt, sched = build({"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 12, "n_updates": 3})
    history = [0.1, *stepped(opt, sched, 5)]
    first = {**LONGER}
    _, resumed = build(first, on_resume_change="replan")
    resumed.load_state_dict(sched.state_dict())
    preempted = resumed.state_dict()  # saved at step 5, before any step under the re-plan
    second = {"initial_lr": 0.1, "final_lr": 1e-5, "max_steps": 30, "n_updates": 4, "kind": "multistep"}
    opt2, again = build(second, on_resume_change="replan")
    again.load_state_dict(preempted)
    assert again.resumed_at == (5,)  # one rest from step 5: the second replaced the first
    rest = stepped(opt2, again, 10)
    saved = again.state_dict()
    assert [segment["step"] for segment in saved["segments"]] == [5]
    for bounds in (second, {**second, "max_steps": 40}):
        _, later = build(bounds, on_resume_change="replan")
        later.load_state_dict(saved)
        assert [later.plans[0].lr_at(t) for t in range(16)] == history + rest
    # 1 decay made by step 5 (at step 4); 3 more from 0.01 to 1e-5 over the 25 steps left
    gamma = (1e-5 / 1e-2) ** (1 / 3)
    milestones = [(i * 25) // 3 for i in (1, 2, 3)]  # steps after the resume: 8, 16, 25
    expected = [0.01 * gamma ** sum(m <= j for m in milestones) for j in range(1, 11)]
    assert rest == pytest.approx(expected, rel=1e-12)


def test_two_rests_recorded_at_one_step_load_the_later_one() -> None:
    """Checkpoints the landed main wrote in that case held two segments at one step: they load."""
    state = replanned_state()
    first = state["segments"][0]
    replaced = {"step": 4, "groups": [{"start_lr": 0.010000000000000002, "phases": [
        {"shape": "linear", "steps": 20, "end_lr": 0.0001}]}]}  # fmt: skip
    state["segments"] = [first, replaced]
    _, fresh = build(LONGER, on_resume_change="replan")
    fresh.load_state_dict(state)
    assert fresh.plans[0].lr_at(14) == 0.010000000000000002 + (0.0001 - 0.010000000000000002) * (10 / 20)


def test_a_checkpoint_of_the_landed_main_loads_and_continues_its_rest() -> None:
    """Written by the main before the phases (a re-planned rest as a schedule's bounds): 12/3 resumed
    at step 4 as 24/6, saved at step 8. It loads, keeps the rest it trained with, and saves it again."""
    common = {"final_lr": 0.0001, "final_lr_at": "max_steps", "warmup_steps": 0, "warmup_start_factor": 0.0}
    old = {
        "last_epoch": 8,
        "_step_count": 9,
        "base_lrs": [0.1],
        "_last_lr": [0.0039810717055349725],
        "bounds": [
            {"initial_lr": 0.1, "max_steps": 24, "n_updates": 6, "kind": "step", **common, "base_lr": 0.1}
        ],
        "factors": [1.0],
        "adopted": [],
        "segments": [
            {
                "step": 4,
                "groups": [
                    {
                        "initial_lr": 0.010000000000000002,
                        "max_steps": 20,
                        "n_updates": 5,
                        "kind": "multistep",
                        **common,
                    }
                ],
            }
        ],
        "origin": [
            {"initial_lr": 0.1, "max_steps": 12, "n_updates": 3, "kind": "step", **common, "base_lr": 0.1}
        ],
    }
    opt, fresh = build(LONGER, on_resume_change="replan")
    fresh.load_state_dict(old)
    assert float(opt.param_groups[0]["lr"]) == 0.0039810717055349725
    gamma = (1e-4 / 1e-2) ** (1 / 5)  # the rest: 5 decays from 0.01 to 1e-4 over 20 steps, every 4
    expected = [max(1e-4, 0.010000000000000002 * gamma ** (j // 4)) for j in range(5, 21)]
    assert stepped(opt, fresh, 16) == pytest.approx(expected, rel=1e-12)
    _, again = build(LONGER, on_resume_change="replan")
    again.load_state_dict(fresh.state_dict())
    assert again.plans[0].lr_at(13) == fresh.plans[0].lr_at(13)
