"""Draw the figures of the docs (docs/*.png) from the closed form: ``python docs/make_figures.py``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib import pyplot as plt

from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.schedule import Schedule

HERE = Path(__file__).resolve().parent


def conventions() -> None:
    """The two final-LR conventions for 0.1 -> 1e-4 in 3 decays over 12 training steps."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110, sharey=True)
    for ax, at in zip(axes, ("max_steps", "last_step"), strict=True):
        s = Schedule(0.1, 1e-4, 12, 3, kind="step", final_lr_at=at)  # type: ignore[arg-type]
        steps = np.arange(0, 13)
        lrs = lr_curve(s, steps)
        ax.bar(steps[:12], lrs[:12], width=0.8, color="tab:blue", label="LR used by training step t")
        ax.bar([12], lrs[12:], width=0.8, color="lightgrey", label="after max_steps (no training)")
        ax.axhline(1e-4, color="tab:red", linestyle="--", linewidth=1, label="final_lr")
        ax.set_yscale("log")
        ax.set_xticks(steps)
        ax.set_xlabel("training step t (scheduler.step() called t times before it)")
        ax.set_title(f"final_lr_at={at}: step 11 trains at {lrs[11]:.0e}", fontsize=10)
    axes[0].set_ylabel("learning rate (log)")
    axes[0].legend(fontsize=8, loc="lower left")
    figure.suptitle("initial_lr=0.1, final_lr=1e-4, max_steps=12, n_updates=3", fontsize=10)
    figure.tight_layout()
    figure.savefig(HERE / "final_lr_conventions.png")


FIGURE_FIELDS: dict[str, dict[str, object]] = {
    "step": {"n_updates": 4},
    "multistep": {"n_updates": 3},
    "polynomial": {"power": 2.0},
    "wsd": {"decay_steps": 200, "decay_shape": "sqrt"},
    "cosine_restarts": {"T_0": 300},
}
"""Values that show a kind well over 1000 steps (the shipped options are sized for 10**6)."""


def _every_kind() -> dict[str, dict[str, object]]:
    """Every kind that decays from initial_lr to final_lr (from the registry), labelled with its values.

    A kind's shape parameters come from its shipped option unless :data:`FIGURE_FIELDS` sizes them
    for this figure; the kinds whose option declares no final_lr (a hold, declared phases) are left out.
    """
    from bounded_lr_resolver.bounds import KINDS
    from bounded_lr_resolver.options import OPTIONS
    from bounded_lr_resolver.schedule import SHAPE_PARAMS

    kinds = {}
    for kind in KINDS:
        declared = OPTIONS[kind][2]
        if declared.get("final_lr", 1.0) is None:
            continue
        own = {key: value for key, value in declared.items() if key in SHAPE_PARAMS}
        fields = {**own, **FIGURE_FIELDS.get(kind, {})}
        shown = ", ".join(f"{key}={value}" for key, value in fields.items())
        kinds[f"{kind} ({shown})" if shown else kind] = {"kind": kind, **fields}
    return kinds


def shapes() -> None:
    """Every kind for one set of bounds: 0.1 -> 1e-3 over 1000 steps after 100 warmup steps."""
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.2), dpi=110)
    steps = np.arange(0, 1001)
    for label, fields in _every_kind().items():
        s = Schedule(0.1, 1e-3, 1000, warmup_steps=100, warmup_start_factor=0.1, **fields)  # type: ignore[arg-type]
        lrs = lr_curve(s, steps)
        for ax in axes:
            ax.plot(
                steps, lrs, label=label, linewidth=1.4, drawstyle="steps-post" if s.stepwise else "default"
            )
    for ax, scale in zip(axes, ("linear", "log"), strict=True):
        ax.set_yscale(scale)
        ax.axhline(1e-3, color="grey", linestyle="--", linewidth=0.8)
        ax.axvspan(0, 100, color="grey", alpha=0.1)
        ax.set_xlabel("scheduler step")
        ax.set_title(f"LR ({scale} scale); warmup shaded, final_lr dashed", fontsize=10)
    axes[0].legend(fontsize=8)
    figure.suptitle(
        "every kind: initial_lr=0.1, final_lr=1e-3, max_steps=1000, warmup_steps=100 (from 0.01); "
        "each equals final_lr exactly at step 1000",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(HERE / "shapes.png")


def compositions() -> None:
    """Every shipped option that is more than one decay, as shipped (from its schema, 10**6 steps)."""
    from omegaconf import OmegaConf

    from bounded_lr_resolver import register_resolvers
    from bounded_lr_resolver.bounds import STEP_KINDS
    from bounded_lr_resolver.options import OPTIONS
    from bounded_lr_resolver.schedule import SCHEDULE_FIELDS, SHAPE_PARAMS
    from bounded_lr_resolver.schema import schema_node
    from bounded_lr_resolver.shapes import SHAPES

    register_resolvers()
    # more than one decay: it declares more than a shape's parameters, or its shape restarts
    names = [
        name
        for name, (kind, _, declared) in OPTIONS.items()
        if kind not in STEP_KINDS
        and (not set(declared) <= set(SHAPE_PARAMS) or (kind in SHAPES and not SHAPES[kind].monotone))
    ]
    columns = 3
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(13, 2.9 * rows), dpi=100, sharex=True)
    steps = np.linspace(0, 10**6, 4001).round().astype(np.int64)
    for ax, name in zip(axes.flat, names, strict=False):
        fields = OmegaConf.to_container(schema_node(name), resolve=True)
        assert isinstance(fields, dict)
        s = Schedule(**{key: value for key, value in fields.items() if key in SCHEDULE_FIELDS})
        ax.plot(steps, lr_curve(s, steps), linewidth=1.4)
        for part in s.plan.parts[1:]:
            ax.axvline(part.begin, color="grey", linestyle=":", linewidth=0.7)
        ax.set_title(f"bounded_lr/{name}", fontsize=10)
        ax.set_ylim(-0.004, 0.104)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    figure.suptitle("the shipped compositions, as shipped (phase boundaries dotted)", fontsize=11)
    figure.tight_layout()
    figure.savefig(HERE / "compositions.png")


def resume() -> None:
    """A 12,000-step, 6-decay run checkpointed at step 5,000, resumed as 24,000 steps and 8 decays."""
    import torch

    from bounded_lr_resolver import build_scheduler
    from bounded_lr_resolver.resume_preview import resumed_view, write_resume_png

    def sgd() -> torch.optim.Optimizer:
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)

    old = {"initial_lr": 0.1, "final_lr": 1e-4, "kind": "multistep", "warmup_steps": 500}
    optimizer = sgd()
    first = build_scheduler(optimizer, max_steps=12_000, n_updates=6, **old)
    for _ in range(5_000):
        optimizer.step()
        first.step()
    optimizer = sgd()
    resumed = build_scheduler(optimizer, max_steps=24_000, n_updates=8, on_resume_change="replan", **old)
    resumed.load_state_dict(first.state_dict())
    title = (
        "12,000 steps / 6 decays, resumed at step 5,000 as 24,000 steps / 8 decays (on_resume_change=replan)"
    )
    write_resume_png(HERE / "resume.png", resumed_view(resumed, 0, 5_000), title)


if __name__ == "__main__":
    conventions()
    shapes()
    compositions()
    resume()
