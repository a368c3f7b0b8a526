"""Real Hydra apps, written as users write them, run as subprocesses on the installed package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bounded_lr_resolver.options import OPTIONS
from tests.conftest import HYDRA_14, run_app, write_app

SEED_GAMMA = 0.999309463003

PRINT_RESOLVED = "print('RESOLVED', __import__('json').dumps(OmegaConf.to_container(cfg, resolve=True)))"


def resolved(output: str) -> list[dict[str, object]]:
    return [json.loads(line.split(" ", 1)[1]) for line in output.splitlines() if line.startswith("RESOLVED ")]


# Loky workers are killed at shutdown, so what a job prints can be lost unflushed: multi-process
# sweeps record each job's resolved config (and pid) in the job's own output directory instead.
RECORD_RESOLVED = """\
import json, os
from hydra.core.hydra_config import HydraConfig
record = {"pid": os.getpid(), "cfg": OmegaConf.to_container(cfg, resolve=True)}
out = HydraConfig.get().runtime.output_dir
with open(os.path.join(out, "resolved.json"), "w") as f:
    json.dump(record, f)
"""


def recorded(sweep_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(sweep_dir.glob("*/resolved.json"))]


USER_CONFIG = """\
lit:
  gamma: ${lr_gamma:0.1,1e-4,10000}
  step: ${lr_step:1e6,1e4}
  milestones: ${blr.milestones:10,3}
sched:
  initial_lr: 0.1
  final_lr: 1e-4
  max_steps: 1000000
  n_updates: 10000
  gamma: ${lr_gamma:${.initial_lr},${.final_lr},${.n_updates}}
  step_size: ${lr_step:${.max_steps},${.n_updates}}
"""


@pytest.fixture
def user_app(tmp_path: Path) -> Path:
    """An app that never imports bounded_lr_resolver: the resolvers come from the plugin alone."""
    return write_app(tmp_path, PRINT_RESOLVED, {"config.yaml": USER_CONFIG})


@pytest.mark.slow
def test_user_app_reproduces_the_seed_example(user_app: Path) -> None:
    [cfg] = resolved(run_app(user_app).stdout)
    assert abs(cfg["lit"]["gamma"] - SEED_GAMMA) < 1e-12  # type: ignore[index]
    assert cfg["lit"]["step"] == 100  # type: ignore[index]
    assert cfg["lit"]["milestones"] == [3, 6, 10]  # type: ignore[index]
    assert abs(cfg["sched"]["gamma"] - SEED_GAMMA) < 1e-12  # type: ignore[index]
    assert cfg["sched"]["step_size"] == 100  # type: ignore[index]


@pytest.mark.slow
def test_cli_override_rederives_gamma(user_app: Path) -> None:
    [cfg] = resolved(run_app(user_app, "sched.final_lr=1e-5").stdout)
    assert abs(cfg["sched"]["gamma"] - (1e-4) ** (1 / 10000)) < 1e-15  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_multirun_over_final_lr(tmp_path: Path, launcher: str) -> None:
    app = write_app(tmp_path, RECORD_RESOLVED, {"config.yaml": USER_CONFIG})
    sweep = ["-m", "sched.final_lr=1e-3,1e-4,1e-5", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    overrides = [*sweep, f"hydra/launcher={launcher}"]
    if launcher == "joblib":
        overrides.append("hydra.launcher.n_jobs=2")
    run_app(app, *overrides)
    gammas = sorted(record["cfg"]["sched"]["gamma"] for record in recorded(tmp_path / "sweep"))
    expected = sorted((f / 0.1) ** (1 / 10000) for f in (1e-3, 1e-4, 1e-5))
    assert gammas == pytest.approx(expected, rel=1e-15)


INSTANTIATE = (
    "instantiate(cfg.scheduler, _execution_whitelist_=['bounded_lr_resolver.build_scheduler'])"
    if HYDRA_14
    else "instantiate(cfg.scheduler)"
)
SHIPPED_GROUP_APP = f"""
import torch
from hydra.utils import instantiate
optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.scheduler.initial_lr)
scheduler = {INSTANTIATE}(optimizer=optimizer)
lrs = []
for _ in range(cfg.scheduler.max_steps):
    optimizer.step()
    scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])
print("RESULT", type(scheduler).__name__, lrs[-2], lrs[-1], sum(b < a for a, b in zip(lrs, lrs[1:])))
"""


SHIPPED_STEP = "defaults:\n  - bounded_lr@scheduler: step\n  - _self_\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("group", "overrides", "last_two", "decays"),
    [
        pytest.param("step", [], (1e-3, 1e-4), 3, id="step"),
        pytest.param("multistep", ["scheduler.max_steps=1000"], (1e-3, 1e-4), 3, id="multistep-uneven"),
        pytest.param(
            "step",
            ["scheduler.final_lr_at=last_step", "scheduler.max_steps=1200"],
            (1e-4, 1e-4),
            3,
            id="step-last-step",
        ),
        pytest.param(
            "exponential",
            ["scheduler.max_steps=30", "scheduler.n_updates=30"],
            (None, 1e-4),
            29,
            id="exponential",
        ),
        pytest.param(
            "step",
            ["scheduler.warmup_steps=200", "scheduler.max_steps=1400"],
            (1e-3, 1e-4),
            3,
            id="step-warmup",
        ),
    ],
)
def test_shipped_group_through_defaults(
    tmp_path: Path, group: str, overrides: list[str], last_two: tuple[float | None, float], decays: int
) -> None:
    config = (
        f"defaults:\n  - bounded_lr@scheduler: {group}\n  - _self_\n"
        "scheduler:\n  max_steps: 999\n  n_updates: 3\n"
    )
    app = write_app(tmp_path, SHIPPED_GROUP_APP, {"config.yaml": config})
    base = ["scheduler.max_steps=999"] if not overrides or "max_steps" not in " ".join(overrides) else []
    output = run_app(app, *base, *overrides).stdout
    [line] = [line for line in output.splitlines() if line.startswith("RESULT")]
    _, name, before_last, last, count = line.split()
    assert name == "BoundedLR"
    assert float(last) == last_two[1]
    if last_two[0] is not None:
        assert float(before_last) == pytest.approx(last_two[0], rel=1e-12)
    assert int(count) == decays


@pytest.mark.slow
def test_cfg_job_resolve_shows_derived_values(tmp_path: Path) -> None:
    app = write_app(tmp_path, "pass", {"config.yaml": SHIPPED_STEP})
    output = run_app(app, "--cfg", "job", "--resolve").stdout
    assert "gamma: 0.9993094630025899" in output
    assert "step_size: 100" in output
    assert "_target_: bounded_lr_resolver.build_scheduler" in output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "message"),
    [
        # rules: the derived keys refuse, naming resolver, argument, value and rule (and the key)
        pytest.param(
            "scheduler.final_lr=0.5",
            "blr.derived (gamma): final_lr must be in (0, initial_lr], got final_lr=0.5",
            id="above",
        ),
        pytest.param(
            "scheduler.n_updates=3",
            "blr.derived (gamma): max_steps must be a multiple of n_updates",
            id="non-divisible",
        ),
        pytest.param(
            "scheduler.warmup_steps=1000000",
            "blr.derived (gamma): warmup_steps must be in [0, max_steps)",
            id="warmup",
        ),
        pytest.param(
            "scheduler.final_lr=-1e-4",
            "blr.derived (gamma): final_lr must be a finite number > 0",
            id="negative",
        ),
        pytest.param(
            "scheduler.n_updates=0",
            "blr.derived (gamma): n_updates must be a whole number >= 1, got n_updates=0",
            id="zero",
        ),
        pytest.param(
            "scheduler.final_lr_at=end",
            "blr.derived (gamma): final_lr_at must be one of ['max_steps', 'last_step']",
            id="bad-convention",
        ),
        pytest.param(
            "scheduler.warmup_steps=0.3333333dur",
            "blr.derived (gamma): warmup_steps must be a whole number of steps, got "
            "warmup_steps='0.3333333dur', "
            "max_steps=1000000, steps=333333.3. Use 333333 steps (0.333333dur) or 333334 steps (0.333334dur)",
            id="duration-not-whole",
        ),
        # types: the typed schema refuses at compose time, naming the key
        pytest.param(
            "scheduler.final_lr=abc", "Value 'abc' of type 'str' could not be converted to Float", id="text"
        ),
        pytest.param(
            "scheduler.n_updates=1.5",
            "Value '1.5' of type 'float' could not be converted to Integer",
            id="fractional",
        ),
        pytest.param(
            "scheduler.initial_lr=[1,2]",
            "Value '[1, 2]' of type 'list' could not be converted to Float",
            id="list",
        ),
        # lengths take steps or durations: what is neither is refused by our rule, with the key
        pytest.param(
            "scheduler.max_steps=true",
            "blr.derived (gamma): max_steps must be a whole number, got max_steps=True (bool)",
            id="bool",
        ),
        pytest.param(
            "scheduler.max_steps=abc",
            "blr.derived (gamma): max_steps must be a whole number of steps or a duration: '<number>ep', "
            "'<number>dur' or '<number>tok', got max_steps='abc' (str)",
            id="length-text",
        ),
        pytest.param(
            "scheduler.max_steps=1e18", "blr.derived (gamma): max_steps must be <= 2**53", id="huge-float"
        ),
        pytest.param(
            "scheduler.max_steps=1000000000000000000",
            "blr.derived (gamma): max_steps must be <= 2**53",
            id="huge-int",
        ),
    ],
)
def test_bad_cli_override_fails_with_a_clear_message(tmp_path: Path, override: str, message: str) -> None:
    app = write_app(tmp_path, PRINT_RESOLVED, {"config.yaml": SHIPPED_STEP})
    result = run_app(app, override, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output, output
    assert "full_key: scheduler." in output
    assert "RESOLVED {" not in output


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_shipped_option_is_its_declaration(name: str) -> None:
    """One schema per option, generated: its kind, the option's values, and no derived list in the node."""
    from omegaconf import OmegaConf

    from bounded_lr_resolver import schema
    from bounded_lr_resolver.schedule import SCHEDULE_FIELDS, Schedule

    kind, _, declared = OPTIONS[name]
    node = OmegaConf.to_container(schema.schema_node(name), resolve=False)
    assert isinstance(node, dict)
    assert node["kind"] == kind
    for key, value in declared.items():
        assert node[key] == value, key
    assert not any(isinstance(value, list) for key, value in node.items() if key != "phases")
    call_only = {"_target_", "on_resume_change", "branch_of_branch", "expected_max_steps"}
    call_only |= {"gamma", "step_size"}
    assert set(node) - call_only <= set(SCHEDULE_FIELDS)
    assert node["expected_max_steps"] is None
    registered = OmegaConf.structured(schema.schema(name))
    fields = OmegaConf.to_container(registered, resolve=True)
    assert isinstance(fields, dict)
    Schedule(**{key: value for key, value in fields.items() if key in SCHEDULE_FIELDS})  # valid as shipped


LIST_APP_CONFIG = """\
boundaries: ${blr.milestones:12,3}
values: ${blr.values:0.1,1e-4,3}
torch_scheduler:
  _target_: torch.optim.lr_scheduler.MultiStepLR
  milestones: ${blr.milestones:12,3}
  gamma: ${lr_gamma:0.1,1e-4,3}
"""

LIST_APP = """\
import torch
from bounded_lr_resolver import instantiate_trusted
print("YAML", OmegaConf.to_yaml(cfg, resolve=True).replace("\\n", " "))
optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
scheduler = instantiate_trusted(
    cfg.torch_scheduler, optimizer=optimizer, allow=["torch.optim.lr_scheduler.MultiStepLR"]
)
lrs = []
for _ in range(12):
    optimizer.step()
    scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])
OmegaConf.resolve(cfg)
print("RESULT", __import__("json").dumps([list(cfg.boundaries), list(cfg["values"]), lrs[3], lrs[-1]]))
"""


@pytest.mark.slow
def test_list_resolvers_resolve_everywhere_in_untyped_keys(tmp_path: Path) -> None:
    """--cfg job --resolve, OmegaConf.resolve, to_yaml(resolve=True) and instantiate, on both stacks.

    OmegaConf 2.3's OmegaConf.resolve() refuses a resolver's plain list in an untyped node.
    """
    app = write_app(tmp_path, LIST_APP, {"config.yaml": LIST_APP_CONFIG})
    shown = run_app(app, "--cfg", "job", "--resolve").stdout
    assert "boundaries:\n- 4\n- 8\n- 12\nvalues:\n- 0.1\n" in shown
    assert "- 0.0001\ntorch_scheduler:\n" in shown
    assert "  milestones:\n  - 4\n  - 8\n  - 12\n" in shown
    output = run_app(app).stdout
    assert "YAML boundaries: - 4 - 8 - 12 values: - 0.1" in output
    [line] = [line for line in output.splitlines() if line.startswith("RESULT")]
    boundaries, values, after_4, after_12 = json.loads(line.split(" ", 1)[1])
    assert boundaries == [4, 8, 12]
    assert values[0] == 0.1
    assert values[-1] == 1e-4
    assert values[1:3] == pytest.approx([1e-2, 1e-3], rel=1e-12)
    assert after_4 == pytest.approx(1e-2, rel=1e-12)  # torch's MultiStepLR, fed the milestones and gamma
    assert after_12 == pytest.approx(1e-4, rel=1e-12)


@pytest.mark.slow
def test_group_placed_anywhere_with_a_package(tmp_path: Path) -> None:
    """The README's placements: at the top, inside a model config, and switched from the CLI."""
    configs = {
        "config.yaml": "defaults:\n  - bounded_lr@scheduler: step\n  - model: resnet\n  - _self_\n",
        "model/resnet.yaml": (
            "defaults:\n  - /bounded_lr@scheduler: multistep\n  - _self_\n"
            "depth: 18\nscheduler:\n  max_steps: 1000\n  n_updates: 3\n"
        ),
    }
    app = write_app(tmp_path, PRINT_RESOLVED, configs)
    [cfg] = resolved(run_app(app).stdout)
    assert cfg["scheduler"]["kind"] == "step"  # type: ignore[index]
    assert cfg["scheduler"]["step_size"] == 100  # type: ignore[index]
    assert cfg["model"]["scheduler"]["kind"] == "multistep"  # type: ignore[index]
    assert cfg["model"]["scheduler"]["gamma"] == pytest.approx(1e-3 ** (1 / 3), rel=1e-15)  # type: ignore[index]
    assert "milestones" not in cfg["model"]["scheduler"]  # type: ignore[operator]  # derived in code
    assert cfg["model"]["depth"] == 18  # type: ignore[index]
    [cfg] = resolved(run_app(app, "bounded_lr@scheduler=exponential", "scheduler.max_steps=10").stdout)
    assert cfg["scheduler"]["kind"] == "exponential"  # type: ignore[index]
    assert cfg["scheduler"]["n_updates"] == 10  # type: ignore[index]
    assert cfg["scheduler"]["gamma"] == pytest.approx(1e-3 ** (1 / 10), rel=1e-15)  # type: ignore[index]


@pytest.mark.parametrize(
    "kind", ["step", "multistep", "exponential", "cosine", "linear", "polynomial", "wsd"]
)
@pytest.mark.parametrize("warmup", [0, 120])
@pytest.mark.parametrize("at", ["max_steps", "last_step"])
def test_every_shipped_option_combination_composes_and_runs(
    tmp_path: Path, kind: str, warmup: int, at: str
) -> None:
    """Each shipped option with and without warmup, in both end conventions, composes and keeps its promise.

    The exponential option used to fix n_updates to max_steps, which is wrong with warmup or last_step.
    """
    import torch
    from hydra import compose, initialize_config_dir

    from bounded_lr_resolver import instantiate_trusted

    (tmp_path / "config.yaml").write_text(f"defaults:\n  - bounded_lr@scheduler: {kind}\n  - _self_\n")
    overrides = [
        "scheduler.max_steps=1200",
        f"scheduler.warmup_steps={warmup}",
        f"scheduler.final_lr_at={at}",
        "scheduler.final_lr=1e-3",
    ]
    if kind in ("step", "multistep"):
        overrides.append("scheduler.n_updates=3")
    if kind == "wsd":
        overrides.append("scheduler.decay_steps=300")
    if kind == "polynomial":
        overrides.append("scheduler.power=2")
    with initialize_config_dir(str(tmp_path), **({} if HYDRA_14 else {"version_base": "1.3"})):
        cfg = compose("config", overrides=overrides)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = instantiate_trusted(cfg.scheduler)(optimizer=optimizer)
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(1200):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    decays = sum(b < a for a, b in zip(lrs[warmup:], lrs[warmup + 1 :], strict=False))
    end = 1199 if at == "last_step" else 1200
    start = 900 if kind == "wsd" else warmup
    expected = {"step": 3, "multistep": 3}.get(kind, end - start)  # the shapes: every step
    assert decays == expected
    assert lrs[end] == 1e-3
    assert lrs[warmup] == 0.1
    assert lrs[start] == 0.1
    assert all(b <= a for a, b in zip(lrs[warmup:], lrs[warmup + 1 :], strict=False))
    assert scheduler.schedules[0].kind == kind


@pytest.mark.slow
def test_a_record_that_cannot_be_written_is_named_in_a_users_app(tmp_path: Path) -> None:
    """In your own app the callback cannot know whether the job will read the bad key (this one never
    does, and exits 0): its log line says which file is missing and where the config does not resolve.
    In ``bounded-lr``, which reports the error itself, the line is DEBUG (one message there)."""
    config = """\
    note: ${lr_gamma:0.1,0.2,10}
    hydra:
      callbacks:
        resolved_config:
          _target_: bounded_lr_resolver.callbacks.SaveResolvedConfig
    """
    app = write_app(tmp_path, "print('JOB RAN')", {"config.yaml": config})
    app.write_text(
        app.read_text().replace(
            "@hydra.main",
            "import bounded_lr_resolver\nbounded_lr_resolver.trust_our_callbacks()\n\n@hydra.main",
            1,
        )
    )
    result = run_app(app, f"hydra.run.dir={tmp_path / 'out'}")
    assert "JOB RAN" in result.stdout
    lines = [line.split("] - ", 1)[-1] for line in result.stdout.splitlines() if "SaveResolvedConfig" in line]
    assert lines == [
        "SaveResolvedConfig: resolved_config.yaml not written: the config does not resolve at note "
        "(InterpolationResolutionError)"
    ]
    assert "[ERROR]" in result.stdout
    assert not (tmp_path / "out" / "resolved_config.yaml").exists()
