"""Benchmarks of what users wait for, per Hydra stack, as Markdown for BENCHMARKS.md.

``python bench/job.py --stacks .venv,.venv14`` runs each section in each venv's interpreter and
prints one table per section with a stack column; each row's contenders run interleaved, round by
round, in one run (these machines are noisy: compare the ratios, not the times).

- 6. The main job's wall time: ``bounded-lr`` (the closed-form preview) against Hydra's minimal app
  and against a Hydra app whose config is the same scheduler node written as numbers; ``plot=true``;
  ``verify=true`` against a plain torch loop stepping the same scheduler; ``task=train``.
- 7. Previews of any length: the peak resident memory and wall time of ``bounded-lr
  scheduler=<option>`` for every shipped option at 10**6, 10**8 and ~2**53 steps.
- 11. A 10-job sweep of a user's app with ``bounded_lr@scheduler: multistep`` against the same app
  with a literal config.
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
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENV = {key: value for key, value in os.environ.items() if not key.startswith("HYDRA_")}
ENV["OMP_NUM_THREADS"] = "1"
NEAR_2_53 = 2**53 - 2**53 % 100  # 9007199254740900: the shipped fractions (0.01dur, 0.79dur) are whole
# version_base as the main job sets it (required before hydra-core 1.4, deprecated from 1.4)
_KWARGS = 'kwargs = {"version_base": "1.3"} if hydra.__version__ < "1.4" else {}'

MINIMAL = f"""
import hydra
{_KWARGS}
@hydra.main(config_path=None, config_name=None, **kwargs)
def main(cfg):
    print(cfg)
main()
"""

USER_APP = f"""
import hydra
from omegaconf import OmegaConf
{_KWARGS}
@hydra.main(config_path="conf", config_name="config", **kwargs)
def main(cfg):
    print(OmegaConf.to_yaml(cfg, resolve=True))
main()
"""

PLAIN_LOOP = """
import sys
import torch
from bounded_lr_resolver import build_scheduler
steps = int(sys.argv[1])
optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
scheduler = build_scheduler(optimizer, initial_lr=0.1, final_lr=1e-4, max_steps=steps, n_updates=steps // 100)
for _ in range(steps):
    optimizer.step()
    scheduler.step()
"""


def _run(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, which must succeed."""
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    process.stderr.close()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(err.strip().splitlines()[0] if err.strip() else f"exit {status}")
    return wall, usage.ru_maxrss / 1024


def _literal_app(work: Path, sweep: bool) -> Path:
    """A user's app whose scheduler node is the shipped one's values as numbers (no resolver, no group)."""
    from hydra import compose, initialize
    from omegaconf import OmegaConf

    option = "multistep" if sweep else "step"
    with initialize(version_base=None, config_path=None):
        node = OmegaConf.to_container(
            compose(overrides=[f"+bounded_lr@scheduler={option}"]).scheduler, resolve=True
        )
    app = work / ("literal-sweep" if sweep else "literal")
    (app / "conf").mkdir(parents=True)
    extra = (
        {} if sweep else {"optimizer": {"lr": 0.1, "tensor_lr": False, "group_lrs": None}, "verify": False}
    )
    (app / "conf" / "config.yaml").write_text(OmegaConf.to_yaml({"scheduler": node, **extra}))
    (app / "app.py").write_text(USER_APP)
    return app


def _ours_app(work: Path) -> Path:
    app = work / "ours-sweep"
    (app / "conf").mkdir(parents=True)
    (app / "conf" / "config.yaml").write_text("defaults:\n  - bounded_lr@scheduler: multistep\n  - _self_\n")
    (app / "app.py").write_text(USER_APP)
    return app


def job_section(rounds: int, verify_steps: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-job-"))
    exe = str(Path(sys.executable).with_name("bounded-lr"))
    literal = _literal_app(work, sweep=False)
    contenders = {
        "Hydra's minimal app (config_path=None)": ([sys.executable, "-c", MINIMAL], work),
        "a Hydra app with the same scheduler node as numbers": ([sys.executable, "app.py"], literal),
        "bounded-lr (the closed-form preview)": ([exe], work),
        "bounded-lr plot=true": ([exe, "plot=true"], work),
    }
    verify = {
        "a plain torch loop stepping the same scheduler": (
            [sys.executable, "-c", PLAIN_LOOP, str(verify_steps)],
            work,
        ),
        f"bounded-lr verify=true ({verify_steps} steps)": (
            [
                exe,
                "verify=true",
                f"scheduler.max_steps={verify_steps}",
                f"scheduler.n_updates={verify_steps // 100}",
            ],
            work,
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in {**contenders, **verify}}
    for command, cwd in contenders.values():  # warm-up: the first start reads every file cold
        _run([*command, f"hydra.run.dir={work}/warm"], cwd)
    for index in range(rounds):
        for name, (command, cwd) in contenders.items():
            times[name].append(_run([*command, f"hydra.run.dir={work}/r{index}"], cwd)[0])
    for index in range(max(2, rounds // 3)):
        for name, (command, cwd) in verify.items():
            times[name].append(_run([*command, f"hydra.run.dir={work}/v{index}"], cwd)[0])
    train = _run([exe, "task=train", f"hydra.run.dir={work}/train"], work)[0]
    shutil.rmtree(work, ignore_errors=True)
    return {"medians": {name: statistics.median(values) for name, values in times.items()}, "train": train}


def length_section() -> dict[str, Any]:
    from bounded_lr_resolver.options import OPTIONS

    work = Path(tempfile.mkdtemp(prefix="bench-length-"))
    exe = str(Path(sys.executable).with_name("bounded-lr"))
    rows: dict[str, list[str]] = {}
    for option in OPTIONS:
        cells = []
        for max_steps in (10**6, 10**8, NEAR_2_53):
            extra = ["scheduler.n_updates=100"] if option == "step" else []  # the step kind must divide
            command = [exe, f"scheduler={option}", f"scheduler.max_steps={max_steps}", *extra]
            try:
                wall, rss = _run([*command, f"hydra.run.dir={work}/{option}-{max_steps}"], work)
                cells.append(f"{rss:.0f} MB, {wall:.1f} s")
            except RuntimeError as error:
                cells.append("refused: " + str(error).split(" got ")[0].removeprefix("Error: ")[:90])
        rows[option] = cells
    shutil.rmtree(work, ignore_errors=True)
    return {"rows": rows}


def sweep_section(rounds: int, jobs: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    finals = ",".join(f"{10 ** -(3 + index / 3):.6g}" for index in range(jobs))
    apps = {
        "literal config": _literal_app(work, sweep=True),
        "bounded_lr@scheduler: multistep": _ours_app(work),
    }
    times: dict[str, list[float]] = {name: [] for name in apps}
    for index in range(rounds):
        for name, app in apps.items():
            command = [
                sys.executable,
                "app.py",
                "-m",
                f"scheduler.final_lr={finals}",
                f"hydra.sweep.dir={work}/s{index}-{app.name}",
            ]
            times[name].append(_run(command, app)[0])
    shutil.rmtree(work, ignore_errors=True)
    return {"medians": {name: statistics.median(values) for name, values in times.items()}, "jobs": jobs}


def _stack(python: str) -> str:
    code = (
        "import hydra, omegaconf; print(f'hydra-core {hydra.__version__}, omegaconf {omegaconf.__version__}')"
    )
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, noisier)")
    parser.add_argument("--stacks", help="comma-separated venvs to run in (default: this one)")
    parser.add_argument(
        "--json", choices=["6", "7", "11"], help=argparse.SUPPRESS
    )  # one section, in this venv
    args = parser.parse_args()
    rounds = 3 if args.quick else 9
    if args.json:
        sections = {
            "6": lambda: job_section(rounds, 20_000 if args.quick else 200_000),
            "7": length_section,
            "11": lambda: sweep_section(max(2, rounds // 3), 10),
        }
        print(json.dumps(sections[args.json]()))
        return
    venvs = args.stacks.split(",") if args.stacks else [sys.prefix]
    pythons = {venv: str(Path(venv) / "bin" / "python") for venv in venvs}
    stacks = {venv: _stack(python) for venv, python in pythons.items()}
    results: dict[str, dict[str, Any]] = {section: {} for section in ("6", "7", "11")}
    for section in results:
        for venv, python in pythons.items():
            command = [python, str(Path(__file__)), "--json", section, *(["--quick"] if args.quick else [])]
            output = subprocess.run(
                command, capture_output=True, text=True, check=True, cwd=ROOT, env=ENV
            ).stdout
            results[section][venv] = json.loads(output.strip().splitlines()[-1])
    print("\n".join(_report(results, stacks, rounds)))


def _report(results: dict[str, dict[str, Any]], stacks: dict[str, str], rounds: int) -> list[str]:
    lines = [
        f"Command: `python bench/job.py {' '.join(sys.argv[1:])}`. Date: {time.strftime('%Y-%m-%d')}. Machine: "
        f"{platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()}.",
        "",
        "## 6. The main job's wall time",
        "",
        f"Each command run {rounds} times, interleaved, after a warm-up; medians (verify: fewer rounds). The plain "
        "preview loads neither torch nor matplotlib. Targets: `bounded-lr` within 1.5x a bare Hydra app, "
        "`verify=true` within 1.5x a plain torch loop stepping the same scheduler.",
        "",
        "| stack | command | wall time | ratio |",
        "|---|---|---|---|",
    ]
    for venv, found in results["6"].items():
        medians = found["medians"]
        names = list(medians)
        minimal, literal, ours, plot, loop, verify = (medians[name] for name in names)
        ratios = [
            "1",
            "1",
            f"**{ours / minimal:.2f}x** the minimal app, **{ours / literal:.2f}x** the literal-config app",
            f"{plot / literal:.2f}x the literal-config app",
            "1",
            f"**{verify / loop:.2f}x** the plain loop",
        ]
        for name, ratio in zip(names, ratios, strict=True):
            lines.append(f"| {stacks[venv]} | {name} | {medians[name] * 1e3:.0f} ms | {ratio} |")
        lines.append(
            f"| {stacks[venv]} | bounded-lr task=train (2000 steps, the shipped task) | {found['train']:.1f} s | |"
        )
    options = next(iter(results["7"].values()))["rows"]
    lines += [
        "",
        "## 7. Previews of any length, every shipped option",
        "",
        "`bounded-lr scheduler=<option> scheduler.max_steps=M` (`step`: `n_updates=100`, which divides every M), one "
        "run each: the process's peak resident memory and wall time. Past 1.1*10**6 change points the preview is an "
        f"even sample of 1.1*10**6 steps, so memory is bounded. ~2**53 is {NEAR_2_53} (2**53 less its remainder "
        "mod 100, so the shipped fractions of the run are whole steps).",
        "",
        "| stack | option | 10**6 | 10**8 | ~2**53 |",
        "|---|---|---|---|---|",
    ]
    for venv, found in results["7"].items():
        for option in options:
            lines.append(f"| {stacks[venv]} | {option} | " + " | ".join(found["rows"][option]) + " |")
    lines += [
        "",
        "## 11. A sweep of a user's app: the shipped multistep against a literal config",
        "",
        "The same user app (`@hydra.main`, prints the resolved config) once with `defaults: [bounded_lr@scheduler: "
        "multistep]` and once with that node's values written as numbers; `-m scheduler.final_lr=<10 values>`, basic "
        "launcher, interleaved, medians. Target: within 1.3x.",
        "",
        "| stack | config | 10-job sweep | ratio |",
        "|---|---|---|---|",
    ]
    for venv, found in results["11"].items():
        literal, ours = found["medians"].values()
        lines.append(f"| {stacks[venv]} | literal config | {literal:.2f} s | 1 |")
        lines.append(
            f"| {stacks[venv]} | `bounded_lr@scheduler: multistep` | {ours:.2f} s | **{ours / literal:.2f}x** |"
        )
    return lines


if __name__ == "__main__":
    main()
