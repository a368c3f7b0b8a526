"""Packaging: the wheel's contents, and Hydra finding the plugin from a wheel install.

The whole suite runs on an editable install (``pip install -e``), where PEP 660 installs are
known to hide namespace plugins; this module adds the wheel: it builds one, installs it into a
throwaway venv (which sees this venv's dependencies, but not the checkout) and runs real apps.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import MAIN_KWARGS, run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("bounded_lr_resolver-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "bounded_lr_resolver/py.typed",
        "bounded_lr_resolver/schema.py",  # the shipped options: generated schemas, no YAML copies
        "bounded_lr_resolver/options.py",
        "bounded_lr_resolver/app_conf/config.yaml",
        "bounded_lr_resolver/app_conf/task/train.yaml",
        "hydra_plugins/bounded_lr_resolver/__init__.py",
        "hydra_plugins/bounded_lr_resolver/bounded_lr_resolver_plugin.py",
    ):
        assert required in names, required
    assert "hydra_plugins/__init__.py" not in names  # a namespace package, shared with other plugins
    assert not [name for name in names if name.startswith("bounded_lr_resolver/conf/")]
    [entry_points] = [name for name in names if name.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[hydra.plugins]" in text
    assert "BoundedLRSearchPathPlugin" in text
    assert "bounded-lr = bounded_lr_resolver.app:main" in text


@pytest.fixture(scope="module")
def wheel_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    # dependencies (hydra, torch, ...) come from this venv; .pth files there are not processed,
    # so this venv's editable install of the checkout stays invisible. The throwaway venv's own
    # pip installs the wheel, so it never touches this venv's packages.
    (purelib / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    return venv


def test_wheel_install_is_discovered_and_runs(wheel_venv: Path, tmp_path: Path) -> None:
    python = str(wheel_venv / "bin" / "python")
    code = (
        "import bounded_lr_resolver, hydra_plugins.bounded_lr_resolver as plugin\n"
        "from hydra.core.plugins import Plugins\n"
        "from hydra.plugins.search_path_plugin import SearchPathPlugin\n"
        "from omegaconf import OmegaConf\n"
        "found = [p.__name__ for p in Plugins.instance().discover(SearchPathPlugin)]\n"
        "print(bounded_lr_resolver.__file__, plugin.__file__)\n"
        "print('BoundedLRSearchPathPlugin' in found, OmegaConf.create({'s': '${lr_step:1e6,1e4}'}).s)\n"
    )
    files, discovered = run([python, "-c", code], cwd=tmp_path).stdout.splitlines()
    assert all(path.startswith(str(wheel_venv)) for path in files.split()), files
    assert discovered == "True 100"

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(
        "defaults:\n  - bounded_lr@scheduler: multistep\n  - _self_\n"
    )
    (tmp_path / "app.py").write_text(
        "import hydra\n"
        "import torch\n"
        "from bounded_lr_resolver import instantiate_trusted\n"
        f'@hydra.main(config_path="conf", config_name="config"{MAIN_KWARGS})\n'
        "def main(cfg):\n"
        "    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)\n"
        "    sched = instantiate_trusted(cfg.scheduler)(optimizer=opt)\n"
        "    print('milestones', sched.schedules[0].milestones()[:2], cfg.scheduler.gamma)\n"
        "main()\n"
    )
    assert "milestones [100, 200] 0.9993094630025899" in run([python, "app.py"], cwd=tmp_path).stdout

    out = run(
        [str(wheel_venv / "bin" / "bounded-lr"), f"hydra.run.dir={tmp_path / 'job'}", "plot=false"],
        cwd=tmp_path,
    )
    assert "bounds       HOLD" in out.stdout
    assert (tmp_path / "job" / "schedule.csv").is_file()
