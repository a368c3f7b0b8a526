"""Benchmarks, side by side with PyTorch, in one run: ``.venv/bin/python bench/run.py``.

Every comparison alternates the two contenders and reports medians of repeated runs, because
these machines are noisy; the ratios are what to read. Prints a Markdown report (BENCHMARKS.md is
this output, committed) and exits 0 whatever the numbers: these are benchmarks, not tests.

1. plugin start-up tax: a trivial Hydra app with and without this package installed
2. compose + resolve: a config using our resolvers against the same config with literals
3. cost per scheduler.step(): ours against torch's StepLR / MultiStepLR / ExponentialLR
4. exactness: final-LR relative error after 10**6 steps, float and fp32 tensor LR
5. preview: the closed-form curve of 10**6 steps against stepping a torch scheduler
6 and 7 (the main job's wall time, previews of any length) are bench/job.py's, per Hydra stack.
8. the shapes: cost per step() of cosine, linear, polynomial and wsd against the nearest torch
   scheduler (and Hugging Face's cosine_with_min_lr lambda), and their fp32 error over 10**6 steps
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS = 10**6
GAMMA_ARGS = (0.1, 1e-4)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


# Subprocesses use compiled bytecode as installed packages do (this environment may disable it).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


# 1. plugin start-up tax ------------------------------------------------------------------------


def _deps_dir(work: Path) -> Path:
    """This venv's site-packages, as symlinks, minus this package (installed or editable)."""
    deps = work / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("bounded_lr_resolver", "_editable_impl_bounded_lr_resolver")):
            (deps / entry.name).symlink_to(entry)
    return deps


def _venv(path: Path, deps: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(path), "platbase": str(path)})["purelib"])
    (purelib / "_deps.pth").write_text(f"{deps}\n")
    return path / "bin" / "python"


def plugin_tax(rounds: int) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="bench-plugin-"))
    try:
        wheel_dir = work / "dist"
        build = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
        ]
        subprocess.run([*build, str(ROOT)], check=True, capture_output=True)
        deps = _deps_dir(work)
        without = _venv(work / "without", deps)
        with_ = _venv(work / "with", deps)
        [wheel] = wheel_dir.glob("*.whl")
        install = [str(with_), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)]
        subprocess.run(install, check=True, capture_output=True)
        app = work / "app"
        (app / "conf").mkdir(parents=True)
        (app / "conf" / "config.yaml").write_text("x: 1\n")
        import hydra

        kwargs = (
            ""
            if tuple(int(p) for p in hydra.__version__.split(".")[:2]) >= (1, 4)
            else ', version_base="1.3"'
        )
        (app / "app.py").write_text(
            "import sys, hydra\n"
            "from omegaconf.basecontainer import BaseContainer\n"
            f"@hydra.main(config_path='conf', config_name='config'{kwargs})\n"
            "def main(cfg):\n"
            "    print(sorted(m for m in ('torch', 'numpy') if m in sys.modules), 'lr_gamma' in BaseContainer._resolvers)\n"
            "main()\n"
        )
        args = ["app.py", "hydra.run.dir=out", "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]
        probe_code = (
            "import json, sys, time\n"
            "start = time.perf_counter()\n"
            "import hydra\n"
            "from hydra import compose, initialize_config_dir\n"
            "from hydra.core.plugins import Plugins\n"
            "imported = time.perf_counter()\n"
            "Plugins.instance()\n"
            "scanned = time.perf_counter()\n"
            f"with initialize_config_dir(config_dir='{app / 'conf'}', version_base=None):\n"
            "    compose('config')\n"
            "composed = time.perf_counter()\n"
            "print(json.dumps({'scan': scanned - imported, 'compose': composed - scanned,\n"
            "                  'heavy': sorted(m for m in ('torch', 'numpy') if m in sys.modules)}))\n"
        )

        def probe(python: Path) -> dict[str, object]:
            done = subprocess.run(
                [str(python), "-c", probe_code], cwd=app, env=ENV, check=True, capture_output=True, text=True
            )
            result: dict[str, object] = json.loads(done.stdout)
            return result

        for python in (with_, without):  # warm-up: bytecode written, OS caches filled
            subprocess.run([str(python), *args], cwd=app, env=ENV, check=True, capture_output=True)
            probe(python)
        walls: dict[str, list[float]] = {"without": [], "with": []}
        probes: dict[str, list[dict[str, object]]] = {"without": [], "with": []}
        for _ in range(rounds):
            for name, python in (("without", without), ("with", with_)):
                walls[name].append(timed([str(python), *args], app))
                probes[name].append(probe(python))

        def ms(name: str, key: str) -> float:
            return statistics.median(float(p[key]) for p in probes[name]) * 1e3  # type: ignore[arg-type]

        scan_added = ms("with", "scan") - ms("without", "scan")
        compose_added = ms("with", "compose") - ms("without", "compose")
        wall = {name: (median_ms(values), min(values) * 1e3) for name, values in walls.items()}
        return [
            "## 1. Plugin start-up tax",
            "",
            f"{rounds} alternating runs in two venvs with the same interpreter and dependencies (compiled bytecode,",
            "after a warm-up); only this package's wheel differs. In-process timers isolate Hydra's plugin scan",
            "(which imports our plugin module) and the first compose (which lists our search path). Whole-process",
            "wall times of a trivial app are shown too; they vary by tens of ms run to run on this machine.",
            "Target: <= 10 ms added, torch not imported by the scan.",
            "",
            "| | without | with | added |",
            "|---|---|---|---|",
            f"| plugin scan, median | {ms('without', 'scan'):.1f} ms | {ms('with', 'scan'):.1f} ms | **{scan_added:+.1f} ms** |",
            f"| first compose, median | {ms('without', 'compose'):.1f} ms | {ms('with', 'compose'):.1f} ms | "
            f"**{compose_added:+.1f} ms** |",
            f"| trivial app wall time, median (min) | {wall['without'][0]:.0f} ({wall['without'][1]:.0f}) ms | "
            f"{wall['with'][0]:.0f} ({wall['with'][1]:.0f}) ms | {wall['with'][0] - wall['without'][0]:+.0f} "
            f"({wall['with'][1] - wall['without'][1]:+.0f}) ms |",
            f"| heavy modules after the scan | {probes['without'][0]['heavy']} | {probes['with'][0]['heavy']} | |",
            "",
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


# 2. compose + resolve ---------------------------------------------------------------------------


def compose_resolve(rounds: int) -> list[str]:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from bounded_lr_resolver.resolvers import _bind

    # A resolver that does nothing, under the same interpolation text: what OmegaConf's grammar
    # costs for any resolver call, as opposed to what our functions cost.
    _bind("lr_noop", lambda *args: 0.5)
    work = Path(tempfile.mkdtemp(prefix="bench-compose-"))
    variants = {
        "literal": {"gamma": "0.9993094630025899", "step_size": "100"},
        "noop": {
            "gamma": "${lr_noop:${.initial_lr},${.final_lr},${.n_updates}}",
            "step_size": "${lr_noop:${.max_steps},${.n_updates}}",
        },
        "ours": {
            "gamma": "${lr_gamma:${.initial_lr},${.final_lr},${.n_updates}}",
            "step_size": "${lr_step:${.max_steps},${.n_updates}}",
        },
    }
    base = "  initial_lr: 0.1\n  final_lr: 1e-4\n  max_steps: 1000000\n  n_updates: 10000\n"
    for name, values in variants.items():
        derived = "".join(f"  {key}: '{value}'\n" for key, value in values.items())
        (work / f"{name}.yaml").write_text("sched:\n" + base + derived)
    times: dict[str, list[float]] = {name: [] for name in variants}
    with initialize_config_dir(config_dir=str(work), version_base=None):
        for _ in range(rounds):
            for name in variants:
                start = time.perf_counter()
                OmegaConf.to_container(compose(config_name=name), resolve=True)
                times[name].append(time.perf_counter() - start)
        parses, resolved = _count_parses(
            lambda: OmegaConf.to_container(compose(config_name="ours"), resolve=True)
        )
        literal_parses, _ = _count_parses(
            lambda: OmegaConf.to_container(compose(config_name="literal"), resolve=True)
        )
        extra_parses = parses - literal_parses
    shutil.rmtree(work, ignore_errors=True)
    literal, noop, ours = (median_ms(times[name]) for name in variants)
    own = _own_share(rounds)
    gamma, step = resolved["sched"]["gamma"], resolved["sched"]["step_size"]
    return [
        "## 2. Compose and resolve",
        "",
        f"Hydra's Compose API, {rounds} alternating rounds of compose + `to_container(resolve=True)`: a config",
        "deriving gamma and step_size with our resolvers, the same interpolations calling a resolver that does",
        "nothing, and the values written in. Target: <= 1 ms added per config.",
        "",
        "| config | median compose + resolve | vs literal |",
        "|---|---|---|",
        f"| literal values | {literal:.3f} ms | |",
        f"| same interpolations, no-op resolver | {noop:.3f} ms | {noop - literal:+.3f} ms |",
        f"| `${{lr_gamma:...}}`, `${{lr_step:...}}` | {ours:.3f} ms | **{ours - literal:+.3f} ms** |",
        "",
        f"Our functions' own share, timed directly: {own:.4f} ms per config for `lr_gamma` + `lr_step`",
        f"(resolved gamma={gamma!r}, step_size={step!r}); the rest is OmegaConf's interpolation grammar.",
        "",
        *grammar_parses(rounds, extra_parses),
    ]


def _own_share(rounds: int) -> float:
    """Median ms of the two resolver calls section 2's config makes, with OmegaConf's argument types."""
    from bounded_lr_resolver.resolvers import lr_gamma, lr_step

    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        lr_gamma(0.1, 1e-4, 10000)
        lr_step(1000000, 10000)
        samples.append(time.perf_counter() - start)
    return median_ms(samples)


def _count_parses(action: Callable[[], Any]) -> tuple[int, Any]:
    """How many times OmegaConf's grammar parser runs during ``action`` (wraps its two call sites), and its result."""
    import omegaconf._utils
    import omegaconf.base
    import omegaconf.grammar_parser

    calls = 0
    original = omegaconf.grammar_parser.parse

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    sites = (omegaconf._utils, omegaconf.base)  # the modules that call parse()
    for module in sites:
        vars(module)["parse"] = counting
    try:
        result = action()
    finally:
        for module in sites:
            vars(module)["parse"] = original
    return calls, result


def grammar_parses(rounds: int, extra_parses: int) -> list[str]:
    """Where section 2's time goes: OmegaConf's grammar parses, counted and each one timed."""
    from omegaconf.grammar_parser import parse

    texts = [
        "${lr_gamma:${.initial_lr},${.final_lr},${.n_updates}}",
        "${lr_step:${.max_steps},${.n_updates}}",
        "${lr_gamma:0.1,1e-4,10000}",
        "${oc.env:HOME}",
        "${lr_gamma:}",
    ]
    times: dict[str, list[float]] = {text: [] for text in texts}
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            parse(text)
            times[text].append(time.perf_counter() - start)
    return [
        f"Where it goes: composing and resolving our config runs OmegaConf's grammar parser {extra_parses} more times",
        "than the literal config (OmegaConf parses an interpolation when its node is created, to validate",
        f"it, and again to resolve it). One parse of each text, median of {rounds}:",
        "",
        "| interpolation text | one grammar parse |",
        "|---|---|",
        *(f"| `{text}` | {median_ms(times[text]):.3f} ms |" for text in texts),
        "",
    ]


# 3-5. per-step cost, exactness, preview ---------------------------------------------------------


def _optimizer(tensor: bool):  # type: ignore[no-untyped-def]
    import torch

    lr = torch.tensor(0.1) if tensor else 0.1
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    optimizer.step()  # once, so torch's call-order check is satisfied
    return optimizer


def _contenders(kind: str) -> tuple[Callable, Callable]:  # type: ignore[type-arg]
    from torch.optim.lr_scheduler import ExponentialLR, MultiStepLR, StepLR

    from bounded_lr_resolver import build_scheduler
    from bounded_lr_resolver.bounds import gamma, milestones

    n_updates = STEPS if kind == "exponential" else 10**4
    g = gamma(*GAMMA_ARGS, n_updates)

    def ours(optimizer):  # type: ignore[no-untyped-def]
        return build_scheduler(
            optimizer,
            initial_lr=0.1,
            final_lr=1e-4,
            max_steps=STEPS,
            kind=kind,
            n_updates=None if kind == "exponential" else n_updates,
        )

    def theirs(optimizer):  # type: ignore[no-untyped-def]
        if kind == "step":
            return StepLR(optimizer, 100, g)
        if kind == "multistep":
            return MultiStepLR(optimizer, milestones(STEPS, n_updates), g)
        return ExponentialLR(optimizer, g)

    return ours, theirs


def _step_loop(scheduler, steps: int) -> float:  # type: ignore[no-untyped-def]
    step = scheduler.step
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def step_cost_and_exactness(rounds: int, chunk: int) -> tuple[list[str], list[str], dict[str, float]]:
    cost_rows, exact_rows, stepped = [], [], {}
    for kind in ("step", "multistep", "exponential"):
        ours, theirs = _contenders(kind)
        for tensor in (False, True):
            label = "fp32 tensor" if tensor else "float"
            # exactness and one full-length timing: 10**6 steps each
            errors, full = {}, {}
            for name, make in (("torch", theirs), ("ours", ours)):
                optimizer = _optimizer(tensor)
                seconds = _step_loop(make(optimizer), STEPS)
                full[name] = seconds
                errors[name] = abs(float(optimizer.param_groups[0]["lr"]) - 1e-4) / 1e-4
            if kind == "exponential" and not tensor:
                stepped["torch_exponential_float_s"] = full["torch"]
            # per-step cost: alternating chunks on fresh schedulers, medians
            samples: dict[str, list[float]] = {"torch": [], "ours": []}
            for _ in range(rounds):
                for name, make in (("torch", theirs), ("ours", ours)):
                    samples[name].append(_step_loop(make(_optimizer(tensor)), chunk) / chunk)
            t_us, o_us = (statistics.median(samples[n]) * 1e6 for n in ("torch", "ours"))
            cost_rows.append(f"| {kind} | {label} | {t_us:.2f} | {o_us:.2f} | **{o_us / t_us:.2f}** |")
            exact_rows.append(f"| {kind} | {label} | {errors['torch']:.2g} | {errors['ours']:.2g} |")
    return cost_rows, exact_rows, stepped


def preview(rounds: int, torch_stepping_s: float) -> list[str]:
    import numpy as np
    from torch.optim.lr_scheduler import ExponentialLR

    from bounded_lr_resolver.bounds import gamma
    from bounded_lr_resolver.curve import lr_curve
    from bounded_lr_resolver.schedule import Schedule

    lines = []
    for kind, n_updates in (("step", 10**4), ("exponential", None)):
        schedule = Schedule(0.1, 1e-4, STEPS, n_updates, kind=kind)  # type: ignore[arg-type]
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            curve = lr_curve(schedule)
            samples.append(time.perf_counter() - start)
        ms = median_ms(samples)
        lines.append((kind, ms, curve))
    # torch's curve: step ExponentialLR 10**6 times, recording the LR
    optimizer = _optimizer(False)
    scheduler = ExponentialLR(optimizer, gamma(*GAMMA_ARGS, STEPS))
    group = optimizer.param_groups[0]
    start = time.perf_counter()
    torch_curve = np.empty(STEPS + 1)
    torch_curve[0] = group["lr"]
    for index in range(1, STEPS + 1):
        scheduler.step()
        torch_curve[index] = group["lr"]
    torch_s = time.perf_counter() - start
    exp_curve = lines[1][2]
    worst = float(np.max(np.abs(exp_curve / torch_curve - 1)))
    ours_opt = _optimizer(False)
    from bounded_lr_resolver import build_scheduler

    ours_sched = build_scheduler(ours_opt, initial_lr=0.1, final_lr=1e-4, max_steps=STEPS, kind="exponential")
    ours_curve = np.empty(STEPS + 1)
    ours_curve[0] = ours_opt.param_groups[0]["lr"]
    for index in range(1, STEPS + 1):
        ours_sched.step()
        ours_curve[index] = ours_opt.param_groups[0]["lr"]
    identical = bool(np.array_equal(ours_curve, exp_curve))
    return [
        "## 5. Preview: the LR curve without stepping",
        "",
        f"`lr_curve(schedule)` for all {STEPS + 1} steps (median of {rounds}), against stepping torch's",
        f"ExponentialLR {STEPS} times and recording each LR (one run; {torch_stepping_s:.2f} s without recording).",
        "Target: >= 50x faster, identical values.",
        "",
        "| curve | time | speed-up vs stepping torch |",
        "|---|---|---|",
        f"| torch ExponentialLR, stepped | {torch_s * 1e3:.0f} ms | 1x |",
        *(
            f"| ours, closed form, kind={kind} | {ms:.1f} ms | **{torch_s * 1e3 / ms:.0f}x** |"
            for kind, ms, _ in lines
        ),
        "",
        f"Values: the closed form equals our scheduler stepped 10**6 times bit for bit: **{identical}**; "
        f"against torch's chained float64 products the largest relative difference is {worst:.2g}.",
        "",
    ]


# 8. the shapes --------------------------------------------------------------------------------


def _hf_cosine_with_min_lr(step: int) -> float:
    """transformers' ``_get_cosine_schedule_with_warmup_lr_lambda`` with ``min_lr_rate`` (no warmup,
    num_cycles=0.5), as ``get_scheduler("cosine_with_min_lr", ...)`` builds it (transformers PR #29341)."""
    import math

    progress = step / STEPS
    factor = 0.5 * (1.0 + math.cos(math.pi * 2.0 * 0.5 * progress))
    return max(0.0, factor * (1 - 1e-3) + 1e-3)


def _wsd_lambda(step: int) -> float:
    """A warmup-stable-decay lambda as users write it for LambdaLR: hold, then cosine to 1e-3."""
    import math

    start = STEPS - STEPS // 10
    if step <= start:
        return 1.0
    x = min(1.0, (step - start) / (STEPS // 10))
    return 1e-3 + (1 - 1e-3) * (1 + math.cos(math.pi * x)) / 2


def _shape_contenders() -> list[tuple[str, dict[str, Any], str, Callable, Callable]]:  # type: ignore[type-arg]
    """(kind, our fields, torch's name, torch's scheduler factory, torch's float64 formula)."""
    import math

    from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LinearLR, PolynomialLR

    return [
        (
            "cosine",
            {"kind": "cosine"},
            "CosineAnnealingLR",
            lambda o: CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-4),
            lambda t: 1e-4 + (0.1 - 1e-4) * (1 + math.cos(math.pi * t / STEPS)) / 2,
        ),
        (
            "cosine",
            {"kind": "cosine"},
            "HF cosine_with_min_lr (LambdaLR)",
            lambda o: LambdaLR(o, _hf_cosine_with_min_lr),
            lambda t: 0.1 * _hf_cosine_with_min_lr(t),
        ),
        (
            "linear",
            {"kind": "linear"},
            "LinearLR",
            lambda o: LinearLR(o, start_factor=1.0, end_factor=1e-3, total_iters=STEPS),
            lambda t: 0.1 * (1.0 + (1e-3 - 1.0) * min(t, STEPS) / STEPS),
        ),
        (
            "polynomial",
            {"kind": "polynomial", "power": 2.0},
            "PolynomialLR (to 0)",
            lambda o: PolynomialLR(o, total_iters=STEPS, power=2.0),
            lambda t: 0.1 * (1 - min(t, STEPS) / STEPS) ** 2,
        ),
        (
            "wsd",
            {"kind": "wsd", "decay_steps": STEPS // 10, "decay_shape": "cosine"},
            "LambdaLR (a WSD lambda)",
            lambda o: LambdaLR(o, _wsd_lambda),
            lambda t: 0.1 * _wsd_lambda(t),
        ),
    ]


def _worst_error(make: Callable, exact: Callable, tensor: bool, every: int = 997) -> float:  # type: ignore[type-arg]
    """Max relative difference from the float64 formula over 10**6 steps (every ``every``-th and the last)."""
    optimizer = _optimizer(tensor)
    scheduler = make(optimizer)
    group = optimizer.param_groups[0]
    step, worst = scheduler.step, 0.0
    for t in range(1, STEPS + 1):
        step()
        if t % every == 0 or t >= STEPS - 2:
            want = exact(t)
            if want > 0:
                worst = max(worst, abs(float(group["lr"]) - want) / want)
    return worst


def shapes(rounds: int, chunk: int) -> list[str]:
    from bounded_lr_resolver import build_scheduler, lr_curve

    cost_rows, error_rows = [], []
    for kind, fields, name, theirs, their_exact in _shape_contenders():

        def ours(optimizer, fields=fields):  # type: ignore[no-untyped-def]
            return build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=STEPS, **fields)

        curve = lr_curve(ours(_optimizer(False)).schedules[0])
        for tensor in (False, True):
            label = "fp32 tensor" if tensor else "float"
            samples: dict[str, list[float]] = {"torch": [], "ours": []}
            for _ in range(rounds):
                for who, make in (("torch", theirs), ("ours", ours)):
                    samples[who].append(_step_loop(make(_optimizer(tensor)), chunk) / chunk)
            t_us, o_us = (statistics.median(samples[n]) * 1e6 for n in ("torch", "ours"))
            cost_rows.append(
                f"| {kind} | {name} | {label} | {t_us:.2f} | {o_us:.2f} | **{o_us / t_us:.2f}** |"
            )
            their_error = _worst_error(theirs, their_exact, tensor)
            our_error = _worst_error(ours, lambda t, curve=curve: float(curve[t]), tensor)
            error_rows.append(f"| {kind} | {name} | {label} | {their_error:.2g} | {our_error:.2g} |")
    return [
        "## 8. The shapes: cost per `scheduler.step()` and exactness over 10**6 steps",
        "",
        f"0.1 -> 1e-4 over 10**6 steps, no warmup; wsd holds, then decays (cosine) over the last 10%. "
        f"Cost: {rounds} alternating runs of {chunk:,} steps, median µs per step. The nearest torch "
        "scheduler: CosineAnnealingLR (T_max=max_steps, eta_min=final_lr) and Hugging Face's "
        "`cosine_with_min_lr` lambda through LambdaLR for cosine, LinearLR (1 -> final/initial) for "
        "linear, PolynomialLR (which decays to 0, not to final_lr) for polynomial, and a WSD lambda "
        "through LambdaLR for wsd.",
        "",
        "| kind | torch contender | LR | torch µs | ours µs | ours / torch |",
        "|---|---|---|---|---|---|",
        *cost_rows,
        "",
        "Exactness: the largest relative difference from each one's own float64 formula, at every "
        "997th step and the last three of 10**6 (torch's formulas from its docs; ours from `lr_curve`). "
        "Target: ours <= 2e-7 with an fp32 tensor LR (one fp32 rounding), ~1e-16 with a float LR.",
        "",
        "| kind | torch contender | LR | torch (its formula) | ours (closed form) |",
        "|---|---|---|---|---|",
        *error_rows,
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, noisier)")
    parser.add_argument("--only", choices=["shapes"], help="run one section (a check; commit full runs only)")
    args = parser.parse_args()
    rounds = 3 if args.quick else 11
    # the optimizer stepped once before each scheduler is built (see _optimizer); torch cannot tell
    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
    # the step loops time scheduler.step() alone, without optimizer steps, on purpose
    warnings.filterwarnings("ignore", message=r"BoundedLR.step: scheduler.step\(\) was called")
    if args.only == "shapes":
        print("\n".join(shapes(rounds, 100_000)))
        return
    import hydra
    import omegaconf
    import torch

    head = [
        "# Benchmarks",
        "",
        f"Command: `.venv/bin/python bench/run.py`. Date: {date.today()}. Machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}; Python {platform.python_version()}, torch {torch.__version__}, "
        f"hydra-core {hydra.__version__}, omegaconf {omegaconf.__version__}.",
        "",
    ]
    sections = [*head, *plugin_tax(rounds * 2), *compose_resolve(rounds * 20)]
    cost_rows, exact_rows, stepped = step_cost_and_exactness(rounds, 100_000)
    sections += [
        "## 3. Cost per `scheduler.step()`",
        "",
        f"Same SGD optimizer, {rounds} alternating runs of 100,000 steps each, median µs per step.",
        "Target: ratio ours/torch <= 1.0 for every kind and LR type.",
        "",
        "| kind | LR | torch µs | ours µs | ours / torch |",
        "|---|---|---|---|---|",
        *cost_rows,
        "",
        "## 4. Exactness after 10**6 steps (0.1 -> 1e-4)",
        "",
        "Relative error of the final LR. Target: ours <= 2e-7 with an fp32 tensor LR (one fp32 rounding),",
        "<= 1e-15 with a float LR.",
        "",
        "| kind | LR | torch (chained) | ours (closed form) |",
        "|---|---|---|---|",
        *exact_rows,
        "",
        *preview(rounds, stepped["torch_exponential_float_s"]),
        *shapes(rounds, 100_000),
    ]
    print("\n".join(sections))


if __name__ == "__main__":
    main()
