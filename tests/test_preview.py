"""Previews of any length: memory and time that do not grow with max_steps, up to 2**53."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounded_lr_resolver.curve import MAX_DENSE, lr_curve
from bounded_lr_resolver.errors import BoundsError
from bounded_lr_resolver.preview import MAX_POINTS, preview
from bounded_lr_resolver.schedule import Schedule
from tests.test_main_job import BOUNDED_LR


def peak_rss_mb(args: list[str], cwd: Path) -> tuple[float, str]:
    """Run a command; return its peak resident memory (MB) and its output."""
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must be told
    assert process.returncode == 0, output
    return usage.ru_maxrss / 1024, output


@pytest.mark.slow
def test_preview_memory_does_not_grow_with_max_steps(tmp_path: Path) -> None:
    """10**6, 10**8 and 2**53 steps, side by side: the same memory (it took 8 GB at 10**8)."""
    runs = {}
    for max_steps in (10**6, 10**8, 2**53):
        args = [BOUNDED_LR, f"hydra.run.dir={tmp_path / str(max_steps)}", "scheduler=multistep"]
        args += [f"scheduler.max_steps={max_steps}", "scheduler.n_updates=1000"]
        runs[max_steps] = peak_rss_mb(args, tmp_path)
    small = runs[10**6][0]
    for max_steps, (rss, output) in runs.items():
        assert rss < small * 1.25 + 50, (max_steps, rss, small)
        assert "bounds       HOLD" in output
        assert f"decays: 1000/1000, final_lr from step {max_steps}: True" in output
        rows = (tmp_path / str(max_steps) / "schedule.csv").read_text().splitlines()
        assert rows[-1] == f"{max_steps},0.0001"


@pytest.mark.slow
def test_every_step_changing_is_sampled_and_says_so(tmp_path: Path) -> None:
    args = [BOUNDED_LR, f"hydra.run.dir={tmp_path}", "scheduler=exponential", "scheduler.max_steps=3000000"]
    _, output = peak_rss_mb([*args, "plot=false"], tmp_path)
    assert f"decays: 3000000 (not counted: checked at {MAX_POINTS + 2} sampled steps)" in output
    assert "bounds       HOLD" in output
    assert len((tmp_path / "schedule.csv").read_text().splitlines()) <= 20_001 + 8


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["step", "multistep", "exponential", "cosine", "linear", "polynomial", "wsd"]),
    count=st.integers(1, 40),
    extra=st.integers(0, 300),
    warmup=st.integers(0, 30),
    factor=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_exhaustive_preview_is_the_whole_schedule(
    kind: str, count: int, extra: int, warmup: int, factor: float
) -> None:
    """Between listed steps the LR is constant: the preview reproduces every step's LR."""
    steps = warmup + count * (1 + extra // count) if kind == "step" else warmup + count + extra
    s = Schedule(
        0.1,
        1e-4,
        steps,
        count if kind in ("step", "multistep") else None,
        kind=kind,
        warmup_steps=warmup,
        warmup_start_factor=factor,
        decay_steps=count if kind == "wsd" else None,
    )
    view = preview(s)
    assert view.exhaustive
    every = np.arange(s.max_steps + 1)
    held = view.lrs[np.searchsorted(view.steps, every, side="right") - 1]
    assert np.array_equal(held, lr_curve(s, every))


def test_curve_clips_steps_beyond_int64_instead_of_wrapping() -> None:
    s = Schedule(0.1, 1e-4, 10**6, 10**4)
    assert lr_curve(s, [0, 2**63, 2**70]).tolist() == [0.1, 1e-4, 1e-4]
    assert lr_curve(s, np.array([2**64 - 1, 5], dtype=np.uint64)).tolist() == [1e-4, 0.1]
    c = Schedule(0.1, 1e-4, 2**53, kind="cosine")
    assert lr_curve(c, [0, 2**53 - 1, 2**63, 2**70]).tolist() == [0.1, c.lr_at(2**53 - 1), 1e-4, 1e-4]


def test_preview_of_a_long_cosine_is_a_bounded_sample() -> None:
    """A shape changes the LR on every step: past MAX_POINTS steps the preview is an even sample."""
    s = Schedule(0.1, 1e-4, 10**8, kind="cosine", warmup_steps=10)
    view = preview(s)
    assert not view.exhaustive
    assert view.steps.size <= MAX_POINTS + 8
    assert view.at(10**8) == 1e-4
    assert view.at(10) == 0.1
    sample = view.steps[::1000]
    assert np.array_equal(view.lrs[::1000], lr_curve(s, sample))
    mid = sample[sample.size // 2]
    expected = 1e-4 + (0.1 - 1e-4) * (1 + np.cos(np.pi * (mid - 10) / (10**8 - 10))) / 2
    assert view.at(int(mid)) == pytest.approx(expected, rel=1e-12)
    assert np.all(np.diff(view.lrs[view.steps >= 10]) <= 0)


def test_curve_of_every_step_is_refused_where_it_cannot_fit() -> None:
    s = Schedule(0.1, 1e-4, 2**53, 7, kind="multistep")
    with pytest.raises(BoundsError) as caught:
        lr_curve(s)
    assert str(caught.value) == (
        f"lr_curve: steps must be given when max_steps >= {MAX_DENSE} (the default, every step "
        f"0..max_steps, would not fit), got max_steps={2**53}. Pass the steps you need, or use "
        "bounded_lr_resolver.preview.preview(schedule), which holds every change point or an even "
        "sample in bounded memory"
    )
    assert preview(s).at(2**53) == 1e-4
