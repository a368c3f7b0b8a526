"""Cooldown branches: one stable run, many endings, planned from its checkpoints, checked, compared.

Oracles: a float64 reference of each cooldown shape written here (the shapes' formulas from the
WSD papers and torch/HF), the stable run's own LRs as trained (history bitwise), and the
annealing-momentum recursion of Tissue et al. 2024 for S1/S2.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bounded_lr_resolver import build_scheduler
from bounded_lr_resolver.areas import areas
from bounded_lr_resolver.errors import BoundedLRError, BoundsError, BoundsTypeError, ResumeMismatchError

PEAK = 0.1
WARMUP = 10


def _cooldown_lr(shape: str, x: float, a: float, b: float) -> float:
    """Float64 reference: the LR ``x`` of the way through a cooldown from ``a`` to ``b``."""
    if shape == "linear":
        return a + (b - a) * x
    if shape == "cosine":
        return b + (a - b) * (1 + math.cos(math.pi * x)) / 2
    if shape == "sqrt":
        return b + (a - b) * (1 - math.sqrt(x))
    if shape == "exponential":
        return a * (b / a) ** x
    raise AssertionError(shape)


def _sgd(lr: float = PEAK, groups: int = 1) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr * 0.5**i} for i in range(groups)]
    return torch.optim.SGD(params, lr=lr)


def _stable(optimizer: torch.optim.Optimizer, **extra: Any) -> Any:
    return build_scheduler(optimizer, kind="constant", initial_lr=PEAK, warmup_steps=WARMUP, **extra)


def _train(optimizer: torch.optim.Optimizer, scheduler: Any, steps: int) -> list[list[float]]:
    """The LR each training step used, per group."""
    seen = []
    for _ in range(steps):
        seen.append([float(group["lr"]) for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return seen


def _stable_checkpoint(r: int, groups: int = 1, **extra: Any) -> tuple[dict[str, Any], list[list[float]]]:
    optimizer = _sgd(groups=groups)
    scheduler = _stable(optimizer, **extra)
    history = _train(optimizer, scheduler, r)
    history.append([float(group["lr"]) for group in optimizer.param_groups])  # the LR at r
    return scheduler.state_dict(), history


@pytest.mark.parametrize(
    ("cooldown", "r", "length"),
    [
        pytest.param({"shape": "sqrt", "steps": 40, "end_lr": 0.0}, 50, 40, id="1-sqrt-to-zero"),
        pytest.param({"shape": "linear", "steps": 25, "end_lr": 0.0}, 10, 25, id="linear-at-warmup-end"),
        pytest.param({"shape": "cosine", "steps": 30, "end_lr": 1e-3}, 70, 30, id="cosine-to-floor"),
        pytest.param({"shape": "exponential", "steps": 20, "end_lr": 1e-4}, 33, 20, id="exponential"),
        pytest.param({"shape": "sqrt", "steps": "0.2dur", "end_lr": 0.0}, 80, 20, id="0.2dur-of-100"),
        pytest.param({"shape": "linear", "steps": "0.2dur", "end_lr": 0.0}, 81, 20, id="0.2dur-rounded-down"),
        pytest.param({"shape": "linear", "steps": 7, "end_lr": 0.0}, 200, 7, id="past-the-stable-max"),
    ],
)
def test_a_branch_keeps_its_history_and_ends_exactly_at_its_floor(
    cooldown: dict[str, Any], r: int, length: int
) -> None:
    state, history = _stable_checkpoint(r, max_steps=100 if r < 100 else None)
    optimizer = _sgd()
    branch = _stable(optimizer, max_steps=100 if r < 100 else None, cooldown=cooldown)
    branch.load_state_dict(state)
    assert branch.branches == (r,)
    assert [branch.lrs_at(t)[0] for t in range(r + 1)] == [lrs[0] for lrs in history]  # bitwise
    seen = [lrs[0] for lrs in _train(optimizer, branch, length + 3)]
    assert seen[0] == history[r][0]  # starts bitwise at the checkpoint's LR
    end = cooldown["end_lr"]
    expected = [_cooldown_lr(cooldown["shape"], i / length, PEAK, end) for i in range(length)]
    assert seen[:length] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert seen[length:] == [end] * 3  # exactly the floor, held
    assert min(seen) >= 0.0


def test_every_group_branches_at_its_own_ratio() -> None:
    state, history = _stable_checkpoint(40, groups=2, max_steps=100)
    optimizer = _sgd(groups=2)
    branch = _stable(optimizer, max_steps=100, cooldown={"shape": "linear", "steps": 10, "end_lr": 0.02})
    branch.load_state_dict(state)
    seen = _train(optimizer, branch, 11)
    assert seen[0] == history[40]
    assert seen[5] == pytest.approx([0.06, 0.03], rel=1e-12)
    assert seen[10] == [0.02, 0.01]


def test_a_branch_resumed_mid_cooldown_continues_bitwise() -> None:
    cooldown = {"shape": "sqrt", "steps": 30, "end_lr": 0.0}
    state, _ = _stable_checkpoint(40, max_steps=100)
    optimizer = _sgd()
    branch = _stable(optimizer, max_steps=100, cooldown=cooldown)
    branch.load_state_dict(state)
    _train(optimizer, branch, 12)
    middle = branch.state_dict()
    rest = _train(optimizer, branch, 20)
    again_optimizer = _sgd()
    again = _stable(again_optimizer, max_steps=100, cooldown=cooldown)
    again.load_state_dict(middle)
    assert _train(again_optimizer, again, 20) == rest
    assert again.branches == (40,)


def test_an_open_ended_stable_run_holds_and_says_so() -> None:
    optimizer = _sgd()
    scheduler = _stable(optimizer)  # no max_steps: as long as training runs
    schedule = scheduler.schedules[0]
    assert schedule.open_ended
    assert schedule.bounds()["max_steps"] is None
    assert [scheduler.lrs_at(t)[0] for t in (0, 5, 10, 10**9)] == [0.0, 0.05, PEAK, PEAK]
    trained = _train(optimizer, scheduler, 25)
    again = _stable(_sgd())
    again.load_state_dict(scheduler.state_dict())  # an open-ended checkpoint loads into its own config
    assert again.last_epoch == 25
    assert trained[-1] == [PEAK]


def _refused(error: type[BoundedLRError], build: dict[str, Any], state: dict[str, Any]) -> str:
    optimizer = _sgd()
    scheduler = build_scheduler(optimizer, initial_lr=PEAK, **build)
    before = (optimizer.param_groups[0]["lr"], scheduler.last_epoch)
    with pytest.raises(error) as caught:
        scheduler.load_state_dict(state)
    assert (optimizer.param_groups[0]["lr"], scheduler.last_epoch) == before  # nothing applied
    return str(caught.value)


STABLE = {"kind": "constant", "warmup_steps": WARMUP, "max_steps": 100}
LOAD = "BoundedLR.load_state_dict"


@pytest.mark.parametrize(
    ("build", "r", "message"),
    [
        pytest.param(
            {**STABLE, "cooldown": {"shape": "sqrt", "steps": 10, "end_lr": 0.0}},
            5,
            f"{LOAD}: a cooldown branch must start in the stable run's hold, got step 5, which falls in its "
            "linear phase of steps 0..10 (warmup ends where the hold begins). Branch from a checkpoint taken "
            "during the hold",
            id="in-warmup",
        ),
        pytest.param(
            {**STABLE, "warmup_steps": 20, "cooldown": {"shape": "sqrt", "steps": 10, "end_lr": 0.0}},
            50,
            f"{LOAD}: a cooldown branch must be declared as its stable run plus the cooldown, got a "
            "checkpoint of another run: group 0 warmup_steps: checkpoint warmup_steps=10, config "
            "warmup_steps=20. Keep the stable run's declaration and add only cooldown",
            id="another-run",
        ),
        pytest.param(
            {**STABLE, "cooldown": {"shape": "linear", "steps": 10, "end_lr": 0.2}},
            50,
            f"{LOAD} (the cooldown branch from step 50): cooldown[0].end_lr must be <= the LR at the branch "
            "step (0.1 at step 50): a cooldown never rises, got cooldown[0].end_lr=0.2",
            id="rises",
        ),
        pytest.param(
            {**STABLE, "cooldown": {"shape": "exponential", "steps": 10, "end_lr": 0.0}},
            50,
            f"{LOAD} (the cooldown branch from step 50): cooldown[0].end_lr must be > 0 for "
            "shape='exponential', whose LRs are ratios of its ends",
            id="ratio-shape-to-zero",
        ),
        pytest.param(
            {**STABLE, "cooldown": {"shape": "sqrt", "steps": "0.001dur", "end_lr": 0.0}},
            50,
            f"{LOAD} (the cooldown branch from step 50): cooldown[0].steps must be at least 1 step of the "
            "branch, got cooldown[0].steps='0.001dur', steps=0, branch from step=50. Give a longer cooldown",
            id="rounds-to-no-step",
        ),
        pytest.param(
            {
                **STABLE,
                "cooldown": [{"shape": "sqrt", "steps": "0.6dur"}, {"shape": "linear", "steps": "0.4dur"}],
            },
            50,
            f"{LOAD} (the cooldown branch from step 50): cooldown steps must be fractions of the whole run "
            "('dur') adding up to less than 1, got sum of fractions=1.0",
            id="fractions-of-everything",
        ),
    ],
)
def test_a_branch_that_cannot_be_planned_is_refused_naming_why(
    build: dict[str, Any], r: int, message: str
) -> None:
    state, _ = _stable_checkpoint(r, max_steps=100)
    text = _refused(BoundedLRError, build, state)
    assert text.startswith(message), text


def test_a_branch_of_a_branch_is_refused_unless_asked() -> None:
    state, _ = _stable_checkpoint(50, max_steps=100)
    optimizer = _sgd()
    branch = _stable(optimizer, max_steps=100, cooldown={"shape": "linear", "steps": 20, "end_lr": 0.0})
    branch.load_state_dict(state)
    _train(optimizer, branch, 5)
    inside = branch.state_dict()
    other = {**STABLE, "cooldown": {"shape": "sqrt", "steps": 10, "end_lr": 0.0}}
    assert _refused(ResumeMismatchError, other, inside) == (
        f"{LOAD}: a cooldown branch must start from a checkpoint of its stable run, got a checkpoint taken "
        "inside a branch (branched at step 50, now at step 55). Load a checkpoint the stable run saved, or "
        "pass branch_of_branch=True if a branch of a branch is what you mean"
    )
    optimizer = _sgd()
    nested = build_scheduler(optimizer, initial_lr=PEAK, branch_of_branch=True, **other)
    nested.load_state_dict(inside)
    assert nested.branches == (50, 55)
    assert nested.lrs_at(55) == branch.lrs_at(55)  # history bitwise, through the first branch
    assert nested.lrs_at(65) == [0.0]


def test_a_branch_must_load_its_checkpoint_before_it_steps() -> None:
    optimizer = _sgd()
    scheduler = _stable(optimizer, cooldown={"shape": "sqrt", "steps": 10, "end_lr": 0.0})
    optimizer.step()
    with pytest.raises(ResumeMismatchError) as caught:
        scheduler.step()
    assert str(caught.value) == (
        "BoundedLR.step: a cooldown branch must load its stable run's checkpoint before it steps, got none "
        "loaded. Load it (scheduler.load_state_dict(...), Lightning's ckpt_path, the main job's "
        "resume_from), or leave cooldown out to train the stable run"
    )


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        pytest.param(
            {"kind": "cosine", "final_lr": 0.0, "max_steps": 100, "cooldown": {"shape": "sqrt", "steps": 5}},
            BoundsError,
            "build_scheduler: cooldown must be declared on a stable run: a schedule that ends in a hold "
            "(kind='constant', or kind='phases' ending in a constant phase), got kind='cosine'",
            id="not-a-stable-run",
        ),
        pytest.param(
            {"kind": "cosine", "final_lr": 0.01, "max_steps": 100, "final_lr_at": "last_step"}
            | {"cooldown": {"shape": "sqrt", "steps": 5}},
            BoundsError,
            "build_scheduler: cooldown must be declared on a stable run",
            id="a-last-step-hold-is-no-stable-run",
        ),
        pytest.param(
            {**STABLE, "cooldown": {"shape": "sqrt", "steps": 5, "start_lr": 0.05}},
            BoundsError,
            "build_scheduler: cooldown[0] keys must be among ['shape', 'steps', 'end_lr'], got cooldown[0] "
            "keys=['start_lr']. A cooldown starts at the LR the checkpoint trains at and never rises",
            id="start_lr",
        ),
        pytest.param(
            {**STABLE, "cooldown": {"shape": "cosh", "steps": 5}},
            BoundsError,
            "build_scheduler: cooldown[0].shape must be one of",
            id="unknown-shape",
        ),
        pytest.param(
            {**STABLE, "cooldown": {"shape": "sqrt"}},
            BoundsTypeError,
            "build_scheduler: cooldown[0].steps must be a whole number",
            id="no-steps",
        ),
        pytest.param(
            {**STABLE, "cooldown": []},
            BoundsTypeError,
            "build_scheduler: cooldown must be a phase {shape, steps, end_lr} or a non-empty list of them",
            id="empty",
        ),
    ],
)
def test_a_cooldown_is_checked_when_declared(
    fields: dict[str, Any], error: type[BoundedLRError], message: str
) -> None:
    with pytest.raises(error) as caught:
        build_scheduler(None, initial_lr=PEAK, **fields)  # the config is read: no checkpoint needed yet
    assert str(caught.value).startswith(message), str(caught.value)


def _areas_reference(lrs: list[float], warmup: int, decay: float) -> tuple[float, float]:
    """Tissue et al. 2024, step by step: S1 = sum of LRs, S2 = sum of m_i, m_i = decay * m_(i-1) + drop_i."""
    s1 = math.fsum(lrs)
    m, s2 = 0.0, []
    for i in range(warmup + 1, len(lrs)):
        m = decay * m + (lrs[i - 1] - lrs[i])
        s2.append(m)
    return s1, math.fsum(s2)


@settings(max_examples=60, deadline=None)
@given(
    r=st.integers(WARMUP, 150),
    shape=st.sampled_from(["linear", "cosine", "sqrt", "exponential"]),
    length=st.integers(1, 60),
    floor=st.sampled_from([0.0, 1e-5, 0.01]),
    decay=st.sampled_from([0.0, 0.5, 0.99, 0.999]),
)
def test_every_branch_keeps_the_contract_and_its_areas_match_the_recursion(
    r: int, shape: str, length: int, floor: float, decay: float
) -> None:
    floor = max(floor, 1e-5) if shape == "exponential" else floor
    state, history = _stable_checkpoint(r)
    optimizer = _sgd()
    branch = _stable(optimizer, cooldown={"shape": shape, "steps": length, "end_lr": floor})
    branch.load_state_dict(state)
    plan = branch.plans[0]
    lrs = [plan.lr_at(t) for t in range(r + length + 1)]
    assert lrs[: r + 1] == [h[0] for h in history]
    expected = [_cooldown_lr(shape, i / length, PEAK, floor) for i in range(length)]
    assert lrs[r : r + length] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert lrs[r + length] == floor
    assert all(later <= earlier for earlier, later in zip(lrs[r:], lrs[r + 1 :], strict=False))
    s1, s2 = areas(plan, r + length, warmup=WARMUP, decay=decay)
    r1, r2 = _areas_reference(lrs[: r + length], WARMUP, decay)
    assert s1 == pytest.approx(r1, rel=1e-12)
    assert s2 == pytest.approx(r2, rel=1e-12, abs=1e-15)


# -- the main job: one stable run, a sweep of four branches, the preflight, the family report ------

_STABLE_RUN = ["task=train", "scheduler=constant", "scheduler.warmup_steps=50", "scheduler.max_steps=600"]
_BRANCH = "scheduler.cooldown={shape:sqrt,steps:0.2dur,end_lr:0.0}"


def _lrs(path: Any) -> dict[int, float]:
    """``train.csv``: the LR each step trained with, exactly as written (repr)."""
    import csv

    with path.open() as handle:
        return {int(row["step"]): float(row["lr"]) for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_one_stable_run_four_branches_checked_before_launch_and_reported(tmp_path: Any) -> None:
    """The issue's 'done when': a stable run, checkpoints, a sweep of branches (2 lengths x 2 shapes,
    to 0) stopped before launch by one bad checkpoint, then run and reported with S1, S2 and loss."""
    from tests.conftest import run
    from tests.test_main_job import BOUNDED_LR

    stable = tmp_path / "stable"
    quiet = ["task.progress=false"]
    run([BOUNDED_LR, *_STABLE_RUN, *quiet, "task.save_every=40", f"hydra.run.dir={stable}"], cwd=tmp_path)
    history = _lrs(stable / "train.csv")
    checkpoints = [stable / f"step_{r}.ckpt" for r in (200, 400)]
    sweep = tmp_path / "sweep"
    common = [BOUNDED_LR, "-m", *_STABLE_RUN, *quiet, _BRANCH, "scheduler.cooldown.shape=sqrt,linear"]
    in_warmup = stable / "step_40.ckpt"
    bad = run(
        [*common, "resume_from=" + ",".join(map(str, [*checkpoints, in_warmup])), f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 1
    assert "SweepPreflight: 2 of 6 jobs are bad; nothing was launched." in bad.stderr
    assert bad.stderr.count("a cooldown branch must start in the stable run's hold, got step 40") == 2
    assert not (sweep / "0").exists()

    run([*common, "resume_from=" + ",".join(map(str, checkpoints)), f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    with (sweep / "sweep_report.csv").open() as handle:
        import csv

        rows = list(csv.DictReader(handle))
    assert [(row["branch_from"], row["max_steps"], row["status"]) for row in rows] == [
        ("200", "250", "COMPLETED"),
        ("400", "500", "COMPLETED"),
        ("200", "250", "COMPLETED"),
        ("400", "500", "COMPLETED"),
    ]
    for row, (shape, r) in zip(
        rows, [("sqrt", 200), ("sqrt", 400), ("linear", 200), ("linear", 400)], strict=True
    ):
        trained = _lrs(sweep / row["job"] / "train.csv")
        length = r // 4  # 0.2dur of the whole branch: 0.2 * (r + L) = L
        assert trained[r] == history[r]  # starts bitwise at the checkpoint's LR
        expected = [_cooldown_lr(shape, i / length, PEAK, 0.0) for i in range(length)]
        assert [trained[r + i] for i in range(length)] == pytest.approx(expected, rel=1e-12, abs=1e-15)
        everything = [history[t] for t in range(r)] + [trained[r + i] for i in range(length)]
        s1, s2 = _areas_reference(everything, 50, 0.999)
        assert float(row["S1"]) == pytest.approx(s1, rel=1e-12)
        assert float(row["S2"]) == pytest.approx(s2, rel=1e-12)
        assert float(row["final_loss"]) > 0
    assert (sweep / "sweep_report.png").stat().st_size > 0


def test_a_branch_checkpoint_loaded_without_its_cooldown_is_refused_naming_it() -> None:
    """The stable run's config on a checkpoint taken inside a branch: not the same run (it would
    otherwise follow the cooldown while its record said it had none)."""
    state, _ = _stable_checkpoint(50, max_steps=100)
    optimizer = _sgd()
    cooldown = {"shape": "linear", "steps": "0.2dur", "end_lr": 0.0}
    branch = _stable(optimizer, max_steps=100, cooldown=cooldown)
    branch.load_state_dict(state)
    _train(optimizer, branch, 5)
    text = _refused(ResumeMismatchError, STABLE, branch.state_dict())
    assert text.startswith(
        f"{LOAD}: the checkpoint's bounds must equal the config's, got group 0 cooldown: checkpoint "
        f"cooldown=[{cooldown!r}], config cooldown=None."
    ), text


def test_an_open_ended_stable_run_takes_its_warmup_in_epochs() -> None:
    scheduler = build_scheduler(
        _sgd(), kind="constant", initial_lr=PEAK, warmup_steps="1ep", steps_per_epoch=8
    )
    assert scheduler.schedules[0].warmup_steps == 8
    assert scheduler.lrs_at(8) == [PEAK]
    with pytest.raises(BoundsError) as caught:
        build_scheduler(_sgd(), kind="constant", initial_lr=PEAK, warmup_steps="0.1dur")
    assert "'dur' counts a fraction of max_steps: it needs max_steps" in str(caught.value)


def test_the_preflight_check_takes_a_run_time_peak_from_the_checkpoint(tmp_path: Any) -> None:
    """initial_lr: null (the optimizer's, as in the Lightning recipe) is the checkpoint's: the branch
    is still checked against it, and a step in warmup is refused before anything runs."""
    from bounded_lr_resolver.ckpt_file import check_resume

    state, _ = _stable_checkpoint(5)
    path = tmp_path / "stable.ckpt"
    torch.save({"scheduler": state}, path)
    values = {"kind": "constant", "initial_lr": None, "warmup_steps": WARMUP, "max_steps": None}
    values["cooldown"] = {"shape": "sqrt", "steps": 10, "end_lr": 0.0}
    with pytest.raises(ResumeMismatchError) as caught:
        check_resume(str(path), values, "scheduler from ckpt_path", "ckpt_path")
    assert "must start in the stable run's hold, got step 5" in str(caught.value)
    assert check_resume("s3://bucket/stable.ckpt", values, "scheduler", "ckpt_path") == (
        "not checked against ckpt_path=s3://bucket/stable.ckpt: a remote path: the preflight reads local "
        "files only"
    )
