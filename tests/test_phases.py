"""Schedules as phases: one exactness contract over every registered shape and random phase lists.

The contract (written once, run over :data:`~bounded_lr_resolver.shapes.SHAPES` and random
``phases=[...]`` lists, warmups, re-warms and restarts): the LR starts where declared, each phase is
exactly at its ``end_lr`` at its boundary step, moves the way it is declared to, stays in
``[0, initial_lr]``, equals a float64 reference written here (not taken from the package) to
1e-12, and an fp32 tensor LR is within one fp32 rounding of it; a checkpoint resumes bitwise.
Oracles from outside: torch's ``CosineAnnealingWarmRestarts``, ``LinearLR`` and ``SequentialLR``,
and the formulas of Hugging Face's ``get_inverse_sqrt_schedule`` and ``get_wsd_schedule``.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import CosineAnnealingLR, CosineAnnealingWarmRestarts, LinearLR, SequentialLR

from bounded_lr_resolver import build_scheduler
from bounded_lr_resolver.bounds import KINDS, SHAPE_KINDS, STEP_KINDS
from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.errors import BoundedLRError, BoundsError, BoundsTypeError
from bounded_lr_resolver.schedule import DECAY_SHAPES, Schedule
from bounded_lr_resolver.shapes import SHAPES
from tests.conftest import examples
from tests.strategies import REACH_ZERO_KINDS, REACH_ZERO_SHAPES, declarations, phase_lists

FP32 = 2.0**-23


def sgd(lr: float | torch.Tensor = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def stepped(optimizer: torch.optim.Optimizer, scheduler: Any, steps: int) -> list[float]:
    out = [float(optimizer.param_groups[0]["lr"])]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        out.append(float(optimizer.param_groups[0]["lr"]))
    return out


# -- the float64 reference, written here from the formulas (not from the package) ---------------------


def _inverse_sqrt(x: float, a: float, b: float) -> float:
    r = b / a
    return a * r / math.sqrt(r * r + (1 - r * r) * x)


def _cosine_restarts(i: int, a: float, b: float, p: dict[str, Any]) -> float:
    t0, mult = p["T_0"], p.get("T_mult", 1)
    start, length = 0, t0
    while i >= start + length:
        start, length = start + length, length * mult
    return b + (a - b) * (1 + math.cos(math.pi * (i - start) / length)) / 2


def _multistep(i: int, n: int, a: float, b: float, p: dict[str, Any]) -> float:
    m = p["n_updates"]
    plateaus = p.get("plateaus") or m
    k = sum(1 for j in range(1, m + 1) if (j * n) // plateaus <= i)
    return b if k >= m else a * (b / a) ** (k / m)


Oracle = Callable[[int, int, float, float, dict[str, Any]], float]
ORACLES: dict[str, Oracle] = {
    "constant": lambda i, n, a, b, p: a,
    "linear": lambda i, n, a, b, p: a + (b - a) * (i / n),
    "cosine": lambda i, n, a, b, p: b + (a - b) * (1 + math.cos(math.pi * (i / n))) / 2,
    "polynomial": lambda i, n, a, b, p: b + (a - b) * (1 - i / n) ** p.get("power", 1.0),
    "sqrt": lambda i, n, a, b, p: b + (a - b) * (1 - math.sqrt(i / n)),
    "exponential": lambda i, n, a, b, p: a * (b / a) ** (i / n),
    "inverse_sqrt": lambda i, n, a, b, p: _inverse_sqrt(i / n, a, b),
    "cosine_restarts": lambda i, n, a, b, p: _cosine_restarts(i, a, b, p),
    "multistep": _multistep,
}
"""The float64 reference: each registered shape's formula, written once here (not taken from the
package), as the LR ``i`` of ``n`` steps into a phase from ``a`` to ``b`` with parameters ``p``. A
shape added to the registry adds its row here: the one test file it touches."""


def test_the_reference_has_one_formula_per_registered_shape() -> None:
    assert sorted(ORACLES) == sorted(SHAPES), "add the new shape's formula to ORACLES"


def _curve(shape: str, i: int, n: int, a: float, b: float, p: dict[str, Any]) -> float:
    return ORACLES[shape](i, n, a, b, p)


def reference(s: Schedule) -> list[float]:
    """The LR at steps 0..max_steps+2 from the declaration's phases (warmup first), in float64."""
    phases: list[tuple[str, int, float, float | None, dict[str, Any]]] = []
    if s.warmup_steps:
        phases.append((s.warmup_shape, s.warmup_steps, s.initial_lr, None, {}))
    for phase in s.plan.phases[1 if s.warmup_steps else 0 :]:
        phases.append((phase.shape, phase.steps, phase.end_lr, phase.start_lr, dict(phase.params)))
    lrs = [s.initial_lr * s.warmup_start_factor if s.warmup_steps else s.initial_lr]
    at = lrs[0]
    for shape, steps, end, start, params in phases:
        a = at if start is None else start
        if start is not None:
            lrs[-1] = a  # a restart: its boundary step trains at it
        lrs += [_curve(shape, i, steps, a, end, params) for i in range(1, steps)] + [end]
        at = end
    return lrs + [lrs[-1]] * 2


def assert_close(got: list[float], want: list[float], scale: float) -> None:
    for t, (g, w) in enumerate(zip(got, want, strict=True)):
        assert abs(g - w) <= 1e-12 * max(abs(w), 1e-300) or abs(g - w) <= 1e-15 * scale, (t, g, w)


def check_phases(s: Schedule) -> None:
    """The contract, for one schedule: each point of the module docstring."""
    curve = lr_curve(s, np.arange(s.max_steps + 3)).tolist()
    assert curve[0] == (s.initial_lr * s.warmup_start_factor if s.warmup_steps else s.initial_lr), "start"
    parts = s.plan.parts
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        restart = following is not None and following.phase.start_lr is not None
        at_boundary = curve[part.stop]
        assert at_boundary == (following.start if restart else part.end), "each phase ends exactly"  # type: ignore[union-attr]
        inside = curve[part.begin : part.stop] + ([] if restart else [part.end])
        shape = SHAPES[part.phase.shape]
        if shape.monotone and part.end <= part.start:
            assert all(b <= a for a, b in itertools.pairwise(inside)), "never rises inside a decay"
        elif shape.monotone:
            assert part.phase.rewarm or part.begin == 0, "a rise is declared"
            assert all(b >= a for a, b in itertools.pairwise(inside)), "a re-warm only rises"
        else:  # restart cycles: between their ends
            assert all(part.end <= v <= part.start for v in inside)
    assert all(0.0 <= v <= s.initial_lr for v in curve), "within [0, initial_lr]"
    assert curve[s.max_steps :] == [s.final_lr] * 3, "held after max_steps"
    assert_close(curve, reference(s), s.initial_lr)


@settings(
    max_examples=examples(1500), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.data())
def test_every_phase_list_keeps_the_contract(data: st.DataObject) -> None:
    initial = data.draw(st.floats(1e-4, 1.0))
    fields = data.draw(phase_lists(initial))
    warmup = data.draw(st.sampled_from([0, data.draw(st.integers(1, 20))]))
    total = warmup + sum(phase["steps"] for phase in fields["phases"])
    s = Schedule(initial, max_steps=total, warmup_steps=warmup, warmup_start_factor=0.1, **fields)
    assert s.final_lr == fields["phases"][-1]["end_lr"]
    check_phases(s)


@settings(
    max_examples=examples(1500), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(declarations())
def test_every_kind_keeps_the_contract(fields: dict[str, Any]) -> None:
    """Every kind (derived from the registry), valid as drawn: it builds, and it is its phases."""
    s = Schedule(**fields)
    check_phases(s)
    hit = s.max_steps - (s.final_lr_at == "last_step")
    assert lr_curve(s, [hit]).tolist() == [s.final_lr], "final_lr exactly where promised"


@settings(
    max_examples=examples(300), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(declarations(), st.data())
def test_fp32_tensor_lrs_are_one_rounding_away_and_resume_bitwise(
    fields: dict[str, Any], data: st.DataObject
) -> None:
    s = Schedule(**fields)
    optimizer = sgd(torch.tensor(s.initial_lr, dtype=torch.float32))
    scheduler = build_scheduler(optimizer, **fields)
    r = data.draw(st.integers(0, s.max_steps + 2))
    lrs = stepped(optimizer, scheduler, r)
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    rest = stepped(optimizer, scheduler, s.max_steps + 2 - r)
    expected = lr_curve(s, np.arange(s.max_steps + 3)).tolist()
    for got, want in zip(lrs + rest[1:], expected, strict=True):
        assert abs(got - want) <= FP32 * want + 1e-45, (got, want)
        assert (
            float(torch.tensor(want, dtype=torch.float32)) == got
        )  # exactly the rounding of the closed form
    opt2 = sgd(torch.tensor(s.initial_lr, dtype=torch.float32))
    again = build_scheduler(opt2, **fields)
    buffer.seek(0)
    again.load_state_dict(torch.load(buffer, weights_only=True))
    assert stepped(opt2, again, s.max_steps + 2 - r) == rest, "resume bitwise"


# -- the identity that proves the design, and decay to zero -------------------------------------------


@pytest.mark.parametrize("at", ["max_steps", "last_step"])
@pytest.mark.parametrize("shape", ["sqrt", "cosine", "linear", "exponential"])
def test_wsd_is_a_hold_and_a_cooldown_phase_bitwise(shape: str, at: str) -> None:
    wsd = Schedule(
        0.1, 1e-3, 1000, kind="wsd", warmup_steps=50, decay_steps=200, decay_shape=shape, final_lr_at=at
    )
    cut = 1 if at == "last_step" else 0
    phases = [
        {"shape": "constant", "steps": 1000 - 50 - 200},
        {"shape": shape, "steps": 200 - cut, "end_lr": 1e-3},
    ]
    phases += [{"shape": "constant", "steps": 1}] if cut else []
    declared = Schedule(0.1, max_steps=1000, warmup_steps=50, phases=phases)
    steps = np.arange(1003)
    assert lr_curve(wsd, steps).tolist() == lr_curve(declared, steps).tolist()
    assert wsd.plan.phases == declared.plan.phases


ADDITIVE = [name for name in SHAPE_KINDS if not SHAPES[name].multiplicative and name != "constant"]


@pytest.mark.parametrize("lr_type", ["float", "fp32"])
@pytest.mark.parametrize("kind", [*ADDITIVE, "wsd"])
def test_every_additive_kind_decays_to_exactly_zero(kind: str, lr_type: str) -> None:
    extra: dict[str, Any] = {"decay_steps": 30, "decay_shape": "sqrt"} if kind == "wsd" else {}
    shape = SHAPES.get(kind)  # a required parameter: its shipped option's value, at most 40 (T_0: restarts)
    if shape is not None:
        extra.update({p.name: min(40, shape.option[p.name]) for p in shape.params if p.default is ...})
    initial = 0.1 if lr_type == "float" else torch.tensor(0.1, dtype=torch.float32)
    optimizer = sgd(initial)
    scheduler = build_scheduler(
        optimizer, initial_lr=0.1, final_lr=0, max_steps=100, kind=kind, warmup_steps=5, **extra
    )
    lrs = stepped(optimizer, scheduler, 103)
    assert lrs[100:] == [0.0, 0.0, 0.0, 0.0]  # exactly 0.0 at the end and after, never -0.0 or below
    assert all(lr > 0.0 for lr in lrs[1:100]), "every training step before the end learns"
    assert math.copysign(1.0, lrs[100]) == 1.0


ZERO_REFUSED = [
    *(
        pytest.param(
            {"kind": kind, "n_updates": 10 if kind in STEP_KINDS[:2] else None},
            f"kind={kind!r}",
            f"kind={' | '.join(REACH_ZERO_KINDS)}",
            id=f"kind-{kind}",
        )
        for kind in (*STEP_KINDS, *(k for k in SHAPE_KINDS if SHAPES[k].multiplicative))
    ),
    *(
        pytest.param(
            {"kind": "wsd", "decay_steps": 30, "decay_shape": shape},
            f"decay_shape={shape!r}",
            f"decay_shape={' | '.join(s for s in DECAY_SHAPES if s in REACH_ZERO_SHAPES)}",
            id=f"wsd-{shape}",
        )
        for shape in DECAY_SHAPES
        if SHAPES[shape].multiplicative
    ),
]


@pytest.mark.parametrize(("fields", "subject", "reach"), ZERO_REFUSED)
def test_the_multiplicative_kinds_refuse_zero_naming_the_kinds_that_reach_it(
    fields: dict[str, Any], subject: str, reach: str
) -> None:
    """One refusal, one wording, whatever refuses the 0; what can reach 0 comes from the registry."""
    optimizer = sgd()
    with pytest.raises(BoundsError) as caught:
        build_scheduler(optimizer, initial_lr=0.1, final_lr=0.0, max_steps=100, **fields)
    assert str(caught.value) == (
        f"build_scheduler: final_lr must be > 0 for {subject}, whose LRs are ratios of its ends, got "
        f"final_lr=0.0. These can reach 0: {reach}"
    )
    assert float(optimizer.param_groups[0]["lr"]) == 0.1


def test_a_zero_end_with_last_step_is_refused_saying_what_works() -> None:
    """Training the last step at LR 0 would waste it; the LR reaches 0 after it with final_lr_at=max_steps."""
    with pytest.raises(BoundsError) as caught:
        Schedule(0.1, 0.0, 100, kind="linear", final_lr_at="last_step", where="build_scheduler")
    assert str(caught.value) == (
        "build_scheduler: final_lr_at must be 'max_steps' with final_lr=0 ('last_step' would train the last "
        "step at LR 0), got final_lr_at='last_step', final_lr=0.0. With final_lr_at='max_steps' the LR "
        "reaches "
        "0 after the last training step, as in HF's linear and cosine schedules"
    )


# -- declared phases: what is refused, and that nothing is applied --------------------------------------

OK = [{"shape": "constant", "steps": 60}, {"shape": "cosine", "steps": 40, "end_lr": 0.0}]
W = "build_scheduler"


def with_phase(index: int, **change: Any) -> list[dict[str, Any]]:
    phases = [dict(phase) for phase in OK]
    phases[index].update(change)
    return [{k: v for k, v in phase.items() if v is not None} for phase in phases]


REFUSED = [
    pytest.param(
        {"phases": with_phase(1, steps=30)},
        BoundsError,
        f"{W}: phases must be steps that add up to max_steps - warmup_steps, got sum of phases' steps=90, "
        "max_steps=100, warmup_steps=0. Make them add up to 100, or use durations ('0.5dur')",
        id="lengths",
    ),
    pytest.param(
        {"phases": with_phase(0, steps=0)},
        BoundsError,
        f"{W}: phases[0].steps must be a whole number >= 1, got phases[0].steps=0",
        id="zero-length",
    ),
    pytest.param(
        {"phases": with_phase(0, steps=-5)},
        BoundsError,
        f"{W}: phases[0].steps must be a whole number >= 1, got phases[0].steps=-5",
        id="negative-length",
    ),
    pytest.param(
        {"phases": with_phase(1, shape="cosh")},
        BoundsError,
        f"{W}: phases[1].shape must be one of {list(SHAPES)}, got phases[1].shape='cosh'",
        id="unknown-shape",
    ),
    pytest.param(
        {"phases": with_phase(1, end_lr=-0.01)},
        BoundsError,
        f"{W}: phases[1].end_lr must be 0 or a finite number > 0, got phases[1].end_lr=-0.01",
        id="below-zero",
    ),
    pytest.param(
        {"phases": with_phase(1, end_lr=0.2, rewarm=True)},
        BoundsError,
        f"{W}: phases[1].end_lr must be in [0, initial_lr] (the peak), got phases[1].end_lr=0.2, "
        "initial_lr=0.1",
        id="above-initial",
    ),
    pytest.param(
        {
            "phases": [
                {"shape": "linear", "steps": 60, "end_lr": 0.01},
                {"shape": "linear", "steps": 40, "end_lr": 0.05},
            ]
        },
        BoundsError,
        f"{W}: phases[1].end_lr must be <= the LR it starts at, as the LR never rises after warmup unless "
        "the "
        "phase says rewarm: true, got phases[1].end_lr=0.05, start=0.01. Add rewarm: true to this phase",
        id="undeclared-rise",
    ),
    pytest.param(
        {
            "phases": [
                {"shape": "linear", "steps": 60, "end_lr": 0.01},
                {"shape": "cosine", "steps": 40, "end_lr": 0.0, "start_lr": 0.05},
            ]
        },
        BoundsError,
        f"{W}: phases[1].start_lr must be <= the LR the phase before ends at, unless the phase says "
        "rewarm: true "
        "(a restart), got phases[1].start_lr=0.05, LR before=0.01. Add rewarm: true to restart at a "
        "higher LR",
        id="restart-without-rewarm",
    ),
    pytest.param(
        {"phases": with_phase(0, start_lr=0.05, rewarm=True)},
        BoundsError,
        f"{W}: phases[0].start_lr must be left out for the first phase (it starts where warmup ends, at "
        "initial_lr), got phases[0].start_lr=0.05. A restart is a later phase's start_lr; to start "
        "lower, lower "
        "initial_lr",
        id="first-phase-restart",
    ),
    pytest.param(
        {"phases": with_phase(0, end_lr=0.05)},
        BoundsError,
        f"{W}: phases[0].end_lr must be the LR it starts at, for shape 'constant' (or left out), got "
        "phases[0].end_lr=0.05, start=0.1. Use shape 'linear' or another decay to change the LR",
        id="constant-that-moves",
    ),
    pytest.param(
        {"phases": with_phase(1, shape="exponential")},
        BoundsError,
        f"{W}: phases[1].end_lr must be > 0 for shape='exponential', whose LRs are ratios of its ends, got "
        f"start=0.1, end_lr=0.0. These can reach 0: shape={' | '.join(REACH_ZERO_SHAPES)}",
        id="ratio-to-zero",
    ),
    pytest.param(
        {
            "phases": [
                {"shape": "cosine", "steps": 60, "end_lr": 0.0},
                {"shape": "exponential", "steps": 40, "end_lr": 0.0},
            ]
        },
        BoundsError,
        f"{W}: phases[1].end_lr must be > 0 for shape='exponential', whose LRs are ratios of its ends, got "
        f"start=0.0, end_lr=0.0. These can reach 0: shape={' | '.join(REACH_ZERO_SHAPES)}",
        id="ratio-from-zero",
    ),
    pytest.param(
        {"phases": with_phase(1, power=2.0)},
        BoundsError,
        f"{W}: phases[1] keys must be among ['shape', 'steps', 'end_lr', 'start_lr', 'rewarm'], got "
        "phases[1] keys=['power']",
        id="parameter-of-another-shape",
    ),
    pytest.param(
        {"phases": with_phase(1, shape="cosine_restarts")},
        BoundsTypeError,
        f"{W}: phases[1].T_0 must be length of the first cycle in steps (shape 'cosine_restarts'), got "
        "phases[1].T_0=None (NoneType)",
        id="missing-parameter",
    ),
    pytest.param(
        {"phases": OK, "final_lr": 1e-3},
        BoundsError,
        f"{W}: final_lr must be the last phase's end_lr (or left out), got final_lr=0.001, "
        "phases[1].end_lr=0.0",
        id="final-lr-disagrees",
    ),
    pytest.param(
        {"phases": OK, "final_lr_at": "last_step"},
        BoundsError,
        f"{W}: final_lr_at must be 'max_steps' with phases (the phases say where each LR is reached), got "
        "final_lr_at='last_step'. Append {shape: constant, steps: 1} to train the last step at the final LR",
        id="last-step",
    ),
    pytest.param(
        {"phases": with_phase(0, steps="0.333dur")},
        BoundsError,
        f"{W}: phases[0].steps must be a whole number of steps, got phases[0].steps='0.333dur', "
        "max_steps=100, "
        "steps=33.3. Use 33 steps (0.33dur) or 34 steps (0.34dur)",
        id="duration-not-whole",
    ),
    pytest.param(
        {"phases": "constant"},
        BoundsTypeError,
        f"{W}: phases must be a non-empty list of {{shape, steps, end_lr, ...}} mappings, got "
        "phases='constant' (str)",
        id="not-a-list",
    ),
    pytest.param(
        {"phases": OK, "kind": "cosine"},
        BoundsError,
        f"{W}: phases must be left out for kind='cosine' (it applies to kind='phases')",
        id="phases-for-a-kind",
    ),
]


@pytest.mark.parametrize(("fields", "error", "message"), REFUSED)
def test_bad_phases_are_refused_naming_the_phase_and_nothing_is_applied(
    fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    optimizer = sgd(0.1)
    before = optimizer.state_dict()
    with pytest.raises(error) as caught:
        build_scheduler(optimizer, initial_lr=0.1, max_steps=100, **fields)
    assert str(caught.value).startswith(message), str(caught.value)
    assert isinstance(caught.value, BoundedLRError)
    assert optimizer.state_dict() == before


def test_a_restart_and_a_rewarm_are_declared_and_trained_as_declared() -> None:
    """Restart: the boundary step trains at the restart's LR (torch's warm restarts never train at eta_min).
    Re-warm: the LR rises over the phase, to a peak no higher than initial_lr."""
    phases = [
        {"shape": "cosine", "steps": 10, "end_lr": 0.0},
        {"shape": "cosine", "steps": 10, "end_lr": 0.0, "start_lr": 0.1, "rewarm": True},
        {"shape": "linear", "steps": 5, "end_lr": 0.05, "rewarm": True},
        {"shape": "linear", "steps": 5, "end_lr": 0.0},
    ]
    s = Schedule(0.1, max_steps=30, phases=phases)
    lrs = lr_curve(s, np.arange(31)).tolist()
    assert lrs[10] == 0.1  # the restart
    assert lrs[9] < 0.01
    assert (lrs[20], lrs[25], lrs[30]) == (0.0, 0.05, 0.0)
    assert lrs[21:26] == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05], rel=1e-12)


# -- oracles from outside ------------------------------------------------------------------------------


@pytest.mark.parametrize(("t0", "mult"), [(10, 1), (7, 2), (5, 3)])
def test_cosine_restarts_is_torchs_cosine_annealing_warm_restarts(t0: int, mult: int) -> None:
    steps = 200
    ours_opt, torch_opt = sgd(), sgd()
    ours = build_scheduler(
        ours_opt, initial_lr=0.1, final_lr=1e-3, max_steps=steps, kind="cosine_restarts", T_0=t0, T_mult=mult
    )
    theirs = CosineAnnealingWarmRestarts(torch_opt, T_0=t0, T_mult=mult, eta_min=1e-3)
    got, want = stepped(ours_opt, ours, steps - 1), stepped(torch_opt, theirs, steps - 1)
    assert got == pytest.approx(want, rel=1e-12, abs=0)
    # the same restarts declared as phases: one cosine per cycle, each a restart at 0.1
    lengths, total = [], 0
    while total < steps:
        lengths.append(min(t0 * mult ** len(lengths), steps - total))
        total += lengths[-1]
    cycles = [
        {"shape": "cosine", "steps": n, "end_lr": 1e-3, "start_lr": 0.1, "rewarm": True} for n in lengths
    ]
    cycles[0] = {"shape": "cosine", "steps": lengths[0], "end_lr": 1e-3}
    declared = Schedule(0.1, max_steps=steps, phases=cycles)
    full = [t0 * mult**k for k in range(len(lengths))]
    if lengths[-1] == full[-1]:  # whole cycles: the phases are the shape, step for step
        assert lr_curve(declared, np.arange(steps)).tolist() == pytest.approx(want, rel=1e-12, abs=0)


def test_linear_and_sequential_chains_of_torch() -> None:
    """Warmup + cosine to 0 is torch's SequentialLR([LinearLR, CosineAnnealingLR(eta_min=0)]); stepped, torch
    chains factors, which in float64 stays within 1e-12 of ours."""
    ours_opt, torch_opt = sgd(), sgd()
    ours = build_scheduler(
        ours_opt,
        initial_lr=0.1,
        final_lr=0.0,
        max_steps=200,
        warmup_steps=20,
        warmup_start_factor=0.05,
        kind="cosine",
    )
    warm = LinearLR(torch_opt, start_factor=0.05, end_factor=1.0, total_iters=20)
    cosine = CosineAnnealingLR(torch_opt, T_max=180, eta_min=0.0)
    theirs = SequentialLR(torch_opt, [warm, cosine], milestones=[20])
    got, want = stepped(ours_opt, ours, 199), stepped(torch_opt, theirs, 199)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def hf_inverse_sqrt(step: int, warmup: int, timescale: int) -> float:
    """transformers' ``_get_inverse_sqrt_schedule_lr_lambda``, reproduced (transformers is not installed)."""
    if step < warmup:
        return step / max(1, warmup)
    shift = timescale - warmup
    return 1.0 / math.sqrt((step + shift) / timescale)


def hf_wsd(step: int, warmup: int, stable: int, decay: int, decay_type: str, min_lr_ratio: float) -> float:
    """transformers' ``_get_wsd_scheduler_lambda`` (linear warmup), reproduced."""
    if step < warmup:
        return max(0.0, (step / max(1, warmup)) * (1.0 - min_lr_ratio) + min_lr_ratio)
    if step < warmup + stable:
        return 1.0
    if step < warmup + stable + decay:
        progress = (step - warmup - stable) / max(1, decay)
        factor = {
            "linear": 1.0 - progress,
            "cosine": 0.5 * (1.0 + math.cos(math.pi * 2.0 * 0.5 * progress)),
            "1-sqrt": 1.0 - math.sqrt(progress),
        }[decay_type]
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


def test_inverse_sqrt_with_a_timescale_is_hfs_schedule_then_a_cooldown() -> None:
    """LLM Foundry's inverse-sqrt with a cooldown: the first phase ends where HF's curve leads."""
    warmup, timescale = 100, 100
    phases = [
        {"shape": "inverse_sqrt", "steps": 700, "timescale": timescale},
        {"shape": "linear", "steps": 200, "end_lr": 0},
    ]
    s = Schedule(0.1, max_steps=1000, warmup_steps=warmup, phases=phases)
    lrs = lr_curve(s, np.arange(801)).tolist()
    want = [0.1 * hf_inverse_sqrt(t, warmup, timescale) for t in range(801)]
    assert lrs == pytest.approx(want, rel=1e-12, abs=0)
    assert lr_curve(s, [1000]).tolist() == [0.0]


@pytest.mark.parametrize(("shape", "hf"), [("linear", "linear"), ("cosine", "cosine"), ("sqrt", "1-sqrt")])
@pytest.mark.parametrize("ratio", [0.0, 0.1])
def test_wsd_is_hfs_get_wsd_schedule(shape: str, hf: str, ratio: float) -> None:
    s = Schedule(
        0.1,
        0.1 * ratio,
        1000,
        kind="wsd",
        warmup_steps=100,
        warmup_start_factor=ratio,
        decay_steps=300,
        decay_shape=shape,
    )  # HF's warmup starts at min_lr_ratio
    want = [0.1 * hf_wsd(t, 100, 600, 300, hf, ratio) for t in range(1001)]
    assert lr_curve(s).tolist() == pytest.approx(want, rel=1e-12, abs=1e-15)


# -- the registry is the one place a shape is known -----------------------------------------------------


def test_kinds_options_and_strategies_are_derived_from_the_registry() -> None:
    from bounded_lr_resolver.options import OPTIONS
    from bounded_lr_resolver.schema import schema
    from tests.strategies import PHASE_SHAPES

    shapes = set(SHAPES) - {"multistep", "exponential"}  # the step phase is a kind's; exponential is torch's
    assert shapes <= set(KINDS)
    assert shapes <= set(OPTIONS)
    assert set(PHASE_SHAPES) | {"multistep"} == set(SHAPES)
    for name, shape in SHAPES.items():
        assert shape.formula
        assert shape.doc
        for param in shape.params:
            assert param.doc
            if name in OPTIONS and param.kind_level:
                assert param.name in schema(name).__dataclass_fields__  # type: ignore[attr-defined]


# -- a re-plan inside a phase or across phases ---------------------------------------------------------


@settings(
    max_examples=examples(500), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.data())
def test_a_replan_of_phases_keeps_history_and_the_new_phases(data: st.DataObject) -> None:
    """Random phases, a checkpoint at a random step, then a longer run with another end: refused naming
    why, or history bitwise, the checkpoint's LR at its step, every later phase at its end_lr, no rise
    the new phases do not declare, and a second resume bitwise."""
    old = data.draw(declarations(kinds=("phases",)))
    opt, sched = sgd(old["initial_lr"]), None
    sched = build_scheduler(opt, **old)
    r = data.draw(st.integers(0, old["max_steps"] + 2))
    history = stepped(opt, sched, r)
    state = sched.state_dict()
    new = {**old, "phases": [dict(phase) for phase in old["phases"]]}
    last = new["phases"][-1]
    last["steps"] += data.draw(st.integers(0, 50))
    if last["shape"] not in ("constant", "multistep") and "timescale" not in last:
        last["end_lr"] = last["end_lr"] * data.draw(
            st.sampled_from([1.0, 0.5, 0.0 if not SHAPES[last["shape"]].multiplicative else 1.0])
        )
    new["max_steps"] = new["warmup_steps"] + sum(phase["steps"] for phase in new["phases"])
    opt2 = sgd(old["initial_lr"])
    resumed = build_scheduler(opt2, **new, on_resume_change="replan")
    try:
        resumed.load_state_dict(state)
    except BoundedLRError as error:
        refused = str(error)
    else:
        refused = ""
    if refused:
        assert refused.startswith("BoundedLR.load_state_dict: on_resume_change='replan' cannot ")
        return
    plan = resumed.plans[0]
    assert [plan.lr_at(t) for t in range(r + 1)] == history, "history bitwise"
    assert float(opt2.param_groups[0]["lr"]) == history[r]
    after = stepped(opt2, resumed, new["max_steps"] + 2 - r)
    assert after == [plan.lr_at(t) for t in range(r, new["max_steps"] + 3)]
    assert all(0.0 <= lr <= old["initial_lr"] for lr in after)
    assert after[-1] == Schedule(**new).final_lr, "the new end, exactly"
    for part in plan.parts:
        if part.begin > r and part.phase.start_lr is None and SHAPES[part.phase.shape].monotone:
            inside = [plan.lr_at(t) for t in range(part.begin, part.stop)] + [part.end]
            rising = part.phase.rewarm and part.end > part.start
            assert all((b >= a) if rising else (b <= a) for a, b in itertools.pairwise(inside))
    r2 = data.draw(st.integers(r, new["max_steps"] + 2))
    stepped(opt2, resumed, 0)
    again_state = resumed.state_dict()
    opt3 = sgd(old["initial_lr"])
    again = build_scheduler(opt3, **new, on_resume_change="replan")
    again.load_state_dict(again_state)
    assert [again.plans[0].lr_at(t) for t in range(r2 + 1)] == [plan.lr_at(t) for t in range(r2 + 1)]


def test_a_replanned_cosine_stretches_the_rest_of_its_curve() -> None:
    """0.1 -> 0 over 1000 steps, resumed at step 500 as 2000 steps: the second half of a cosine over the
    1500 steps left, from the LR at 500 (0.05) to 0 (not a new cosine from 0.05, flat at first)."""
    opt, sched = sgd(), None
    sched = build_scheduler(opt, initial_lr=0.1, final_lr=0.0, max_steps=1000, kind="cosine")
    history = stepped(opt, sched, 500)
    opt2 = sgd()
    resumed = build_scheduler(
        opt2, initial_lr=0.1, final_lr=0.0, max_steps=2000, kind="cosine", on_resume_change="replan"
    )
    resumed.load_state_dict(sched.state_dict())
    rest = stepped(opt2, resumed, 1500)
    at, x0 = history[500], 500 / 2000  # the new cosine's progress at the resume step
    want = [
        at * (1 + math.cos(math.pi * (x0 + (1 - x0) * j / 1500))) / (1 + math.cos(math.pi * x0))
        for j in range(1501)
    ]
    assert rest == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert rest[0] == at
    assert rest[-1] == 0.0
    assert rest[0] - rest[1] > (at / 1500) * 0.5  # steep from the start, as a cosine's second half
