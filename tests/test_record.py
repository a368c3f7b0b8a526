"""resolved_config.yaml: every value our resolvers derived, and never a value from the environment.

The record is decided on what resolving each value calls (``record.py``): whatever reaches
``oc.env`` or a resolver not known to be pure, by any path OmegaConf offers, stays interpolation
text, and the secret never reaches the written file.
"""

from __future__ import annotations

import inspect
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from omegaconf import OmegaConf
from omegaconf.basecontainer import BaseContainer
from omegaconf.errors import InterpolationKeyError

from bounded_lr_resolver.callbacks import SaveResolvedConfig
from bounded_lr_resolver.record import resolved_record
from tests.conftest import register_foreign, run, write_app

SECRET = "hunter2-do-not-record"

# every way OmegaConf can reach the environment, and the values next to them that stay resolved
RAW: dict[str, Any] = {
    "token": "${oc.env:SECRET_TOKEN}",
    "alias": "${oc.select:token}",
    "alias_default": "${oc.select:no_such_key,${oc.env:SECRET_TOKEN}}",
    "alias_alias": "${alias}",
    "creds": {"user": "me", "password": "${oc.env:SECRET_TOKEN}"},
    "vals": "${oc.dict.values:creds}",
    "keys": "${oc.dict.keys:creds}",
    "node": "${oc.create:{k: ${oc.env:SECRET_TOKEN}, j: 2}}",
    "node_k": "${node.k}",
    "made": "${oc.create:{j: 2}}",
    "made_j": "${made.j}",
    "custom": "${myenv:SECRET_TOKEN}",
    "custom_alias": "${custom}",
    "legacy": "${env:SECRET_TOKEN}",
    "bearer": "Bearer ${token}",
    "bearer_custom": "Bearer ${custom}",
    "whole": "${creds}",
    "user": "${creds.user}",
    "items": [1, "${token}", "${creds.user}", "${sched.n_updates}", ["${custom}", 2]],
    "nested": {"deep": {"secret": "${...token}", "plain": "${...creds.user}"}},
    "sched": {
        "max_steps": 1000,
        "n_updates": 10,
        "step_size": "${lr_step:${.max_steps},${.n_updates}}",
        "from_env": "${lr_step:${oc.decode:${oc.env:STEPS}},10}",
        "gamma": "${lr_gamma:0.1,1e-4,${.n_updates}}",
    },
    "decoded": "${oc.decode:'[1, 2]'}",
    "escaped": "\\${creds.user}",
}


@pytest.fixture
def environment(registered: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The secret in the environment, ours registered, and two resolvers of an app that read it."""
    monkeypatch.setenv("SECRET_TOKEN", SECRET)
    monkeypatch.setenv("STEPS", "1000")
    calls: list[str] = []

    def myenv(name: str) -> str:
        calls.append(name)
        return os.environ[name]

    register_foreign("myenv", myenv)
    register_foreign("env", myenv)  # OmegaConf's legacy name, as an app may register it
    return calls


def _written(tmp_path: Path, raw: dict[str, Any]) -> str:
    """What ``SaveResolvedConfig`` writes for a job whose config is ``raw``."""
    config = OmegaConf.create({**raw, "hydra": {"runtime": {"output_dir": str(tmp_path)}}})
    SaveResolvedConfig().on_job_start(config)
    return (tmp_path / "resolved_config.yaml").read_text()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("token", RAW["token"], id="oc.env"),
        pytest.param("alias", RAW["alias"], id="oc.select-of-env"),
        pytest.param("alias_default", RAW["alias_default"], id="oc.select-default-from-env"),
        pytest.param("alias_alias", RAW["alias_alias"], id="reference-to-a-reference"),
        pytest.param("creds", {"user": "me", "password": RAW["creds"]["password"]}, id="dict-holding-one"),
        pytest.param("vals", RAW["vals"], id="oc.dict.values-over-env"),
        pytest.param("keys", ["user", "password"], id="oc.dict.keys-reads-no-value"),
        pytest.param("node", RAW["node"], id="oc.create-with-env"),
        pytest.param("node_k", RAW["node_k"], id="reference-into-oc.create-node"),
        pytest.param("made", {"j": 2}, id="oc.create-plain"),
        pytest.param("made_j", 2, id="reference-into-plain-oc.create-node"),
        pytest.param("custom", RAW["custom"], id="apps-own-env-resolver"),
        pytest.param("custom_alias", RAW["custom_alias"], id="reference-to-apps-resolver"),
        pytest.param("legacy", RAW["legacy"], id="legacy-env-name"),
        pytest.param("bearer", RAW["bearer"], id="inside-a-string"),
        pytest.param("bearer_custom", RAW["bearer_custom"], id="apps-resolver-inside-a-string"),
        pytest.param("whole", RAW["whole"], id="reference-to-container-holding-one"),
        pytest.param("user", "me", id="neighbour-stays-resolved"),
        pytest.param("items", [1, RAW["items"][1], "me", 10, [RAW["items"][4][0], 2]], id="list-items"),
        pytest.param("nested", {"deep": {"secret": "${...token}", "plain": "me"}}, id="nested-relative"),
        pytest.param(
            "sched",
            {**RAW["sched"], "step_size": 100, "gamma": pytest.approx(1e-3 ** (1 / 10), rel=1e-15)},
            id="ours-resolved-ours-over-env-kept",
        ),
        pytest.param("decoded", [1, 2], id="oc.decode-plain"),
        pytest.param("escaped", "\\${creds.user}", id="escaped-text-stays-text"),
    ],
)
def test_each_value_is_kept_or_resolved_by_what_it_calls(
    environment: list[str], tmp_path: Path, key: str, expected: object
) -> None:
    text = _written(tmp_path, RAW)
    assert SECRET not in text
    assert yaml.safe_load(text)[key] == expected
    assert environment == []  # an app's resolver is refused, not run: the secret is never read


def test_the_whole_record_has_no_secret_and_loads_back_to_the_same_text(
    environment: list[str], tmp_path: Path
) -> None:
    text = _written(tmp_path, RAW)
    assert SECRET not in text
    assert OmegaConf.create(yaml.safe_load(text)).escaped == "${creds.user}"  # text, not a reference


def _replace(name: str, function: Callable[..., Any]) -> None:
    if "annotation_validation" in inspect.signature(OmegaConf.register_resolver).parameters:
        OmegaConf.register_resolver(name, function, replace=True, annotation_validation="off")  # type: ignore[call-arg]
    else:
        OmegaConf.register_new_resolver(name, function, replace=True)


def test_a_replaced_builtin_is_not_trusted(environment: list[str], tmp_path: Path) -> None:
    """``oc.select`` is pure only while it is OmegaConf's own function."""
    _replace("oc.select", lambda key: os.environ[key])
    text = _written(tmp_path, {"alias": "${oc.select:SECRET_TOKEN}", "user": "me"})
    assert yaml.safe_load(text) == {"alias": "${oc.select:SECRET_TOKEN}", "user": "me"}


def test_the_resolver_registry_is_left_exactly_as_it_was(environment: list[str]) -> None:
    before = dict(BaseContainer._resolvers)  # noqa: SLF001 - exactly as it was: no public getter
    resolved_record(OmegaConf.create(RAW))
    assert BaseContainer._resolvers == before  # noqa: SLF001
    with pytest.raises(InterpolationKeyError):  # a real error in the config: raised, registry restored
        resolved_record(OmegaConf.create({**RAW, "bad": "${no.such.key}"}))
    assert BaseContainer._resolvers == before  # noqa: SLF001
    assert all(BaseContainer._resolvers[name] is wrapper for name, wrapper in before.items())  # noqa: SLF001


USER_APP = """\
defaults:
  - bounded_lr@scheduler: step
  - _self_
wandb:
  api_key: ${oc.env:WANDB_API_KEY}
  header: Bearer ${wandb.api_key}
  alias: ${oc.select:wandb.api_key}
  values: ${oc.dict.values:creds}
  made_k: ${made.k}
  own: ${myenv:WANDB_API_KEY}
  job: ${hydra:job.name}
creds:
  key: ${oc.env:WANDB_API_KEY}
made: '${oc.create:{k: ${oc.env:WANDB_API_KEY}}}'
hydra:
  callbacks:
    resolved_config:
      _target_: bounded_lr_resolver.callbacks.SaveResolvedConfig
"""


@pytest.mark.slow
def test_users_app_record_has_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = write_app(tmp_path, "print('ran')", {"config.yaml": USER_APP})
    own = (  # the app's own resolver that reads the environment, registered as the stack wants
        "import inspect, os\n"
        "register = OmegaConf.register_resolver\n"
        "if 'annotation_validation' not in inspect.signature(register).parameters:\n"
        "    register = OmegaConf.register_new_resolver\n"
        "register('myenv', lambda name: os.environ[name])\n"
    )
    app.write_text(
        app.read_text().replace(
            "@hydra.main",
            own + "import bounded_lr_resolver\nbounded_lr_resolver.trust_our_callbacks()\n\n@hydra.main",
            1,
        )
    )
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    run([sys.executable, str(app), f"hydra.run.dir={tmp_path / 'job'}"], cwd=tmp_path)
    record_file = tmp_path / "job" / "resolved_config.yaml"
    text = record_file.read_text()
    assert SECRET not in text
    record = yaml.safe_load(text)
    assert record["wandb"] == {
        "api_key": "${oc.env:WANDB_API_KEY}",
        "header": "Bearer ${wandb.api_key}",
        "alias": "${oc.select:wandb.api_key}",
        "values": "${oc.dict.values:creds}",
        "made_k": "${made.k}",
        "own": "${myenv:WANDB_API_KEY}",
        "job": "my_app",  # Hydra's own resolver is pure: resolved
    }
    assert record["scheduler"]["gamma"] == pytest.approx(0.999309463003, abs=1e-12)
    assert record["scheduler"]["step_size"] == 100
    assert not stat.S_IMODE(record_file.stat().st_mode) & 0o002  # not world-writable
    assert [p.name for p in (tmp_path / "job").iterdir() if p.name.endswith(".partial")] == []
