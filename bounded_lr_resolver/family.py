"""The sweep report's picture of cooldown branches: the shared stable run once, each branch from its step.

A sweep of cooldown branches (:mod:`bounded_lr_resolver.branch`) is one family: every branch
follows the same stable run up to the step it branched from, then its own cooldown. Drawing each
job's whole curve would draw the stable run once per branch; here it is drawn once, in grey, up
to the last branch point, and each branch from its own point (marked), labelled with its final
loss and the two numbers that predict it, S1 and S2 (:mod:`bounded_lr_resolver.areas`). A second
panel plots each branch's final loss against its S2 (Tissue et al.: more annealing area, lower
loss at the same S1). Jobs of the sweep that are not branches are drawn whole.

Needs numpy and matplotlib (the ``[plot]`` extra), like the sweep report's other picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bounded_lr_resolver.phases import Plan
from bounded_lr_resolver.preview import preview
from bounded_lr_resolver.report import csv_steps, pyplot, save_figure

__all__ = ["write_family_png"]


def _curve(plan: Plan, begin: int, end: int) -> tuple[Any, Any]:
    """The plan's LR from ``begin`` to ``end`` at its change points (a sample past 5,000 of them)."""
    view = preview(plan, max_points=20_000)
    steps = csv_steps(view, max_rows=5_000)
    steps = steps[(steps >= begin) & (steps <= end)]
    steps = np.unique(np.concatenate([[begin, end], steps])).astype(np.int64)
    return steps, view.lrs_at(steps)


def write_family_png(
    path: Path, branches: list[dict[str, Any]], others: list[dict[str, Any]], title: str
) -> None:
    """Plot ``branches`` (each ``job``, ``label``, ``plan``, ``branch_at``, ``steps``, ``S1``, ``S2``,
    ``final_loss``) over their shared stable run, and ``others`` (``label``, ``plan``, ``steps``) whole."""
    plt = pyplot()
    losses = [job for job in branches if job["final_loss"] is not None]
    panels = 2 if losses else 1
    figure, all_axes = plt.subplots(1, panels, figsize=(9 + 5 * (panels - 1), 5), dpi=110, squeeze=False)
    axes = all_axes[0][0]
    root = max(branches, key=lambda job: job["branch_at"])
    steps, lrs = _curve(root["plan"], 0, root["branch_at"])
    axes.step(steps, lrs, where="post", color="grey", linewidth=2.4, label="stable run (shared)")
    for job in branches:
        steps, lrs = _curve(job["plan"], job["branch_at"], job["steps"])
        label = job["label"] if len(job["label"]) <= 60 else job["label"][:57] + "..."
        text = f"{job['job']}: {label}: from {job['branch_at']}, S1={job['S1']:.4g}, S2={job['S2']:.4g}"
        if job["final_loss"] is not None:
            text += f", loss={job['final_loss']:.4g}"
        line = axes.step(steps, lrs, where="post", linewidth=1.6, label=text)[0]
        axes.plot([job["branch_at"]], [lrs[0]], "o", color=line.get_color(), markersize=4)
    for job in others:
        steps, lrs = _curve(job["plan"], 0, job["steps"])
        axes.step(steps, lrs, where="post", linewidth=1.2, linestyle="--", label=job["label"])
    axes.set_xlabel("scheduler step (= training step using that LR)")
    axes.set_ylabel("learning rate")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=7, loc="upper right", framealpha=0.85)
    if losses:
        loss_axes = all_axes[0][1]
        for job in losses:
            loss_axes.plot([job["S2"]], [job["final_loss"]], "o")
            loss_axes.annotate(f" {job['job']}", (job["S2"], job["final_loss"]), fontsize=8)
        loss_axes.set_xlabel("S2, the annealing area (Tissue et al. 2024)")
        loss_axes.set_ylabel("final loss")
        loss_axes.grid(True, alpha=0.3)
    figure.subplots_adjust(left=0.09 / panels, right=0.98, top=0.93, bottom=0.11, wspace=0.25)
    save_figure(path, figure)
