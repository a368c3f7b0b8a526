"""The Hydra plugin: discovered, cheap (no torch), safe to rescan, and polite about name conflicts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hydra.core.plugins import Plugins
from hydra.core.singleton import Singleton
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

from tests.conftest import run, run_app, write_app


def test_plugin_is_discovered() -> None:
    names = [plugin.__name__ for plugin in Plugins.instance().discover(SearchPathPlugin)]
    assert "BoundedLRSearchPathPlugin" in names


@pytest.mark.slow
def test_scanning_plugins_imports_neither_torch_nor_numpy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from hydra.core.plugins import Plugins\n"
        "from omegaconf import OmegaConf\n"
        "Plugins.instance()\n"
        "heavy = sorted(m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules)\n"
        "print(heavy, OmegaConf.create({'g': '${lr_step:1e6,1e4}'}).g)\n"
    )
    result = run([sys.executable, "-c", code], cwd=tmp_path)
    assert result.stdout.strip() == "[] 100"


def test_rescans_are_safe(capfd: pytest.CaptureFixture[str]) -> None:
    """Launchers and hydra's own test fixtures reset the singletons, which re-executes plugin modules.

    Hydra's scanner catches warnings raised by plugin modules and prints them, so check the output.
    """
    for _ in range(3):
        Singleton.set_state(Singleton.get_state())
        Plugins.instance()
        Singleton._instances.pop(Plugins, None)  # noqa: SLF001 - a fresh scan: Hydra has no public reset
        Plugins.instance()
    assert OmegaConf.create({"g": "${lr_step:1e6,1e4}"}).g == 100
    printed = capfd.readouterr()
    assert "warn" not in (printed.out + printed.err).lower()


@pytest.mark.slow
def test_user_resolver_registered_first_is_kept_with_a_warning(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        "print('result', cfg.g, cfg.s)",
        {"config.yaml": "g: ${lr_gamma:1,2,3}\ns: ${lr_step:1e6,1e4}\n"},
    )
    source = app.read_text()
    register = (
        "import inspect\n"
        "def mine(*args):\n    return 'mine'\n"
        "if 'annotation_validation' in inspect.signature(OmegaConf.register_resolver).parameters:\n"
        "    OmegaConf.register_resolver('lr_gamma', mine, annotation_validation='off')\n"
        "else:\n    OmegaConf.register_new_resolver('lr_gamma', mine)\n"
    )
    app.write_text(source.replace("@hydra.main", register + "@hydra.main", 1))
    result = run_app(app, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "result mine 100" in output
    assert "kept the resolvers ['lr_gamma'] that were registered before this plugin loaded" in output


@pytest.mark.slow
@pytest.mark.parametrize(
    "module", ["bounded_lr_resolver.bounds", "bounded_lr_resolver.resolvers", "bounded_lr_resolver"]
)
def test_light_modules_do_not_import_torch(tmp_path: Path, module: str) -> None:
    code = f"import sys, {module}\nprint('torch' in sys.modules, 'numpy' in sys.modules)"
    assert run([sys.executable, "-c", code], cwd=tmp_path).stdout.strip() == "False False"
