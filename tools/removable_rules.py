"""Find validation rules no test needs: replace each ``if ...: raise`` condition with ``False``.

One rule at a time, in a copy of the repository (the working tree is never touched), the condition of
an ``if`` whose body raises is replaced with ``False`` and the fast tests (mutmut's selection in
pyproject.toml, ``-m "not slow" -x``) run against the copy. A rule is *pinned* when some test fails,
*removable* when none does. Prints one row per rule and a summary; exits 1 if any rule is removable.

    .venv/bin/python tools/removable_rules.py [--jobs 2] [module ...]

Not part of CI (a few minutes on 2 cores); the result is recorded in TESTING.md.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
# The mutation run's modules, and the factory and the resolver registration whose rules the
# users meet first (build_scheduler's arguments, register_resolvers(on_conflict=)).
EXTRA = ["bounded_lr_resolver/factory.py", "bounded_lr_resolver/__init__.py"]
COPY = ["bounded_lr_resolver", "hydra_plugins", "conf", "tests", "README.md", "pyproject.toml"]


def rules(path: Path) -> list[tuple[int, int, int, int, str]]:
    """Each ``if`` whose body raises: the condition's span and its source text."""
    source = path.read_text()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and any(isinstance(s, ast.Raise) for s in node.body):
            test = node.test
            assert test.end_lineno is not None
            assert test.end_col_offset is not None
            text = ast.get_source_segment(source, test) or ""
            found.append((test.lineno, test.col_offset, test.end_lineno, test.end_col_offset, text))
    return sorted(found)


def without(source: str, span: tuple[int, int, int, int]) -> str:
    """``source`` with the expression at ``span`` replaced by ``False``."""
    lines = source.splitlines(keepends=True)
    start, col, end, end_col = span
    head = "".join(lines[: start - 1]) + lines[start - 1][:col]
    tail = lines[end - 1][end_col:] + "".join(lines[end:])
    return head + "False" + tail


def check(module: str, span: tuple[int, int, int, int], tests: list[str], args: list[str]) -> bool:
    """True when some fast test fails with the rule at ``span`` removed from ``module``."""
    with tempfile.TemporaryDirectory(prefix="rule-") as tmp:
        for name in COPY:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, Path(tmp) / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, Path(tmp) / name)
        target = Path(tmp) / module
        target.write_text(without(target.read_text(), span))
        env = {**os.environ, "PYTHONPATH": tmp, "BOUNDED_LR_MUTATION": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", *tests],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
        # 1: a test failed; 2: a test module failed to import; < 0: killed (a rule's absence let a test
        # build a list that does not fit). 3, 4 and 5 mean pytest itself could not run the tests.
        if run.returncode in (3, 4, 5):
            raise SystemExit(
                f"pytest could not run for {module}:{span[0]}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
            )
        return run.returncode != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("modules", nargs="*")
    options = parser.parse_args()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    modules = options.modules or [*config["only_mutate"], *EXTRA]
    tests = config["pytest_add_cli_args_test_selection"]
    args = config["pytest_add_cli_args"]
    work = [(m, r) for m in modules for r in rules(ROOT / m)]
    removable = 0
    print("| module | line | condition | result |\n|---|---|---|---|", flush=True)
    with ThreadPoolExecutor(options.jobs) as pool:
        results = pool.map(lambda job: check(job[0], job[1][:4], tests, args), work)
        for (module, rule), ok in zip(work, results, strict=True):
            condition = " ".join(rule[4].split())
            condition = condition if len(condition) <= 70 else condition[:67] + "..."
            result = "pinned" if ok else "**removable**"
            print(f"| {Path(module).name} | {rule[0]} | `{condition}` | {result} |", flush=True)
            removable += not ok
    print(f"\n{len(work)} rules, {len(work) - removable} pinned, {removable} removable")
    return 1 if removable else 0


if __name__ == "__main__":
    sys.exit(main())
