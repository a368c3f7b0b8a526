"""GPU benchmark: a ``torch.compile``d optimizer step with a tensor LR, driven by our scheduler.

Run on a CUDA machine: ``.venv/bin/python bench/gpu.py`` (about 2 minutes; prints Markdown for
BENCHMARKS.md). It needs only a CUDA build of torch and this checkout, so on a bare GPU machine
``PYTHONPATH=. python bench/gpu.py`` works without installing the package. ``--device cpu`` runs
the same loops on CPU as a smoke test of the script (smaller tensors; its numbers say nothing about
a GPU). Not a test: CI has no GPU and never runs it.

Three independent copies of the same parameters and Adam optimizer (tensor LR, as compiled
optimizers need), each with its own compiled ``optimizer.step()``:

- constant: no scheduler, the LR tensor never changes;
- ours: ``build_scheduler(kind="exponential")`` stepped eagerly after every compiled step (the LR
  changes on every step, the hardest case for recompilation);
- torch: ``ExponentialLR`` with the same gamma, for reference.

Each compiled function counts its compilations through a backend that wraps Inductor; after the
warm-up steps, any further compilation is a recompile (target: zero). Steps/s are medians of
alternating rounds (target: ours / constant >= 0.98).
"""

from __future__ import annotations

import argparse
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import torch

from bounded_lr_resolver import build_scheduler

INITIAL_LR, FINAL_LR = 0.1, 1e-4
WARMUP_STEPS = 20


def _counting_compile(step: Callable[[], None], counter: list[int]) -> Callable[[], None]:
    from torch._inductor.compile_fx import compile_fx

    def backend(graph: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> Any:
        counter[0] += 1
        return compile_fx(graph, inputs)

    return torch.compile(step, backend=backend)


class Loop:
    """One optimizer with a compiled step and, optionally, a scheduler stepped after it."""

    def __init__(self, name: str, device: str, size: int, tensors: int, total_steps: int) -> None:
        generator = torch.Generator(device="cpu").manual_seed(0)
        self.params = [
            torch.nn.Parameter(torch.randn(size, size, generator=generator).to(device))
            for _ in range(tensors)
        ]
        for param in self.params:
            param.grad = torch.randn(size, size, generator=generator).to(device) * 1e-3
        self.optimizer = torch.optim.Adam(self.params, lr=torch.tensor(INITIAL_LR))
        self.lr_tensor = self.optimizer.param_groups[0]["lr"]
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        if name == "ours":
            self.scheduler = build_scheduler(
                self.optimizer,
                initial_lr=INITIAL_LR,
                final_lr=FINAL_LR,
                max_steps=total_steps,
                kind="exponential",
            )
        elif name == "torch":
            gamma = (FINAL_LR / INITIAL_LR) ** (1 / total_steps)
            self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=gamma)
        self.compiles = [0]
        self.step = _counting_compile(self.optimizer.step, self.compiles)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()
            if self.scheduler is not None:
                self.scheduler.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=2000, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=int, default=420, help="seconds before the script gives up")
    args = parser.parse_args()
    signal.signal(
        signal.SIGALRM, lambda *_: sys.exit(f"bench/gpu.py: gave up after --timeout={args.timeout} s")
    )
    signal.alarm(args.timeout)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit(
            "bench/gpu.py: --device=cuda but torch.cuda.is_available() is False; use --device cpu for a smoke run"
        )
    cuda = args.device.startswith("cuda")
    size, tensors = (2048, 8) if cuda else (64, 4)
    total = WARMUP_STEPS + args.rounds * args.steps

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    loops = {name: Loop(name, args.device, size, tensors, total) for name in ("constant", "ours", "torch")}
    warmup_s = {}
    for name, loop in loops.items():
        start = time.perf_counter()
        loop.run(WARMUP_STEPS)
        sync()
        warmup_s[name] = time.perf_counter() - start
    after_warmup = {name: loop.compiles[0] for name, loop in loops.items()}
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, loop in loops.items():
            sync()
            start = time.perf_counter()
            loop.run(args.steps)
            sync()
            rates[name].append(args.steps / (time.perf_counter() - start))
    recompiles = {name: loop.compiles[0] - after_warmup[name] for name, loop in loops.items()}
    median = {name: statistics.median(values) for name, values in rates.items()}

    ours = loops["ours"]
    assert ours.scheduler is not None
    expected = ours.scheduler.lrs_at(total)[0]  # type: ignore[attr-defined]
    got = float(ours.lr_tensor)
    same_object = ours.optimizer.param_groups[0]["lr"] is ours.lr_tensor
    device_name = (
        torch.cuda.get_device_name() if cuda else f"CPU ({platform.processor() or platform.machine()})"
    )
    ratio = {
        name: "" if name == "constant" else f"**{median[name] / median['constant']:.3f}**" for name in loops
    }
    rows = [
        f"| {name} | {after_warmup[name]} | **{recompiles[name]}** | {median[name]:,.0f} | {ratio[name]} |"
        for name in loops
    ]
    print(
        "\n".join(
            [
                "## GPU: compiled optimizer step driven by our scheduler",
                "",
                f"Command: `.venv/bin/python bench/gpu.py --device {args.device}`. Date: {date.today()}. "
                f"Device: {device_name}; torch {torch.__version__}.",
                f"Adam over {tensors} fp32 tensors of {size}x{size} with a tensor LR, `torch.compile(optimizer.step)`; "
                f"{WARMUP_STEPS} warm-up steps, then {args.rounds} alternating rounds of {args.steps} steps, "
                f"median steps/s. Schedule: exponential {INITIAL_LR} -> {FINAL_LR} over {total} steps.",
                "Targets: zero recompiles after warm-up; ours / constant >= 0.98.",
                "",
                "| loop | compiles in warm-up | recompiles after | steps/s | / constant |",
                "|---|---|---|---|---|",
                *rows,
                "",
                f"Warm-up (compile) seconds: {', '.join(f'{k} {v:.1f}' for k, v in warmup_s.items())}.",
                f"Our LR tensor after {total} steps: {got!r} (closed form {expected!r}, relative error "
                f"{abs(got - expected) / expected:.1e}); still the optimizer's original tensor object: {same_object}.",
            ]
        )
    )


if __name__ == "__main__":
    main()
