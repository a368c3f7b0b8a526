"""Benchmarks of the phase core and the shipped options, side by side, as Markdown for BENCHMARKS.md.

``python bench/phases.py`` measures, in one run (ratios, not absolute times: these machines are noisy):

- 9. ``step()`` of a 3-phase schedule (warmup, hold, cosine cooldown) against torch's ``SequentialLR``
  of the same phases, and of every step kind against torch's own scheduler, with 1 and 10 param
  groups, float and fp32 tensor LRs (10 groups sharing one tensor, as ``SGD(groups, lr=tensor)`` makes,
  or one tensor each); and of the continuous kinds (bench/run.py's section 8 contenders) at 10 groups;
- 10. compose + resolve of every shipped ``bounded_lr`` option against the shipped ``step``, and a
  100-job ``SweepPreflight`` of ``multistep`` against ``step`` (Hydra's Compose API in this process);
- 12. ``${blr.milestones:...}`` of 10**3 and 10**4 items in an untyped key: the resolver's own call,
  ``OmegaConf.resolve``, ``to_container(resolve=True)`` and one access, against OmegaConf making a
  literal list node of as many ints.

``--stacks .venv,.venv14`` runs each section in each venv (each stack) and prints one table per section
with a stack column. ``--section 9`` (or ``10``) runs one section only. ``--quick`` runs fewer rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _median_us(loop: Callable[[], float], rounds: int) -> float:
    return statistics.median(loop() for _ in range(rounds)) * 1e6


# -- 9. step() ---------------------------------------------------------------------------------------


def _groups(count: int, tensor: str):  # type: ignore[no-untyped-def]
    import torch

    shared = torch.tensor(0.1) if tensor == "shared fp32 tensor" else None
    groups = []
    for index in range(count):
        lr: Any = 0.1
        if tensor == "shared fp32 tensor":
            lr = shared
        elif tensor == "fp32 tensor per group":
            lr = torch.tensor(0.1)
        groups.append(
            {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr, "weight_decay": 0.01 * index}
        )
    optimizer = torch.optim.SGD(groups, lr=0.1)
    optimizer.step()
    return optimizer


def _three_phases(optimizer):  # type: ignore[no-untyped-def]
    from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR, LinearLR, SequentialLR

    warm = LinearLR(optimizer, start_factor=0.01, end_factor=1.0, total_iters=1000)
    hold = ConstantLR(optimizer, factor=1.0, total_iters=0)
    cool = CosineAnnealingLR(optimizer, T_max=20_000, eta_min=0.0)
    return SequentialLR(optimizer, [warm, hold, cool], milestones=[1000, 80_000])


def _ours_three_phases(optimizer):  # type: ignore[no-untyped-def]
    from bounded_lr_resolver import build_scheduler

    phases = [{"shape": "constant", "steps": 79_000}, {"shape": "cosine", "steps": 20_000, "end_lr": 0.0}]
    return build_scheduler(
        optimizer,
        initial_lr=0.1,
        max_steps=100_000,
        warmup_steps=1000,
        warmup_start_factor=0.01,
        phases=phases,
    )


def _step_kind(kind: str) -> tuple[Callable, Callable]:  # type: ignore[type-arg]
    """Ours and torch's for a step kind over 10**6 steps: bench/run.py's §3 contenders."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import _contenders  # type: ignore[import-not-found]

    contenders: tuple[Callable, Callable] = _contenders(kind)  # type: ignore[type-arg]
    return contenders


def _continuous_kinds() -> list[tuple[str, Callable, Callable]]:  # type: ignore[type-arg]
    """Ours and torch's for each continuous kind over 10**6 steps: bench/run.py's section 8 contenders."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import STEPS, _shape_contenders  # type: ignore[import-not-found]

    from bounded_lr_resolver import build_scheduler

    contenders = []
    for kind, fields, name, theirs, _ in _shape_contenders():

        def ours(optimizer, fields=fields):  # type: ignore[no-untyped-def]
            return build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=STEPS, **fields)

        contenders.append((f"{kind} vs {name}", ours, theirs))
    return contenders


ALL_LRS = ((1, "float"), (1, "fp32 tensor per group"), (10, "float"), (10, "shared fp32 tensor"),
           (10, "fp32 tensor per group"))  # fmt: skip
TEN_GROUPS = ALL_LRS[2:]


def step_cost(rounds: int, chunk: int) -> dict[str, Any]:
    """Section 9 in this process's stack (JSON, for --stacks): ours against torch's, each pair
    alternating on fresh schedulers."""
    import warnings

    import hydra
    import omegaconf

    warnings.simplefilter("ignore")  # the loop steps schedulers alone: torch's order and our count warn
    contenders = [("3 phases vs SequentialLR", _ours_three_phases, _three_phases, ALL_LRS)]
    contenders += [(f"{kind} vs {name}", *_step_kind(kind), ALL_LRS) for kind, name in (
        ("step", "StepLR"), ("multistep", "MultiStepLR"), ("exponential", "ExponentialLR"))]  # fmt: skip
    contenders += [(label, ours, theirs, TEN_GROUPS) for label, ours, theirs in _continuous_kinds()]
    rows = []
    for label, ours, theirs, lrs in contenders:
        for count, lr in lrs:
            samples: dict[str, list[float]] = {"torch": [], "ours": []}
            for _ in range(rounds):
                for name, make in (("torch", theirs), ("ours", ours)):
                    scheduler = make(_groups(count, lr))
                    step = scheduler.step
                    start = time.perf_counter()
                    for _ in range(chunk):
                        step()
                    samples[name].append((time.perf_counter() - start) / chunk)
            t, o = (statistics.median(samples[name]) * 1e6 for name in ("torch", "ours"))
            rows.append([label, count, lr, t, o])
    stack = f"hydra-core {hydra.__version__}, omegaconf {omegaconf.__version__}"
    return {"stack": stack, "rounds": rounds, "chunk": chunk, "rows": rows}


def step_table(results: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| stack | schedule | groups | LR | torch µs/step | ours µs/step | ours / torch |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for label, count, lr, t, o in result["rows"]:
            rows.append(
                f"| {result['stack']} | {label} | {count} | {lr} | {t:.2f} | {o:.2f} | **{o / t:.2f}** |"
            )
    return rows


# -- 10. the shipped options -------------------------------------------------------------------------


def _compose_rounds(names: list[str], rounds: int) -> dict[str, float]:
    """Median ms of compose + to_container(resolve=True) of ``bounded_lr@scheduler: <name>``, alternating."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    work = Path(tempfile.mkdtemp())
    for name in names:
        (work / f"{name}.yaml").write_text(f"defaults:\n  - bounded_lr@scheduler: {name}\n  - _self_\n")
    samples: dict[str, list[float]] = {name: [] for name in names}
    with initialize_config_dir(config_dir=str(work), version_base=None):
        for _ in range(rounds):
            for name in names:
                start = time.perf_counter()
                OmegaConf.to_container(compose(config_name=name), resolve=True)
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e3 for name, values in samples.items()}


def _preflight_ms(option: str, jobs: int) -> float:
    """ms of SweepPreflight over ``jobs`` jobs of a final_lr sweep of ``bounded_lr@scheduler: option``."""
    from hydra import compose, initialize_config_dir

    from bounded_lr_resolver.preflight import _Composer

    work = Path(tempfile.mkdtemp())
    (work / "config.yaml").write_text(f"defaults:\n  - bounded_lr@scheduler: {option}\n  - _self_\n")
    with initialize_config_dir(config_dir=str(work), version_base=None):
        compose(config_name="config")  # warm
        composer = _Composer("config")
        start = time.perf_counter()
        for index in range(jobs):
            composer.check([f"scheduler.final_lr={1e-5 * (1 + index / jobs)!r}"])
        return (time.perf_counter() - start) * 1e3


def options_section(rounds: int) -> dict[str, Any]:
    """Section 10's numbers in this process's Hydra stack (JSON, for --stacks)."""
    import hydra
    import omegaconf

    from bounded_lr_resolver import register_resolvers
    from bounded_lr_resolver.options import OPTIONS

    register_resolvers()
    names = sorted(OPTIONS)
    compose_ms = _compose_rounds(names, rounds)
    preflight = {option: _preflight_ms(option, 100) for option in ("step", "multistep", "step", "multistep")}
    return {
        "stack": f"hydra-core {hydra.__version__}, omegaconf {omegaconf.__version__}",
        "compose_ms": compose_ms,
        "preflight_ms": preflight,
    }


def options_table(results: list[dict[str, Any]]) -> list[str]:
    rows = ["| stack | option | compose + resolve | vs `step` |", "|---|---|---|---|"]
    for result in results:
        step = result["compose_ms"]["step"]
        for name, ms in sorted(result["compose_ms"].items(), key=lambda item: item[1]):
            rows.append(f"| {result['stack']} | `{name}` | {ms:.1f} ms | **{ms / step:.2f}** |")
    rows += [
        "",
        "| stack | 100-job SweepPreflight of `step` | of `multistep` | multistep / step |",
        "|---|---|---|---|",
    ]
    for result in results:
        step, multi = result["preflight_ms"]["step"], result["preflight_ms"]["multistep"]
        rows.append(f"| {result['stack']} | {step:.0f} ms | {multi:.0f} ms | **{multi / step:.2f}** |")
    return rows


# -- 12. a long list-valued resolver -------------------------------------------------------------------


def _median_ms(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def milestones_section(rounds: int) -> dict[str, Any]:
    """Section 12's numbers in this process's OmegaConf (JSON, for --stacks)."""
    import hydra
    import omegaconf
    from omegaconf import OmegaConf

    from bounded_lr_resolver import register_resolvers
    from bounded_lr_resolver.resolvers import lr_milestones

    register_resolvers()
    rows = []
    for count in (10**3, 10**4):
        expression = f"${{blr.milestones:1000000,{count}}}"

        def fresh(expression: str = expression) -> Any:
            return OmegaConf.create({"milestones": expression})

        literal = list(range(1, count + 1))
        rows.append(
            {
                "count": count,
                "call": _median_ms(lambda count=count: lr_milestones(10**6, count), rounds),
                "resolve": _median_ms(lambda fresh=fresh: OmegaConf.resolve(fresh()), rounds),
                "to_container": _median_ms(
                    lambda fresh=fresh: OmegaConf.to_container(fresh(), resolve=True), rounds
                ),
                "access": _median_ms(lambda fresh=fresh: fresh().milestones, rounds),
                "literal": _median_ms(
                    lambda literal=literal: OmegaConf.create({"milestones": literal}), rounds
                ),
            }
        )
    stack = f"hydra-core {hydra.__version__}, omegaconf {omegaconf.__version__}"
    return {"stack": stack, "rows": rows}


def milestones_table(results: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| stack | milestones | the resolver's call | `OmegaConf.resolve` | `to_container(resolve=True)` | "
        "one access | OmegaConf making a literal list of as many ints |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for row in result["rows"]:
            cells = " | ".join(
                f"{row[key]:.1f} ms" for key in ("call", "resolve", "to_container", "access", "literal")
            )
            rows.append(f"| {result['stack']} | {row['count']:,} | {cells} |")
    return rows


def _per_stack(section: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One section's JSON from each venv of ``--stacks`` (or this one), run one after the other."""
    venvs = args.stacks.split(",") if args.stacks else [sys.prefix]
    results = []
    for venv in venvs:
        python = str(Path(venv) / "bin" / "python") if args.stacks else sys.executable
        command = [python, str(Path(__file__)), "--section", section, *(["--quick"] if args.quick else [])]
        command += [f"--{name}={value}" for name in ("rounds", "chunk") if (value := getattr(args, name))]
        output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, noisier)")
    parser.add_argument("--stacks", help="comma-separated venvs to run each section in (default: this one)")
    parser.add_argument(
        "--section", choices=["9", "10", "12", "9-json", "10-json", "12-json"], help="one section only"
    )
    parser.add_argument("--rounds", type=int, help="section 9's alternating rounds (default 21; 5 quick)")
    parser.add_argument("--chunk", type=int, help="section 9's steps per round (default 10,000; 2,000 quick)")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 21)
    chunk = args.chunk or (2_000 if args.quick else 10_000)
    if args.section == "10-json":
        print(json.dumps(options_section(max(3, rounds // 2))))
        return
    if args.section == "12-json":
        print(json.dumps(milestones_section(max(3, rounds // 2))))
        return
    if args.section == "9-json":
        print(json.dumps(step_cost(rounds, chunk)))
        return
    import torch

    lines = [
        f"Command: `{' '.join(['python', 'bench/phases.py', *sys.argv[1:]])}`. Date: {time.strftime('%Y-%m-%d')}. "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, torch "
        f"{torch.__version__}.",
        "",
    ]
    if args.section in (None, "9"):
        lines += ["## 9. step() of phases and of every kind, 1 and 10 param groups", ""]
        lines += [*step_table(_per_stack("9-json", args)), ""]
    if args.section in (None, "10"):
        lines += ["## 10. The shipped options: compose + resolve, and a 100-job preflight", ""]
        lines += [*options_table(_per_stack("10-json", args)), ""]
    if args.section in (None, "12"):
        lines += ["## 12. A long list-valued resolver: `${blr.milestones:...}` in an untyped key", ""]
        lines += [*milestones_table(_per_stack("12-json", args)), ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
