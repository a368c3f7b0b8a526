"""resolved_config.yaml: every value our resolvers derived, and never a value from the environment."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from bounded_lr_resolver.record import reads_environment, resolved_yaml
from tests.conftest import run, write_app

SECRET = "hunter2-do-not-record"

RAW = {
    "api": {"key": "${oc.env:WANDB_API_KEY}", "alias": "${.key}", "plain": "x"},
    "whole": "${api}",
    "decoded": "${oc.decode:${oc.env:STEPS}}",
    "inline": "token=${oc.env:WANDB_API_KEY};",
    "legacy": "${env:WANDB_API_KEY}",
    "items": [1, "${api.key}", "${sched.n_updates}"],
    "sched": {
        "max_steps": 1000,
        "n_updates": 10,
        "step_size": "${lr_step:${.max_steps},${.n_updates}}",
        "from_env": "${lr_step:${oc.decode:${..decoded}},10}",
    },
    "depth": {"a": {"b": "${..c}"}, "c": "${oc.env:HOME}"},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(("api", "key"), True, id="direct"),
        pytest.param(("api", "alias"), True, id="relative-reference"),
        pytest.param(("api", "plain"), False, id="literal"),
        pytest.param(("api",), True, id="container-holding-one"),
        pytest.param(("whole",), True, id="reference-to-container"),
        pytest.param(("decoded",), True, id="nested-in-another-resolver"),
        pytest.param(("inline",), True, id="inside-a-string"),
        pytest.param(("legacy",), True, id="legacy-env-resolver"),
        pytest.param(("items", 1), True, id="list-item-reference"),
        pytest.param(("items", 2), False, id="list-item-plain-reference"),
        pytest.param(("sched", "step_size"), False, id="our-resolver-on-plain-keys"),
        pytest.param(("sched", "from_env"), True, id="our-resolver-on-env-keys"),
        pytest.param(("depth", "a", "b"), True, id="parent-relative"),
        pytest.param(("sched", "max_steps"), False, id="number"),
    ],
)
def test_reads_environment(path: tuple[object, ...], expected: bool) -> None:
    assert reads_environment(RAW, path) is expected


def test_record_keeps_env_text_and_resolves_the_rest(
    registered: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    monkeypatch.setenv("STEPS", "1000")
    text = resolved_yaml(OmegaConf.create({**RAW, "hydra": {"job": {"name": "x"}}}))
    assert SECRET not in text
    assert os.environ["HOME"] not in text
    record = yaml.safe_load(text)
    assert record["api"] == {"key": "${oc.env:WANDB_API_KEY}", "alias": "${.key}", "plain": "x"}
    assert record["items"] == [1, "${api.key}", 10]
    assert record["sched"]["step_size"] == 100  # derived by our resolver: on record
    assert record["sched"]["from_env"] == "${lr_step:${oc.decode:${..decoded}},10}"
    assert "hydra" not in record


USER_APP = """\
defaults:
  - bounded_lr@scheduler: step
  - _self_
wandb:
  api_key: ${oc.env:WANDB_API_KEY}
  header: Bearer ${wandb.api_key}
hydra:
  callbacks:
    resolved_config:
      _target_: bounded_lr_resolver.callbacks.SaveResolvedConfig
"""


def test_users_app_record_has_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = write_app(tmp_path, "print('ran')", {"config.yaml": USER_APP})
    app.write_text(
        app.read_text().replace(
            "@hydra.main",
            "import bounded_lr_resolver\nbounded_lr_resolver.trust_our_callbacks()\n\n@hydra.main",
            1,
        )
    )
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    run([sys.executable, str(app), f"hydra.run.dir={tmp_path / 'job'}"], cwd=tmp_path)
    record_file = tmp_path / "job" / "resolved_config.yaml"
    text = record_file.read_text()
    assert SECRET not in text
    record = yaml.safe_load(text)
    assert record["wandb"] == {"api_key": "${oc.env:WANDB_API_KEY}", "header": "Bearer ${wandb.api_key}"}
    assert record["scheduler"]["gamma"] == pytest.approx(0.999309463003, abs=1e-12)
    assert record["scheduler"]["step_size"] == 100
    assert not stat.S_IMODE(record_file.stat().st_mode) & 0o002  # not world-writable
    assert [p.name for p in (tmp_path / "job").iterdir() if p.name.endswith(".partial")] == []
