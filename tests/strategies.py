"""Hypothesis strategies shared by the tests, derived from the shape registry and the kinds.

A shape added to :data:`bounded_lr_resolver.shapes.SHAPES` is drawn here without an edit: its
parameters come from its entry (type and default), and whether it may end at 0 from
``multiplicative``. ``CLASSIC_KINDS`` are the kinds whose formulas the older tests write out.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bounded_lr_resolver.bounds import KINDS, SHAPE_KINDS, STEP_KINDS
from bounded_lr_resolver.schedule import DECAY_SHAPES, WARMUP_SHAPES
from bounded_lr_resolver.shapes import SHAPES, Shape

CLASSIC_KINDS = ("step", "multistep", "exponential", "cosine", "linear", "polynomial", "wsd")
"""The kinds before the phases, whose formulas tests/test_contract.py and test_bounds.py write out: the
coverage of those oracles, not a list of the shapes (a new shape is covered by test_phases.ORACLES and
the strategies below, with no edit here)."""

REACH_ZERO_SHAPES = tuple(n for n, s in SHAPES.items() if not s.multiplicative and n != "constant")
"""The shapes that can reach 0 (additive, and not the hold), derived here from the registry: what a
refused 0 must name."""
REACH_ZERO_KINDS = (*(k for k in SHAPE_KINDS if k in REACH_ZERO_SHAPES), "wsd", "phases")
"""The kinds that can reach 0: those shapes as kinds, and the compositions of them."""

PHASE_SHAPES = tuple(name for name, shape in SHAPES.items() if not shape.stepwise)
"""The shapes a drawn phase list uses (a step phase is drawn separately: it needs a count that fits)."""


def param_value(draw: st.DrawFn, shape: Shape, name: str, steps: int) -> Any:
    """A valid value of a shape parameter (from the registry's type), for a phase of ``steps`` steps."""
    param = next(p for p in shape.params if p.name == name)
    if param.type is int:
        return draw(st.integers(1, max(1, steps // 2)))
    return draw(st.one_of(st.floats(0.1, 6.0), st.sampled_from([0.5, 1.0, 2.0])))


def shape_params(draw: st.DrawFn, name: str, steps: int) -> dict[str, Any]:
    """Every kind-level parameter of shape ``name``, drawn (required ones always, optional ones sometimes)."""
    shape = SHAPES[name]
    values: dict[str, Any] = {}
    for param in shape.params:
        if not param.kind_level or param.name == "n_updates":
            continue
        if param.default is ... or draw(st.booleans()):
            values[param.name] = param_value(draw, shape, param.name, steps)
    return values


@st.composite
def declarations(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """Valid ``Schedule`` keyword arguments of any kind (a step kind's count fits its steps)."""
    kind = draw(st.sampled_from(kinds))
    initial = draw(st.floats(1e-5, 10.0))
    warmup = draw(st.sampled_from([0, 0, draw(st.integers(1, 30))]))
    fields: dict[str, Any] = {
        "initial_lr": initial,
        "kind": kind,
        "warmup_steps": warmup,
        "warmup_start_factor": draw(st.sampled_from([0.0, 1.0, draw(st.floats(0.01, 1.0))])),
        "warmup_shape": draw(st.sampled_from(WARMUP_SHAPES)),
    }
    if fields["warmup_shape"] == "exponential" and fields["warmup_start_factor"] == 0.0:
        fields["warmup_start_factor"] = 0.5
    if kind == "phases":
        fields.update(draw(phase_lists(initial)))
        fields["max_steps"] = warmup + sum(phase["steps"] for phase in fields["phases"])
        return fields
    multiplicative = kind in STEP_KINDS or (kind in SHAPES and SHAPES[kind].multiplicative)
    zero = not multiplicative and kind != "constant" and draw(st.booleans())
    at = "max_steps" if zero else draw(st.sampled_from(["max_steps", "last_step"]))
    span = draw(st.integers(2, 300))
    fields.update(max_steps=warmup + span, final_lr_at=at)
    if kind == "constant":
        fields["final_lr"] = initial
    else:
        fields["final_lr"] = 0.0 if zero else initial * draw(st.sampled_from([1e-3, 0.1, 0.5, 1.0]))
    if kind in ("step", "multistep"):
        count = draw(st.integers(1, span - (at == "last_step")))
        fields["n_updates"] = count
        if kind == "step":
            plateaus = count + (at == "last_step")
            fields["max_steps"] = warmup + plateaus * draw(st.integers(1, 8))
    elif kind == "wsd":
        fields["decay_steps"] = draw(st.integers(1, span))
        shape = draw(st.sampled_from([s for s in DECAY_SHAPES if not (zero and SHAPES[s].multiplicative)]))
        fields["decay_shape"] = shape
        fields.update(shape_params(draw, shape, span))
    elif kind in SHAPE_KINDS:
        fields.update(shape_params(draw, kind, span))
    return fields


@st.composite
def phase_lists(draw: st.DrawFn, initial: float) -> dict[str, Any]:
    """``phases=[...]`` of 1 to 5 phases of every registered shape: decays, holds, re-warms, restarts."""
    phases: list[dict[str, Any]] = []
    at = initial
    for index in range(draw(st.integers(1, 5))):
        steps = draw(st.integers(1, 80))
        kind = draw(st.sampled_from([*PHASE_SHAPES, "multistep"]))
        shape = SHAPES[kind]
        phase: dict[str, Any] = {"shape": kind, "steps": steps}
        restart = index > 0 and draw(st.integers(0, 9)) == 0
        start = at
        if restart:
            start = initial * draw(st.sampled_from([0.5, 1.0]))
            phase.update(start_lr=start, rewarm=start > at)
        if shape.multiplicative and start == 0.0:
            kind, shape = "linear", SHAPES["linear"]
            phase["shape"] = kind
        if kind == "constant":
            end = start
        elif kind == "multistep":
            phase["n_updates"] = draw(st.integers(1, steps))
            end = start * draw(st.sampled_from([0.1, 0.5, 1.0])) if start > 0 else start
            if start == 0.0:
                phase["shape"] = "constant"
                del phase["n_updates"]
        elif draw(st.integers(0, 4)) == 0 and shape.monotone and not shape.multiplicative:  # a re-warm
            end = draw(st.floats(start, initial, allow_subnormal=False))
            phase["rewarm"] = True
        elif shape.multiplicative:
            end = start * draw(st.sampled_from([1e-3, 0.1, 0.5, 1.0]))
        else:
            end = draw(st.sampled_from([0.0, start * 0.5, start * 1e-3, start]))
        phase["end_lr"] = end
        for param in shape.params:
            if (
                param.kind_level
                and param.name != "n_updates"
                and (param.default is ... or draw(st.booleans()))
            ):
                phase[param.name] = param_value(draw, shape, param.name, steps)
        phases.append(phase)
        at = end
    return {"phases": phases}
