"""The README and the docs tell the truth: their install commands work from a checkout, their claims
match torch and Hydra. (Their code blocks run in tests/test_docs.py.)"""

from __future__ import annotations

import re
import shlex
from importlib.metadata import metadata
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {page.name: page.read_text(encoding="utf-8") for page in sorted((ROOT / "docs").glob("*.md"))}
ALL = "\n".join([README, *PAGES.values()])
EXTRAS = set(metadata("bounded-lr-resolver").get_all("Provides-Extra") or ())
PUBLISHED = {"hydra-submitit-launcher", "hydra-ray-launcher", "hydra-joblib-launcher", "hydra-optuna-sweeper"}


def _install_commands() -> list[str]:
    return sorted({match.strip() for match in re.findall(r"pip install ([^`\n&]+)", ALL)})


def test_readme_and_docs_have_install_commands() -> None:
    assert len(_install_commands()) >= 5
    assert any("-e" in command for command in re.findall(r"pip install ([^`\n&]+)", README))


@pytest.mark.parametrize("command", _install_commands())
def test_install_command_works_from_a_checkout(command: str) -> None:
    """This package is not on a public index: it is installed from the checkout (``-e .[extras]``)."""
    words = shlex.split(command)
    for index, word in enumerate(words):
        if word == "-e":
            spec = words[index + 1]
            match = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", spec)
            assert match, spec
            assert set((match.group(1) or "").split(",")) - {""} <= EXTRAS, spec
        elif word.startswith("-") or (index and words[index - 1] == "-e"):
            continue
        else:
            name = re.split(r"[=<>\[]", word)[0]
            assert name != "bounded-lr-resolver", command  # would need a package index we are not on
            assert (name == "torch" and word == "torch==2.13.0") or name in PUBLISHED, command


def _steplr_decays(max_steps: int, n_updates: int) -> int:
    """Decays torch's StepLR(step_size=max_steps // n_updates) makes within max_steps steps."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max_steps // n_updates, gamma=0.5)
    decays, last = 0, 1.0
    for _ in range(max_steps):
        optimizer.step()
        scheduler.step()
        lr = optimizer.param_groups[0]["lr"]
        decays += lr < last
        last = lr
    return decays


@pytest.mark.parametrize(
    ("max_steps", "n_updates", "decays"),
    [
        pytest.param(1000, 300, 333, id="remainder-at-least-step-size"),
        pytest.param(1000, 7, 7, id="remainder-below-step-size"),
        pytest.param(10_000, 3, 3, id="divisible-plus-one"),
    ],
)
def test_the_first_trap_is_stated_precisely(max_steps: int, n_updates: int, decays: int) -> None:
    """The README: StepLR(max_steps // n_updates) makes n_updates + (max_steps % n_updates) // step_size."""
    step = max_steps // n_updates
    assert _steplr_decays(max_steps, n_updates) == decays == n_updates + (max_steps % n_updates) // step
    assert "1000 steps with 300 decays make 333" in README


def test_quoted_number_is_converted_by_the_typed_group_as_the_readme_says(tmp_path: Path) -> None:
    """README: text that is a number is converted by OmegaConf, not refused; other text is refused."""
    from hydra import compose, initialize_config_dir
    from omegaconf.errors import ValidationError

    from tests.conftest import HYDRA_14

    (tmp_path / "config.yaml").write_text("defaults:\n  - bounded_lr@scheduler: step\n  - _self_\n")
    with initialize_config_dir(str(tmp_path), **({} if HYDRA_14 else {"version_base": "1.3"})):
        cfg = compose("config", overrides=["scheduler.final_lr='1e-4'"])
        assert cfg.scheduler.final_lr == 1e-4
        assert isinstance(cfg.scheduler.final_lr, float)
        with pytest.raises(Exception, match=r"scheduler\.final_lr=abc") as caught:
            compose("config", overrides=["scheduler.final_lr=abc"])
        assert isinstance(caught.value.__cause__, ValidationError)
        assert "Value 'abc' of type 'str' could not be converted to Float" in str(caught.value.__cause__)
    assert "`scheduler.final_lr='1e-4'` gives the float `1e-4`" in PAGES["factory.md"]


def test_the_docs_call_hydras_partial_what_it_is() -> None:
    """tests/test_factory.py: instantiate returns Hydra's own subclass of functools.partial."""
    durations = " ".join(PAGES["durations.md"].split())
    assert "hands it back as its own subclass of `functools.partial`" in durations
    assert "plain `functools.partial`" not in " ".join(ALL.split())
