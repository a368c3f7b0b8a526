"""The continuous kinds (cosine, linear, polynomial, wsd) against outside oracles.

The oracles: the formulas of the issue and the README, written out here; torch's own closed forms
(``CosineAnnealingLR._get_closed_form_lr``, ``LinearLR``, ``PolynomialLR``); Keras 3's
``CosineDecay`` fed ``${lr_ratio}``. The property over every kind lives in ``test_contract.py``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, PolynomialLR

from bounded_lr_resolver import build_scheduler, lr_curve
from bounded_lr_resolver.errors import BoundedLRError, BoundsError, BoundsTypeError, ResumeMismatchError
from bounded_lr_resolver.schedule import DECAY_SHAPES, Schedule
from bounded_lr_resolver.shapes import SHAPES, Param, Shape

SHAPE_KINDS = [
    pytest.param({"kind": "cosine"}, id="cosine"),
    pytest.param({"kind": "linear"}, id="linear"),
    pytest.param({"kind": "polynomial", "power": 2.0}, id="polynomial"),
    *(
        pytest.param({"kind": "wsd", "decay_steps": 300, "decay_shape": shape}, id=f"wsd-{shape}")
        for shape in ("linear", "cosine", "sqrt", "exponential")
    ),
]


def formula(fields: dict[str, object], t: int, max_steps: int, at: str = "max_steps") -> float:
    """The issue's formulas, without warmup: ``x`` from 0 at the decay's start to 1 at its end."""
    i, f = 0.1, 1e-4
    end = max_steps - 1 if at == "last_step" else max_steps
    kind = fields["kind"]
    start = max_steps - int(fields["decay_steps"]) if kind == "wsd" else 0  # type: ignore[call-overload]
    x = min(1.0, max(0.0, (t - start) / (end - start)))
    shape = fields.get("decay_shape", kind)
    if shape == "cosine":
        return f + (i - f) * (1 + math.cos(math.pi * x)) / 2
    if shape == "linear":
        return i + (f - i) * x
    if shape == "polynomial":
        return f + (i - f) * (1 - x) ** float(fields["power"])  # type: ignore[arg-type]
    if shape == "sqrt":
        return f + (i - f) * (1 - math.sqrt(x))
    return i * (f / i) ** x  # exponential


def sgd(lr: float | torch.Tensor, *more: float) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": value} for value in (lr, *more)]
    return torch.optim.SGD(groups, lr=0.1)


def stepped(optimizer: torch.optim.Optimizer, scheduler: object, steps: int, group: int = 0) -> list[float]:
    """The LR before any step and after each of ``steps`` scheduler steps."""
    lrs = [float(optimizer.param_groups[group]["lr"])]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()  # type: ignore[attr-defined]
        lrs.append(float(optimizer.param_groups[group]["lr"]))
    return lrs


@pytest.mark.parametrize("fields", SHAPE_KINDS)
@pytest.mark.parametrize("at", ["max_steps", "last_step"])
def test_every_step_equals_the_formula(fields: dict[str, object], at: str) -> None:
    """The real scheduler, stepped, against the formula: 1e-12 relative, both ends exact."""
    opt = sgd(0.1)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=1000, final_lr_at=at, **fields)
    lrs = stepped(opt, sched, 1003)
    expected = [formula(fields, t, 1000, at) for t in range(1004)]
    assert lrs == pytest.approx(expected, rel=1e-12, abs=0)
    assert lrs[0] == 0.1
    hit = 999 if at == "last_step" else 1000
    assert lrs[hit:] == [1e-4] * (1004 - hit)
    assert lrs[hit - 1] > 1e-4
    assert all(b <= a for a, b in itertools.pairwise(lrs))


def test_cosine_equals_torch_cosine_annealing_closed_form() -> None:
    """torch's own closed form (T_max=max_steps, eta_min=final_lr), at every step, to 1e-12."""
    ours = lr_curve(Schedule(0.1, 1e-4, 1000, kind="cosine"))
    reference = CosineAnnealingLR(sgd(0.1), T_max=1000, eta_min=1e-4)
    for t in range(1001):
        reference.last_epoch = t
        [theirs] = reference._get_closed_form_lr()  # noqa: SLF001 - torch's own closed form, the oracle
        assert ours[t] == pytest.approx(theirs, rel=1e-12, abs=0), t


def test_linear_equals_torch_linear_lr() -> None:
    """LinearLR from 1 to final_lr / initial_lr over max_steps, stepped: the same line to 1e-12."""
    opt = sgd(0.1)
    theirs = stepped(opt, LinearLR(opt, start_factor=1.0, end_factor=1e-3, total_iters=1000), 1000)
    ours = lr_curve(Schedule(0.1, 1e-4, 1000, kind="linear"))
    assert ours.tolist() == pytest.approx(theirs, rel=1e-12, abs=0)


def test_polynomial_above_final_lr_equals_torch_polynomial_lr() -> None:
    """torch's PolynomialLR decays to 0; ours minus final_lr is it, started at initial_lr - final_lr."""
    opt = sgd(0.1 - 1e-4)
    theirs = stepped(opt, PolynomialLR(opt, total_iters=1000, power=2.0), 1000)
    ours = lr_curve(Schedule(0.1, 1e-4, 1000, kind="polynomial", power=2.0)) - 1e-4
    assert np.allclose(ours, theirs, rtol=0, atol=1e-15)


def test_warmup_then_shape() -> None:
    """Warmup from initial_lr * factor, then x starts at 0 where warmup ends."""
    s = Schedule(0.1, 1e-4, 1100, kind="cosine", warmup_steps=100, warmup_start_factor=0.1)
    curve = lr_curve(s)
    assert curve[:100].tolist() == pytest.approx([0.1 * (0.1 + 0.9 * t / 100) for t in range(100)], rel=1e-15)
    assert curve[100] == 0.1
    assert curve[600] == pytest.approx(1e-4 + (0.1 - 1e-4) / 2, rel=1e-15)
    assert curve[1100] == 1e-4


def test_wsd_holds_then_decays() -> None:
    s = Schedule(0.1, 1e-4, 1000, kind="wsd", warmup_steps=100, decay_steps=200, decay_shape="linear")
    curve = lr_curve(s)
    assert np.all(curve[100:801] == 0.1)  # stable until max_steps - decay_steps
    assert curve[801] < 0.1
    assert curve[900] == pytest.approx(0.1 + (1e-4 - 0.1) * 0.5, rel=1e-15)
    assert curve[1000] == 1e-4


def test_wsd_defaults_to_a_cosine_decay() -> None:
    s = Schedule(0.1, 1e-4, 1000, kind="wsd", decay_steps=200)
    assert s.decay_shape == "cosine"
    assert s.lr_at(900) == pytest.approx(1e-4 + (0.1 - 1e-4) / 2, rel=1e-15)


def test_polynomial_power_defaults_to_linear() -> None:
    s = Schedule(0.1, 1e-4, 1000, kind="polynomial")
    assert s.power == 1.0
    assert lr_curve(s).tolist() == pytest.approx(
        lr_curve(Schedule(0.1, 1e-4, 1000, kind="linear")).tolist(), rel=1e-12
    )


@pytest.mark.parametrize("fields", SHAPE_KINDS)
def test_param_groups_keep_their_ratio_and_per_group_bounds(fields: dict[str, object]) -> None:
    opt = sgd(0.1, 0.01)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=1000, **fields)
    lrs = stepped(opt, sched, 1000, group=1)
    main = [formula(fields, t, 1000) for t in range(1001)]
    assert lrs == pytest.approx([lr / 10 for lr in main], rel=1e-12)
    assert lrs[-1] == pytest.approx(1e-5, rel=1e-15)
    opt = sgd(0.1, 0.01)
    build_scheduler(opt, initial_lr=[0.1, 0.01], final_lr=[1e-4, 1e-3], max_steps=1000, **fields)
    assert stepped(opt, sched, 0, group=1) == [0.01]


@pytest.mark.parametrize("fields", SHAPE_KINDS)
def test_fp32_tensor_lr_within_one_rounding_at_every_step(fields: dict[str, object]) -> None:
    """A compiled optimizer's fp32 tensor LR: filled in place, one fp32 rounding of float64."""
    lr = torch.tensor(0.1)
    opt = sgd(lr)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=10_000, **fields)
    exact = lr_curve(sched.schedules[0])
    for t in range(1, 10_001):
        opt.step()
        sched.step()
        assert abs(float(lr) - exact[t]) <= 2e-7 * exact[t], t
    assert opt.param_groups[0]["lr"] is lr


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::bounded_lr_resolver.errors.StepCountWarning")  # no optimizer steps
@pytest.mark.parametrize("fields", SHAPE_KINDS[:4])  # cosine, linear, polynomial, wsd-linear
def test_fp32_tensor_lr_has_no_drift_after_a_million_steps(fields: dict[str, object]) -> None:
    lr = torch.tensor(0.1)
    opt = sgd(lr)
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=1e-4, max_steps=10**6, **fields)
    opt.step()
    exact = lr_curve(sched.schedules[0], np.arange(0, 10**6 + 1, 1000))
    for t in range(1, 10**6 + 1):
        sched.step()
        if t % 1000 == 0:
            assert abs(float(lr) - exact[t // 1000]) <= 2e-7 * exact[t // 1000], t
    assert float(lr) == np.float32(1e-4)


def test_checkpoint_of_a_shape_resumes_bitwise_and_refuses_another_shape() -> None:
    fields = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 1000, "kind": "wsd", "decay_steps": 300}
    opt = sgd(0.1)
    sched = build_scheduler(opt, **fields)
    full = stepped(opt, sched, 1000)
    opt = sgd(0.1)
    sched = build_scheduler(opt, **fields)
    stepped(opt, sched, 700)
    state = sched.state_dict()
    resumed_opt = sgd(0.1)
    resumed = build_scheduler(resumed_opt, **fields)
    resumed.load_state_dict(state)
    assert stepped(resumed_opt, resumed, 300) == full[700:]
    other = build_scheduler(sgd(0.1), **{**fields, "decay_shape": "sqrt"})
    with pytest.raises(ResumeMismatchError) as caught:
        other.load_state_dict(state)
    assert "group 0 decay_shape: checkpoint decay_shape='cosine', config decay_shape='sqrt'" in str(
        caught.value
    )


def test_step_kind_checkpoints_keep_their_old_bounds() -> None:
    """A step-kind checkpoint written before the shapes existed has exactly these keys: it still loads."""
    s = Schedule(0.1, 1e-4, 100, 10)
    assert list(s.bounds()) == [
        "initial_lr",
        "final_lr",
        "max_steps",
        "n_updates",
        "kind",
        "final_lr_at",
        "warmup_steps",
        "warmup_start_factor",
    ]


BAD = [
    pytest.param(
        {"kind": "polynomial", "power": 0},
        BoundsError,
        "build_scheduler: power must be a finite number > 0, got power=0",
        id="power-0",
    ),
    pytest.param(
        {"kind": "polynomial", "power": -1.5},
        BoundsError,
        "build_scheduler: power must be a finite number > 0, got power=-1.5",
        id="power-negative",
    ),
    pytest.param(
        {"kind": "polynomial", "power": "2"},
        BoundsTypeError,
        "build_scheduler: power must be a number > 0, got power='2' (str). Write the number without quotes; "
        "a number from an environment variable is text: decode it with ${oc.decode:${oc.env:NAME}}",
        id="power-text",
    ),
    pytest.param(
        {"kind": "polynomial", "power": math.inf},
        BoundsError,
        "build_scheduler: power must be a finite number > 0, got power=inf",
        id="power-inf",
    ),
    pytest.param(
        {"kind": "wsd", "decay_steps": 0},
        BoundsError,
        "build_scheduler: decay_steps must be a whole number >= 1, got decay_steps=0",
        id="decay-steps-0",
    ),
    pytest.param(
        {"kind": "wsd", "decay_steps": 951, "warmup_steps": 50},
        BoundsError,
        "build_scheduler: decay_steps must be in [1, max_steps - warmup_steps], got decay_steps=951, "
        "max_steps=1000, warmup_steps=50. The decay cannot start before warmup ends; use fewer decay_steps",
        id="decay-steps-into-warmup",
    ),
    pytest.param(
        {"kind": "wsd"},
        BoundsTypeError,
        "build_scheduler: decay_steps must be a whole number (the length of the final decay), got "
        "decay_steps=None (NoneType). Give the value in the config or on the command line",
        id="wsd-without-decay-steps",
    ),
    pytest.param(
        {"kind": "wsd", "decay_steps": 100, "decay_shape": "step"},
        BoundsError,
        f"build_scheduler: decay_shape must be one of {list(DECAY_SHAPES)}, got decay_shape='step'",
        id="unknown-decay-shape",
    ),
    pytest.param(
        {"kind": "cosine", "n_updates": 10},
        BoundsError,
        "build_scheduler: n_updates must be left out for kind='cosine', which changes the LR on every "
        "step, got n_updates=10, kind='cosine'. Use kind='step', 'multistep' or 'exponential' for a "
        "number of decays",
        id="n-updates-for-cosine",
    ),
    pytest.param(
        {"kind": "cosine", "power": 2.0},
        BoundsError,
        "build_scheduler: power must be left out for kind='cosine' (it applies to kind='polynomial' or "
        "'wsd'), "
        "got power=2.0, kind='cosine'",
        id="power-for-cosine",
    ),
    pytest.param(
        {"kind": "step", "n_updates": 10, "decay_steps": 100},
        BoundsError,
        "build_scheduler: decay_steps must be left out for kind='step' (it applies to kind='wsd'), "
        "got decay_steps=100, kind='step'",
        id="decay-steps-for-step",
    ),
    pytest.param(
        {"kind": "linear", "decay_shape": "sqrt"},
        BoundsError,
        "build_scheduler: decay_shape must be left out for kind='linear' (it applies to kind='wsd'), "
        "got decay_shape='sqrt', kind='linear'",
        id="decay-shape-for-linear",
    ),
    pytest.param(
        {"kind": "cosine", "gamma": 0.99},
        BoundsError,
        "build_scheduler: gamma must be left out for kind='cosine' (it applies to the step kinds: step, "
        "multistep, exponential), got gamma=0.99, kind='cosine'",
        id="gamma-for-cosine",
    ),
    pytest.param(
        {"kind": "cosine", "max_steps": 51, "warmup_steps": 50, "final_lr_at": "last_step"},
        BoundsError,
        "build_scheduler: max_steps - warmup_steps must be >= 2 with final_lr_at='last_step' (one step at "
        "initial_lr, the last at final_lr), got max_steps=51, warmup_steps=50",
        id="last-step-needs-two-steps",
    ),
    pytest.param(
        {"kind": "linear", "warmup_steps": 1000},
        BoundsError,
        "build_scheduler: warmup_steps must be in [0, max_steps), got warmup_steps=1000, max_steps=1000. "
        "Warmup must leave steps for the decay",
        id="warmup-too-long",
    ),
]


@pytest.mark.parametrize(("fields", "error", "message"), BAD)
def test_bad_shape_input_is_refused_naming_the_argument(
    fields: dict[str, object], error: type[BoundedLRError], message: str
) -> None:
    bounds = {"initial_lr": 0.1, "final_lr": 1e-4, "max_steps": 1000, **fields}
    with pytest.raises(error) as caught:
        build_scheduler(sgd(0.1), **bounds)  # type: ignore[arg-type]
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("fields", "first", "last"),
    [
        pytest.param({"kind": "cosine", "max_steps": 2}, 0.1, 1e-4, id="cosine-two-steps"),
        pytest.param(
            {"kind": "cosine", "max_steps": 2, "final_lr_at": "last_step"}, 0.1, 1e-4, id="last-step-two"
        ),
        pytest.param({"kind": "wsd", "decay_steps": 1, "max_steps": 5}, 0.1, 1e-4, id="wsd-one-decay-step"),
        pytest.param({"kind": "wsd", "decay_steps": 5, "max_steps": 5}, 0.1, 1e-4, id="wsd-no-hold"),
        pytest.param({"kind": "linear", "max_steps": 1}, 0.1, 1e-4, id="linear-one-step"),
    ],
)
def test_smallest_valid_shapes_are_built_exact(fields: dict[str, object], first: float, last: float) -> None:
    """The boundaries of the rules are valid: each builds, starts at initial_lr and ends at final_lr."""
    s = Schedule(initial_lr=0.1, final_lr=1e-4, **fields)  # type: ignore[arg-type]
    curve = lr_curve(s)
    assert curve[0] == first
    hit = s.max_steps - 1 if s.final_lr_at == "last_step" else s.max_steps
    assert curve[hit] == last
    assert np.all(curve[hit:] == last)


def test_lr_ratio_of_a_decay_to_zero_is_zero(registered: None) -> None:
    """Keras ``CosineDecay(alpha=0)``: a floor of 0 is a ratio of exactly 0.0."""
    from omegaconf import OmegaConf

    assert OmegaConf.create({"alpha": "${blr.ratio:0.1,0}"}).alpha == 0.0


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param(
            "${blr.ratio:1e-4,0.1}",
            "blr.ratio: final_lr must be in [0, initial_lr], got final_lr=0.1, initial_lr=0.0001. "
            "A bounded decay ends at or below where it starts; were the two swapped?",
            id="swapped",
        ),
        pytest.param(
            "${blr.ratio:0.1,-0.01}",
            "blr.ratio: final_lr must be 0 or a finite number > 0, got final_lr=-0.01",
            id="negative",
        ),
        pytest.param(
            "${blr.ratio:0.1}",
            "blr.ratio: arguments must be initial_lr, final_lr (2 values), got arguments=[0.1]. Write "
            "${blr.ratio:initial_lr,final_lr}",
            id="missing-argument",
        ),
    ],
)
def test_lr_ratio_refuses_what_is_not_a_range(expression: str, message: str) -> None:
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationResolutionError

    cfg = OmegaConf.create({"alpha": expression})
    with pytest.raises(InterpolationResolutionError) as caught:
        _ = cfg.alpha
    assert message in str(caught.value)
    assert "full_key: alpha" in str(caught.value)


@pytest.mark.usefixtures("registered")
def test_lr_ratio_is_the_relative_floor() -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(
        {"alpha": "${blr.ratio:0.1,1e-4}", "same": "${blr.ratio:3,3}", "i": "${blr.ratio:8,2}"}
    )
    assert cfg.alpha == 1e-4 / 0.1
    assert cfg.same == 1.0
    assert cfg.i == 0.25


def test_rounding_never_lifts_a_shape_above_initial_lr() -> None:
    """A cosine over 2**53 steps: the formula rounds one ulp above initial_lr at step 1; lr_at clamps."""
    high, low, steps = 0.9, 0.3913190818404721, 2**53
    formula = low + (high - low) * (1.0 + math.cos(math.pi / steps)) / 2.0
    assert formula > high  # what the bare formula gives
    s = Schedule(high, low, steps, kind="cosine")
    assert s.lr_at(1) == high
    assert lr_curve(s, [1, 2]).tolist() == [high, high]


# -- what follows from one registry entry, and what a refused exponential suggests ------------------


def _halving(x: float, a: float, b: float, p: object) -> float:
    """A toy shape: ``b + (a - b) * (1 - x) * (1 - x)``, IEEE arithmetic only."""
    return b + (a - b) * (1.0 - x) * (1.0 - x)


TOY = Shape(
    "toy",
    _halving,
    "a toy shape",
    "b + (a - b) * (1 - x) ** 2",
    params=(
        Param(
            "t",
            int,
            None,
            "ends at start * t / (t + steps)",
            kind_level=False,
            leads=lambda a, n, t: a * t / (t + n),
        ),
    ),
    elementwise=True,
)


def test_a_shape_added_to_the_registry_is_read_from_its_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parameter that leads the phase's end and the preview's array form come from the entry alone."""
    monkeypatch.setitem(SHAPES, "toy", TOY)
    s = Schedule(0.1, max_steps=100, phases=[{"shape": "toy", "steps": 100, "t": 50}])
    assert s.final_lr == 0.1 * 50 / 150  # where its curve leads
    steps = np.arange(103)
    assert lr_curve(s, steps).tolist() == [s.lr_at(int(t)) for t in steps]  # the array form, bitwise
    with pytest.raises(BoundsError) as caught:
        Schedule(0.1, max_steps=100, phases=[{"shape": "toy", "steps": 100, "t": 50, "end_lr": 0.0}])
    assert str(caught.value) == (
        "Schedule: phases[0].end_lr must be left out when t is given (the phase ends where its curve "
        "leads), got phases[0].end_lr=0.0, t=50"
    )


N = 2**53  # kind="exponential" makes one decay per step: gamma is within 2**-53 of 1, and refused


@pytest.mark.parametrize(
    ("fields", "message", "instead"),
    [
        pytest.param(
            {"kind": "exponential"},
            f"build_scheduler: final_lr / initial_lr must be small enough for n_updates distinct decays in "
            f"float64 (gamma <= 1 - 1e-15), got initial_lr=0.1, final_lr=0.0001, n_updates={N}, "
            "gamma=0.9999999999999992. Use kind='multistep' with fewer n_updates (kind='exponential' makes "
            f"one decay per step, n_updates = {N}), or kind='phases' with the continuous exponential shape: "
            f"phases=[{{shape: exponential, steps: {N}, end_lr: 0.0001}}], or final_lr=initial_lr for a "
            "constant LR",
            [
                {"kind": "multistep", "n_updates": 10_000},
                {"phases": [{"shape": "exponential", "steps": N, "end_lr": 1e-4}]},
            ],
            id="exponential",
        ),
        pytest.param(
            {"kind": "exponential", "warmup_steps": 10, "final_lr_at": "last_step"},
            "build_scheduler: final_lr / initial_lr must be small enough for n_updates distinct decays in "
            f"float64 (gamma <= 1 - 1e-15), got initial_lr=0.1, final_lr=0.0001, n_updates={N - 11}, "
            "gamma=0.9999999999999992. Use kind='multistep' with fewer n_updates (kind='exponential' makes "
            f"one decay per step, n_updates = {N - 11}), or kind='phases' with the continuous exponential "
            f"shape: phases=[{{shape: exponential, steps: {N - 11}, end_lr: 0.0001}}, {{shape: constant, "
            "steps: 1}], or final_lr=initial_lr for a constant LR",
            [
                {"kind": "multistep", "n_updates": 10_000, "warmup_steps": 10, "final_lr_at": "last_step"},
                {
                    "warmup_steps": 10,
                    "phases": [
                        {"shape": "exponential", "steps": N - 11, "end_lr": 1e-4},
                        {"shape": "constant", "steps": 1},
                    ],
                },
            ],
            id="exponential-last-step",
        ),
        pytest.param(
            {"kind": "multistep", "n_updates": N},
            "build_scheduler: final_lr / initial_lr must be small enough for n_updates distinct decays in "
            f"float64 (gamma <= 1 - 1e-15), got initial_lr=0.1, final_lr=0.0001, n_updates={N}, "
            "gamma=0.9999999999999992. Use fewer updates, or final_lr=initial_lr for a constant LR",
            [{"kind": "multistep", "n_updates": 10_000}],
            id="multistep",
        ),
    ],
)
def test_a_refused_gamma_says_what_would_work(
    fields: dict[str, object], message: str, instead: list[dict[str, object]]
) -> None:
    """kind="exponential" derives n_updates: "use fewer updates" is no help there; what it suggests builds."""
    with pytest.raises(BoundsError) as caught:
        Schedule(0.1, 1e-4, N, where="build_scheduler", **fields)  # type: ignore[arg-type]
    assert str(caught.value) == message
    for other in instead:
        final = None if "phases" in other else 1e-4
        s = Schedule(0.1, final, N, **other)  # type: ignore[arg-type]
        assert 1e-4 < s.lr_at(N // 2) < 0.1
        assert s.lr_at(N) == 1e-4
