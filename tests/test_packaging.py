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

pytestmark = pytest.mark.slow  # wheels built and installed into fresh venvs

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
    assert "bounded-lr = bounded_lr_resolver.__main__:main" in text


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


# What a base install must do with none of torch, numpy, matplotlib or tqdm: every resolver and
# every shipped option composes and resolves to the same values as a full install, the shipped
# node instantiates to the factory's partial, and what needs an extra says which one.
_BASE_SCRIPT = """
import functools, importlib.util, json, sys
import hydra
from hydra import compose, initialize
from omegaconf import OmegaConf
from bounded_lr_resolver import instantiate_trusted
from bounded_lr_resolver.options import OPTIONS

resolvers = OmegaConf.create({
    "max_steps": 1000000,
    "gamma": "${lr_gamma:0.1,1e-4,10000}", "step": "${lr_step:1e6,1e4}",
    "ns_gamma": "${blr.gamma:0.1,1e-4,10000}", "ns_step": "${blr.step:1e6,1e4}",
    "milestones": "${blr.milestones:1000,3}", "values": "${blr.values:0.1,1e-4,3}",
    "decay_steps": "${blr.decay_steps:1000,10,last_step}", "ratio": "${blr.ratio:0.1,0}",
    "logspace": "${blr.logspace:1e-6,1e-3,20,7}", "warmup": "${blr.steps:0.05dur,${max_steps}}",
    "epochs": "${blr.steps:3ep,100}",
})
found = {"options": {}}
# version_base: required (else a warning) before hydra-core 1.4, deprecated from 1.4
kwargs = {"version_base": "1.3"} if hydra.__version__.startswith("1.3") else {}
with initialize(config_path=None, **kwargs):  # Hydra's plugin scan registers the resolvers
    found["resolvers"] = OmegaConf.to_container(resolvers, resolve=True)
    for name in OPTIONS:
        cfg = compose(overrides=[f"+bounded_lr@scheduler={name}"])
        found["options"][name] = OmegaConf.to_container(cfg, resolve=True)
        made = instantiate_trusted(cfg.scheduler)
        assert isinstance(made, functools.partial), (name, made)
    try:
        made(optimizer=object())
    except Exception as error:
        found["error"] = f"{type(error).__name__}: {error}"
found["installed"] = [m for m in ("torch", "numpy", "matplotlib", "tqdm") if importlib.util.find_spec(m)]
found["loaded"] = sorted(sys.modules.keys() & {"torch", "numpy", "matplotlib", "tqdm"})
print(json.dumps(found, sort_keys=True))
"""


@pytest.fixture(scope="module")
def base_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install bounded-lr-resolver`` alone (this stack's hydra-core and omegaconf), from the index."""
    import hydra
    import omegaconf

    venv = tmp_path_factory.mktemp("base")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = [f"hydra-core=={hydra.__version__}", f"omegaconf=={omegaconf.__version__}"]
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel), *pins],
        check=True,
        capture_output=True,
    )
    return venv


def test_a_base_install_composes_everything_without_torch_numpy_matplotlib(
    base_venv: Path, tmp_path: Path
) -> None:
    import json

    base = json.loads(run([str(base_venv / "bin" / "python"), "-c", _BASE_SCRIPT], cwd=tmp_path).stdout)
    full = json.loads(run([sys.executable, "-c", _BASE_SCRIPT], cwd=tmp_path).stdout)
    assert base["installed"] == []
    assert base["loaded"] == []
    assert full["installed"] == ["torch", "numpy", "matplotlib", "tqdm"]  # the oracle is a full install
    assert base["resolvers"] == full["resolvers"]
    assert base["resolvers"]["gamma"] == pytest.approx(0.999309463003, abs=1e-12)
    assert base["resolvers"]["milestones"] == [333, 666, 1000]
    assert base["options"] == full["options"]
    assert set(base["options"]) >= {"step", "multistep", "cosine_to_zero", "wsd_sqrt_to_zero", "phases"}
    assert base["error"] == (
        "MissingExtraError: build_scheduler(optimizer=...) needs torch, which is not installed here: "
        "pip install 'bounded-lr-resolver[torch]' (or pip install torch)"
    )
    assert full["error"].startswith(
        "BoundsTypeError: build_scheduler: optimizer must be a torch.optim.Optimizer"
    )


def test_a_base_install_runs_a_users_sweep_and_names_the_extras(base_venv: Path, tmp_path: Path) -> None:
    """A user's app with our callbacks: records and the report's table; the PNG and the main job say
    which extra they need."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(
        "defaults:\n  - bounded_lr@scheduler: multistep\n  - _self_\n"
        "hydra:\n  callbacks:\n"
        "    preflight: {_target_: bounded_lr_resolver.callbacks.SweepPreflight}\n"
        "    resolved: {_target_: bounded_lr_resolver.callbacks.SaveResolvedConfig}\n"
        "    report: {_target_: bounded_lr_resolver.callbacks.SweepReport}\n"
    )
    (tmp_path / "app.py").write_text(
        "import hydra\n"
        "import bounded_lr_resolver\n"
        "bounded_lr_resolver.trust_our_callbacks()\n"
        f'@hydra.main(config_path="conf", config_name="config"{MAIN_KWARGS})\n'
        "def main(cfg):\n"
        "    print('gamma', cfg.scheduler.gamma)\n"
        "main()\n"
    )
    python = str(base_venv / "bin" / "python")
    done = run(
        [python, "app.py", "-m", "scheduler.final_lr=1e-3,1e-4", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path,
        check=False,  # it warns, once, that the PNG needs an extra
    )
    assert done.returncode == 0, done.stderr
    assert "gamma 0.9995395890030878" in done.stdout  # (1e-3 / 0.1) ** (1 / 10**4)
    for job in ("0", "1"):
        assert (tmp_path / "sweep" / job / "resolved_config.yaml").is_file()
    table = (tmp_path / "sweep" / "sweep_report.md").read_text()
    assert "| 0 | scheduler.final_lr=0.001 | multistep | 0.1 | 0.001 | 1000000 | 10000 |" in table
    assert "| 1 | scheduler.final_lr=0.0001 | multistep | 0.1 | 0.0001 | 1000000 | 10000 |" in table
    assert not (tmp_path / "sweep" / "sweep_report.png").exists()
    warned = [line for line in (done.stdout + done.stderr).splitlines() if "SweepReport" in line]
    assert len(warned) == 1, warned  # once, at the sweep's end (Hydra's log format there shows no level)
    assert warned[0].endswith(
        "SweepReport: sweep_report.png not written: sweep_report.png needs matplotlib, which is not "
        "installed here: pip install 'bounded-lr-resolver[plot]' (or pip install matplotlib)"
    )

    refused = run([str(base_venv / "bin" / "bounded-lr")], cwd=tmp_path, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "Error: bounded-lr (the main job) needs the [cli] extra: pip install 'bounded-lr-resolver[cli]' "
        "(numpy is not installed)"
    )
    assert not (tmp_path / "outputs").exists()
