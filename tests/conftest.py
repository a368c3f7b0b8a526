"""Shared test fixtures: a clean resolver registry, and real Hydra apps run as subprocesses."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Generator, Iterator
from pathlib import Path

import hydra
import pytest
from hydra.core.utils import setup_globals
from hypothesis import settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from packaging.version import Version

HYDRA_14 = Version(hydra.__version__).release[:2] >= (1, 4)

# tools/mutation.sh sets this: every mutant runs the fast tests, with the same fixed examples each
# time (derandomized, no example database) and the large properties cut to a few hundred examples.
MUTATION = os.environ.get("BOUNDED_LR_MUTATION") == "1"
settings.register_profile("mutation", max_examples=100, derandomize=True, deadline=None, database=None)
if MUTATION:
    settings.load_profile("mutation")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In a mutation run, run the fastest tests first, so ``-x`` stops a killed mutant early.

    mutmut hands each mutant's tests over as a set (in no order); for the functions every test
    reaches (``check_count``, ``Schedule.__post_init__``) the first failing test then came late.
    The durations are mutmut's own (``mutmut-stats.json`` in its working directory).
    """
    stats = Path("mutmut-stats.json")
    if not MUTATION or not stats.is_file():
        return
    duration = json.loads(stats.read_text())["duration_by_test"]
    items.sort(key=lambda item: duration.get(item.nodeid, float("inf")))


_RUNNING: list[pytest.Item] = []
"""The test being run (its setup, call and teardown), for :func:`run`'s check."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    _RUNNING.append(item)
    try:
        return (yield)
    finally:
        _RUNNING.pop()


def examples(count: int) -> int:
    """A property's example count: ``count``, or at most 300 in a mutation run."""
    return min(count, 300) if MUTATION else count


# What a user on each stack writes: version_base is required on 1.3 and deprecated on 1.4.
MAIN_KWARGS = "" if HYDRA_14 else ', version_base="1.3"'


ANYTHING = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.text(max_size=8),
    st.booleans(),
    st.none(),
    st.lists(st.floats(1e-3, 1.0), max_size=2),
)
"""Any value a config or a caller could hand us where a number belongs (for fuzzing)."""


@pytest.fixture
def clean_resolvers() -> Iterator[None]:
    """Run a test with none of our resolver names registered; afterwards the registry an app has.

    Through OmegaConf's public API only: our names are cleared for the test; after it,
    ``OmegaConf.clear_resolvers()`` drops whatever the test registered or replaced (``oc.select``
    included) and brings back OmegaConf's own, Hydra's are registered again by Hydra's own
    ``setup_globals()`` if they were there, and ours (or whatever held our names) again as before.
    A resolver registered under another name outside any test would be dropped too: none is.
    """
    from bounded_lr_resolver._compat import registered_function
    from bounded_lr_resolver.resolvers import RESOLVERS

    saved = {name: registered_function(name) for name in RESOLVERS if OmegaConf.has_resolver(name)}
    hydras = OmegaConf.has_resolver("hydra")
    for name in RESOLVERS:
        OmegaConf.clear_resolver(name)
    yield
    OmegaConf.clear_resolvers()
    if hydras:
        setup_globals()
    for name, function in saved.items():
        register_foreign(name, function)


@pytest.fixture
def registered(clean_resolvers: None) -> None:
    from bounded_lr_resolver import register_resolvers

    register_resolvers()


def register_foreign(name: str, function: object) -> None:
    """Register a resolver the way a user would on the installed OmegaConf, without warnings."""
    if "annotation_validation" in inspect.signature(OmegaConf.register_resolver).parameters:
        OmegaConf.register_resolver(name, function, annotation_validation="off")  # type: ignore[call-arg]
    else:
        OmegaConf.register_new_resolver(name, function)  # type: ignore[arg-type]


def write_app(directory: Path, body: str, configs: dict[str, str], name: str = "my_app.py") -> Path:
    """Write a user's Hydra app (``body`` is the task function's body) and its YAML configs.

    The app never imports bounded_lr_resolver unless ``body`` does: resolvers and the shipped
    config group must come from the installed plugin alone.
    """
    source = (
        "import hydra\n"
        "from omegaconf import DictConfig, OmegaConf\n\n"
        f'@hydra.main(config_path="conf", config_name="config"{MAIN_KWARGS})\n'
        "def main(cfg: DictConfig) -> None:\n"
        + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
        + '\n\nif __name__ == "__main__":\n    main()\n'
    )
    (directory / name).write_text(source, encoding="utf-8")
    for relative, text in configs.items():
        path = directory / "conf" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return directory / name


def run(
    args: list[str], cwd: Path, check: bool = True, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would; fail on a non-zero exit (if ``check``) or on any warning.

    Only a test marked ``slow`` may call it: the fast lane (``-m "not slow"``) runs in-process
    tests only, so a subprocess test without the mark fails here, saying so.
    """
    test = _RUNNING[-1] if _RUNNING else None
    if test is not None and test.get_closest_marker("slow") is None:
        pytest.fail(
            f"{test.nodeid} runs a subprocess ({Path(args[0]).name}) but is not marked slow: add "
            "@pytest.mark.slow, or pytestmark = pytest.mark.slow to its module (TESTING.md, fast lane)",
            pytrace=False,
        )
    env = {key: value for key, value in os.environ.items() if not key.startswith("HYDRA_")}
    env["HYDRA_FULL_ERROR"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, output
        assert "warn" not in output.lower(), output
    return result


def run_app(app: Path, *overrides: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(app), *overrides], cwd=app.parent, check=check)
