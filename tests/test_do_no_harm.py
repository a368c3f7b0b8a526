"""Do no harm: foreign Hydra apps behave the same with and without this package installed.

Our plugin is imported by every Hydra app on a machine where the package is installed. Each app
of the corpus below (written as other people write theirs: their own ``scheduler``, ``lr`` and
``optimizer`` keys and groups, ``scheduler=null``, ``--help``, ``--cfg job``, sweeps, their own
resolvers registered before and inside ``main()``, the Compose API, ConfigStore groups) is run
twice: in this venv, where the package is installed, and in a second venv that has everything
this one has *except* this package. Exit codes, stdout and stderr must be identical, apart from
the differences the README lists ("What installing this changes in your other Hydra apps"),
which are asserted here line for line.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from bounded_lr_resolver.options import OPTIONS
from tests.conftest import HYDRA_14, MAIN_KWARGS

pytestmark = pytest.mark.slow  # foreign Hydra apps run in subprocesses, with and without our package

OUR_DISTRIBUTION = ("bounded_lr_resolver", "_editable_impl_bounded_lr_resolver", "_bounded_lr_resolver")

# How a user registers a resolver on each stack (register_new_resolver is deprecated in OmegaConf 2.4).
REGISTER = "OmegaConf.register_resolver" if HYDRA_14 else "OmegaConf.register_new_resolver"
REGISTER_KW = ", annotation_validation='off'" if HYDRA_14 else ""


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv with this venv's packages minus bounded-lr-resolver (its code, metadata and plugin)."""
    venv = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    source = Path(sysconfig.get_paths()["purelib"])
    view = tmp_path_factory.mktemp("site-without-us")
    for entry in source.iterdir():
        if entry.name.startswith(OUR_DISTRIBUTION) or entry.suffix == ".pth":
            continue
        if entry.name == "hydra_plugins":  # other plugins stay (joblib, submitit, ...), ours goes
            (view / entry.name).mkdir()
            for plugin in entry.iterdir():
                if plugin.name != "bounded_lr_resolver":
                    (view / entry.name / plugin.name).symlink_to(plugin)
        else:
            (view / entry.name).symlink_to(entry)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (purelib / "_deps.pth").write_text(f"{view}\n")
    python = venv / "bin" / "python"
    probe = "import importlib.util as u; print(u.find_spec('bounded_lr_resolver'), u.find_spec('hydra'))"
    found = subprocess.run(
        [str(python), "-c", probe], cwd=venv, capture_output=True, text=True, check=True
    ).stdout
    assert found.startswith("None ModuleSpec"), found  # hydra is there, we are not
    return python, view


APP = """\
import hydra
from omegaconf import DictConfig, OmegaConf
{before}
@hydra.main(config_path="conf", config_name="config"{kwargs})
def main(cfg: DictConfig) -> None:
{body}

if __name__ == "__main__":
    main()
"""

PRINT = "print(OmegaConf.to_yaml(cfg, resolve=True))"


class App(NamedTuple):
    configs: dict[str, str]
    body: str = PRINT
    before: str = ""
    source: str | None = None  # a whole app.py instead of the template


CORPUS: dict[str, App] = {
    "plain-keys": App({"config.yaml": "scheduler: cosine\nlr: 0.1\noptimizer: adam\nmax_steps: 100\n"}),
    "nested-scheduler": App(
        {"config.yaml": "scheduler:\n  name: cosine\n  warmup: 10\noptimizer:\n  name: adam\n  lr: 0.1\n"}
    ),
    "own-groups": App(
        {
            "config.yaml": "defaults:\n  - scheduler: cosine\n  - optimizer: adam\n  - _self_\n",
            "scheduler/cosine.yaml": "name: cosine\nt_max: 100\n",
            "scheduler/linear.yaml": "name: linear\n",
            "optimizer/adam.yaml": "name: adam\nlr: 1e-3\n",
            "optimizer/sgd.yaml": "name: sgd\nlr: 0.1\n",
        }
    ),
    "model-with-nested-group": App(
        {
            "config.yaml": "defaults:\n  - model: resnet\n  - _self_\n",
            "model/resnet.yaml": "defaults:\n  - /scheduler@scheduler: step\n  - _self_\ndepth: 18\n",
            "scheduler/step.yaml": "step_size: 30\ngamma: 0.1\n",
        }
    ),
    "resolver-before-main": App(
        {"config.yaml": "lr: 0.1\nscaled: ${times:${lr},10}\n"},
        before=f"{REGISTER}('times', lambda a, b: a * b{REGISTER_KW})\n",
    ),
    "resolver-inside-main": App(
        {"config.yaml": "lr: 0.1\nscaled: ${times:${lr},10}\n"},
        body=f"{REGISTER}('times', lambda a, b: a * b{REGISTER_KW})\n{PRINT}",
    ),
    "our-name-before-main": App(
        {"config.yaml": "lr: 0.1\nsteps: ${lr_step:3}\n"},
        before=f"{REGISTER}('lr_step', lambda a: a * 2{REGISTER_KW})\n",
    ),
    "our-name-inside-main-replace": App(  # the README's fix for an app that registers our name late
        {"config.yaml": "lr: 0.1\nsteps: ${lr_step:3}\n"},
        body=f"{REGISTER}('lr_step', lambda a: a * 2, replace=True{REGISTER_KW})\n{PRINT}",
    ),
    "env-and-missing": App({"config.yaml": "home: ${oc.env:HOME}\nlr: ???\n"}),
    "app-raises": App({"config.yaml": "lr: 0.1\n"}, body="raise RuntimeError('broken on purpose')"),
    "configstore-group": App(
        {"config.yaml": "defaults:\n  - scheduler: cosine\n  - _self_\n"},
        before=(
            "from dataclasses import dataclass\n"
            "from hydra.core.config_store import ConfigStore\n"
            "@dataclass\nclass Cosine:\n    t_max: int = 100\n"
            "@dataclass\nclass Linear:\n    end: float = 0.0\n"
            "ConfigStore.instance().store(group='scheduler', name='cosine', node=Cosine)\n"
            "ConfigStore.instance().store(group='scheduler', name='linear', node=Linear)\n"
        ),
    ),
    "compose-api": App(
        {
            "config.yaml": "defaults:\n  - scheduler: cosine\n  - _self_\nlr: 0.1\n",
            "scheduler/cosine.yaml": "name: cosine\n",
            "scheduler/linear.yaml": "name: linear\n",
        },
        source=(
            "import sys\n"
            "from hydra import compose, initialize\n"
            "from omegaconf import OmegaConf\n"
            f"with initialize(config_path='conf'{MAIN_KWARGS}):\n"
            "    cfg = compose(config_name='config', overrides=sys.argv[1:])\n"
            "print(OmegaConf.to_yaml(cfg, resolve=True))\n"
        ),
    ),
}

HELP_LINE = (re.escape("bounded_lr: " + ", ".join(sorted(OPTIONS))),)
SEARCH_PATH = (re.escape("\tprovider=bounded-lr-resolver, path=bounded-lr-schema://"),)
CONFLICT_WARNING = (
    re.escape(
        "[Hydra plugins scanner] : warnings from "
        "'hydra_plugins.bounded_lr_resolver.bounded_lr_resolver_plugin'. Please report to plugin author."
    ),
    r".*bounded_lr_resolver_plugin.py:\d+: ResolverConflictWarning: bounded-lr-resolver: kept the resolvers "
    + re.escape("['lr_step'] that were registered before this plugin loaded; ours are not available under")
    + ".*",
    r"  _register\(\)",
)


class Case(NamedTuple):
    app: str
    args: tuple[str, ...]
    added: tuple[str, ...] = ()  # patterns of the lines only the run with us prints (README lists them)


CASES = [
    Case("plain-keys", ()),
    Case("plain-keys", ("scheduler=linear",)),
    Case("plain-keys", ("lr=0.01", "optimizer=sgd", "+extra=1")),
    Case("plain-keys", ("--cfg", "job")),
    Case("plain-keys", ("--help",), HELP_LINE),
    Case("nested-scheduler", ("scheduler=null",)),
    Case("nested-scheduler", ("scheduler.name=linear", "~optimizer")),
    Case("nested-scheduler", ("-m", "optimizer.lr=0.1,0.01")),
    Case("own-groups", ()),
    Case("own-groups", ("scheduler=linear", "optimizer=sgd")),
    Case("own-groups", ("scheduler=bogus",), SEARCH_PATH),
    Case("own-groups", ("--help",), HELP_LINE),
    Case("own-groups", ("--cfg", "job", "--resolve")),
    Case("own-groups", ("-m", "scheduler=cosine,linear")),
    Case("model-with-nested-group", ()),
    Case("model-with-nested-group", ("model.scheduler.gamma=0.5",)),
    Case("resolver-before-main", ()),
    Case("resolver-inside-main", ()),
    Case("our-name-before-main", (), CONFLICT_WARNING),
    Case("our-name-inside-main-replace", ()),
    Case("env-and-missing", ("lr=0.1",)),
    Case("env-and-missing", ()),
    Case("app-raises", ()),
    Case("configstore-group", ("scheduler=linear",)),
    Case("configstore-group", ("scheduler=null",)),
    Case("compose-api", ("scheduler=linear",)),
    Case("compose-api", ("scheduler=null", "lr=0.5")),
]

_TIMESTAMP = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\]")


def _write(app: App, directory: Path) -> Path:
    for relative, text in app.configs.items():
        path = directory / "conf" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    source = app.source or APP.format(
        before=app.before, kwargs=MAIN_KWARGS, body=textwrap.indent(app.body, "    ")
    )
    (directory / "app.py").write_text(source, encoding="utf-8")
    return directory / "app.py"


def _run(python: Path, script: Path, args: tuple[str, ...], cwd: Path) -> tuple[int, list[str]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HYDRA_")}
    result = subprocess.run(
        [str(python), str(script), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )
    text = _TIMESTAMP.sub("[time]", "STDOUT\n" + result.stdout + "STDERR\n" + result.stderr)
    return result.returncode, text.splitlines()


@pytest.mark.parametrize("case", [pytest.param(case, id=f"{case.app}{list(case.args)}") for case in CASES])
def test_foreign_app_is_unchanged(case: Case, bare_python: tuple[Path, Path], tmp_path: Path) -> None:
    python, view = bare_python
    runs = {}
    for label in ("with", "without"):
        (tmp_path / label).mkdir()
        runs[label] = _write(CORPUS[case.app], tmp_path / label)
    with ThreadPoolExecutor(2) as pool:
        with_us = pool.submit(_run, Path(sys.executable), runs["with"], case.args, tmp_path / "with")
        without_us = pool.submit(_run, python, runs["without"], case.args, tmp_path / "without")
        (code_with, lines_with), (code_without, lines_without) = with_us.result(), without_us.result()
    site = sysconfig.get_paths()["purelib"]
    lines_with = [
        line.replace(str(tmp_path / "with"), "<app>").replace(site, "<site>") for line in lines_with
    ]
    lines_without = [
        line.replace(str(tmp_path / "without"), "<app>").replace(str(view), "<site>")
        for line in lines_without
    ]
    assert code_with == code_without, "\n".join(lines_with)
    diff = list(difflib.ndiff(lines_without, lines_with))
    removed = [line[2:] for line in diff if line.startswith("- ")]
    added = [line[2:] for line in diff if line.startswith("+ ")]
    assert removed == [], "\n".join(diff)
    assert len(added) == len(case.added), "\n".join(diff)
    for line, pattern in zip(added, case.added, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert "bounded" not in "\n".join(lines_without).lower()  # the second venv really is without us


def test_registering_our_name_inside_main_fails_as_the_readme_says(tmp_path: Path) -> None:
    """The one breakage we cannot prevent: OmegaConf refuses a second resolver of the same name.

    The README shows this message next to the conflict rules, with the fix (``replace=True``,
    exercised by the corpus case ``our-name-inside-main-replace``).
    """
    app = App(
        {"config.yaml": "steps: ${lr_step:3}\n"},
        body=f"{REGISTER}('lr_step', lambda a: a * 2{REGISTER_KW})\n{PRINT}",
    )
    code, lines = _run(Path(sys.executable), _write(app, tmp_path), (), tmp_path)
    assert code == 1
    assert "ValueError: resolver 'lr_step' is already registered" in lines, lines
