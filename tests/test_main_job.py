"""The ``bounded-lr`` console script end to end: summary, CSV, PNG and resolved config."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.optim.lr_scheduler import StepLR

from bounded_lr_resolver.curve import lr_curve
from bounded_lr_resolver.schedule import Schedule
from tests.conftest import run

pytestmark = pytest.mark.slow  # the bounded-lr main job run as a user runs it

BOUNDED_LR = str(Path(sys.executable).with_name("bounded-lr"))


def read_csv(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    with path.open() as stream:
        rows = list(csv.reader(stream))
    steps = np.array([int(r[0]) for r in rows[1:]])
    lrs = np.array([float(r[1]) for r in rows[1:]])
    return rows[0], steps, lrs


def test_default_job_is_the_seed_example(tmp_path: Path) -> None:
    output = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}"], cwd=tmp_path).stdout
    assert "gamma        0.9993094630025899" in output
    assert "step_size    100" in output
    assert "decays       10000" in output
    assert "bounds       HOLD" in output
    assert "999999  0.00010006910141684143   last training step" in output
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    shown = readme.split("```\nbounded-lr: step decay", 1)[1].split("```", 1)[0]
    assert output.strip() == ("bounded-lr: step decay" + shown).strip()  # the README's summary, line for line

    header, steps, lrs = read_csv(tmp_path / "schedule.csv")
    assert header == ["step", "lr"]
    schedule = Schedule(0.1, 1e-4, 10**6, 10**4)
    assert np.array_equal(lrs, lr_curve(schedule, steps))  # exact: 17 significant digits
    assert steps[0] == 0
    assert steps[-1] == 10**6
    assert lrs[-1] == 1e-4
    # the CSV lists every change point, so the LR is constant between rows
    assert set(range(100, 10**6 + 1, 100)) <= set(steps.tolist())

    assert not (tmp_path / "schedule.png").exists()  # plot=true draws it

    saved = yaml.safe_load((tmp_path / "resolved_config.yaml").read_text())
    assert saved["scheduler"]["gamma"] == pytest.approx(0.999309463003, abs=1e-12)
    assert saved["scheduler"]["step_size"] == 100


_LOADED = (
    "import sys\n"
    "from bounded_lr_resolver.app import main\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    print('loaded', sorted(name for name in ('torch', 'matplotlib') if name in sys.modules))\n"
)


@pytest.mark.parametrize(
    ("args", "loaded"),
    [
        pytest.param([], [], id="preview-loads-neither"),
        pytest.param(["scheduler=cosine_to_zero"], [], id="shape-preview-loads-neither"),
        pytest.param(["plot=true"], ["matplotlib"], id="plot-loads-matplotlib"),
        pytest.param(
            ["verify=true", "scheduler.max_steps=1000", "scheduler.n_updates=10"], ["torch"], id="verify"
        ),
        pytest.param(["optimizer.tensor_lr=true"], ["torch"], id="tensor-lr"),
        pytest.param(["optimizer.lr=0.05"], ["torch"], id="other-optimizer-lr-goes-to-the-factory"),
    ],
)
def test_what_the_job_loads(tmp_path: Path, args: list[str], loaded: list[str]) -> None:
    """The plain preview is the closed form: torch and matplotlib load only where the job needs them."""
    done = run([sys.executable, "-c", _LOADED, f"hydra.run.dir={tmp_path}", *args], cwd=tmp_path, check=False)
    assert done.stdout.splitlines()[-1] == f"loaded {loaded}", done.stdout + done.stderr
    assert (tmp_path / "schedule.png").exists() == ("plot=true" in args)
    if "optimizer.lr=0.05" in args:  # the factory's own message, as before the preview went torch-free
        assert done.returncode == 1
        assert "initial_lr must be the optimizer's (largest param group's) lr" in done.stderr
    else:
        assert done.returncode == 0, done.stderr


def test_plot_true_draws_the_png(tmp_path: Path) -> None:
    run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", "plot=true"], cwd=tmp_path)
    png = (tmp_path / "schedule.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 20_000
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(tmp_path / "schedule.png").shape
    assert width >= 800
    assert height >= 400


def test_csv_matches_the_real_torch_scheduler(tmp_path: Path) -> None:
    args = ["scheduler.max_steps=1200", "scheduler.n_updates=12", "verify=true", "plot=false"]
    output = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", *args], cwd=tmp_path).stdout
    assert "stepped the real torch scheduler 1200 times: every LR equals the closed form" in output
    _, steps, lrs = read_csv(tmp_path / "schedule.csv")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    oracle = StepLR(optimizer, 100, (1e-3) ** (1 / 12))
    torch_lrs = [0.1]
    for _ in range(1200):
        optimizer.step()
        oracle.step()
        torch_lrs.append(optimizer.param_groups[0]["lr"])
    assert np.allclose(lrs, np.array(torch_lrs)[steps], rtol=1e-12, atol=0)


def test_warmup_and_last_step_show_in_summary(tmp_path: Path) -> None:
    args = [
        "scheduler=multistep",
        "scheduler.max_steps=1000",
        "scheduler.n_updates=3",
        "scheduler.warmup_steps=100",
        "scheduler.final_lr_at=last_step",
        "optimizer.tensor_lr=true",
        "verify=true",
        "plot=true",
    ]
    output = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", *args], cwd=tmp_path).stdout
    assert "100  0.1                      end of warmup" in output
    assert "999  0.0001                   last training step" in output
    assert "every LR equals the closed form" in output
    assert (tmp_path / "schedule.png").stat().st_size > 20_000


@pytest.mark.parametrize(
    ("option", "extra", "oracle"),
    [
        pytest.param(
            "cosine", [], lambda t: 1e-4 + (0.1 - 1e-4) * (1 + np.cos(np.pi * t / 1200)) / 2, id="cosine"
        ),
        pytest.param("linear", [], lambda t: 0.1 + (1e-4 - 0.1) * t / 1200, id="linear"),
        pytest.param(
            "polynomial",
            ["scheduler.power=0.5"],
            lambda t: 1e-4 + (0.1 - 1e-4) * (1 - t / 1200) ** 0.5,
            id="polynomial",
        ),
        pytest.param(
            "wsd",
            ["scheduler.decay_steps=200", "scheduler.decay_shape=sqrt"],
            lambda t: 1e-4 + (0.1 - 1e-4) * (1 - np.sqrt(np.clip(t - 1000, 0, 200) / 200)),
            id="wsd",
        ),
    ],
)
def test_every_shape_previews_verifies_and_plots(
    tmp_path: Path, option: str, extra: list[str], oracle
) -> None:  # type: ignore[no-untyped-def]
    """scheduler=<shape>: the summary, the CSV against the formula, verify=true and the PNG."""
    args = [
        f"scheduler={option}",
        "scheduler.max_steps=1200",
        "verify=true",
        "optimizer.tensor_lr=true",
        "plot=true",
        *extra,
    ]
    output = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", *args], cwd=tmp_path).stdout
    assert f"bounded-lr: {option} decay 0.1 -> 0.0001 over 1200 steps" in output
    assert "bounds       HOLD" in output
    assert "stepped the real torch scheduler 1200 times: every LR equals the closed form" in output
    assert "1200  0.0001                   first step at final_lr, after max_steps" in output
    _, steps, lrs = read_csv(tmp_path / "schedule.csv")
    # a row at every step that changes the LR: every step of the decay (wsd holds until step 1000)
    assert steps.tolist() == ([0, *range(1000, 1201)] if option == "wsd" else list(range(1201)))
    assert np.allclose(lrs[:-1], oracle(steps[:-1]), rtol=1e-12, atol=0)
    assert lrs[-1] == 1e-4
    assert (tmp_path / "schedule.png").stat().st_size > 20_000
    saved = yaml.safe_load((tmp_path / "resolved_config.yaml").read_text())
    assert saved["scheduler"]["kind"] == option


def test_sweep_over_final_lr(tmp_path: Path) -> None:
    output = run(
        [BOUNDED_LR, "-m", f"hydra.sweep.dir={tmp_path}", "scheduler.final_lr=1e-3,1e-4,1e-5", "plot=false"],
        cwd=tmp_path,
    ).stdout
    assert output.count("bounds       HOLD") == 3
    for job in range(3):
        _, _, lrs = read_csv(tmp_path / str(job) / "schedule.csv")
        assert lrs[-1] == (1e-3, 1e-4, 1e-5)[job]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            ["scheduler.final_lr=0.2"],
            "Error: blr.derived (gamma): final_lr must be in (0, initial_lr], got final_lr=0.2, "
            "initial_lr=0.1. "
            "A bounded decay ends at or below where it starts; were the two swapped?\n"
            "    config key: scheduler.gamma",
            id="resolver",
        ),
        pytest.param(
            ["task=train", "task.batch_size=0"],
            "Error: bounded-lr: task.batch_size must be a whole number >= 1, got task.batch_size=0",
            id="batch-size",
        ),
        pytest.param(
            ["task=train", "task.samples=0"],
            "Error: bounded-lr: task.samples must be a whole number >= 1, got task.samples=0",
            id="samples",
        ),
        pytest.param(
            ["verify=maybe"],
            "Error: bounded-lr: verify must be true or false, got verify='maybe' (str)",
            id="verify",
        ),
        pytest.param(
            ["optimizer.group_lrs=abc"],
            "Error: bounded-lr: optimizer.group_lrs must be a non-empty list of learning rates, or null, "
            "got optimizer.group_lrs='abc' (str)",
            id="group-lrs-text",
        ),
        pytest.param(
            ["optimizer.group_lrs=[0.1,-1]"],
            "Error: bounded-lr: optimizer.group_lrs[1] must be a finite number > 0, "
            "got optimizer.group_lrs[1]=-1",
            id="group-lrs-negative",
        ),
    ],
)
def test_bad_value_is_one_clear_message_and_a_failing_exit(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    result = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", *overrides], cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 6, result.stderr
    assert not (tmp_path / "schedule.csv").exists()
    assert not (tmp_path / "train.csv").exists()


def test_full_error_keeps_the_traceback(tmp_path: Path) -> None:
    env_run = [
        "env",
        "HYDRA_FULL_ERROR=1",
        BOUNDED_LR,
        f"hydra.run.dir={tmp_path}",
        "scheduler.final_lr=0.2",
    ]
    result = run(env_run, cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "blr.derived (gamma): final_lr must be in (0, initial_lr]" in result.stderr


def test_summary_says_what_each_param_group_ends_at(tmp_path: Path) -> None:
    args = [
        "optimizer.group_lrs=[0.01,0.1]",
        "scheduler.max_steps=1000",
        "scheduler.n_updates=10",
        "verify=true",
        "plot=false",
    ]
    output = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", *args], cwd=tmp_path).stdout
    assert "groups       group 0: 0.01 -> 1e-05; group 1: 0.1 -> 0.0001" in output
    assert "every LR equals the closed form" in output
    result = run(
        [BOUNDED_LR, f"hydra.run.dir={tmp_path}", "optimizer.group_lrs=[0.01,0.05]"],
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0
    assert (
        "build_scheduler: initial_lr must be the optimizer's (largest param group's) lr, got initial_lr=0.1, "
        "optimizer lrs=[0.01, 0.05]" in result.stderr
    )


FULL_ERROR = "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.\n"
NUMBER = "must be a number (int or float)"
FINITE = "must be a finite number > 0"
QUOTES = "Write the number without quotes, e.g. 1e-4"
PREVIEW_ONLY = (
    "{key} must be {default} with task=train ({why}), got {key}={value}. {key} is for the preview: "
)
PREVIEW_ONLY += "drop task=train, or drop {key}"


def preview_only(key: str, default: str, why: str, value: str) -> str:
    return PREVIEW_ONLY.format(key=key, default=default, why=why, value=value)


BAD_KEYS = [
    pytest.param(
        ["optimizer.lr=abc"], f"optimizer.lr {NUMBER}, got optimizer.lr='abc' (str). {QUOTES}", id="lr-text"
    ),
    pytest.param(
        ["optimizer.lr='0.1'"],
        f"optimizer.lr {NUMBER}, got optimizer.lr='0.1' (str). Write the number without quotes; a number "
        "from an environment variable is text: decode it with ${oc.decode:${oc.env:NAME}}",
        id="lr-quoted-number",
    ),
    pytest.param(
        ["optimizer.lr=null"],
        f"optimizer.lr {NUMBER}, got optimizer.lr=None (NoneType). Give the value in the config or on the "
        "command line",
        id="lr-null",
    ),
    pytest.param(
        ["optimizer.lr=[0.1]"], f"optimizer.lr {NUMBER}, got optimizer.lr=[0.1] (ListConfig)", id="lr-list"
    ),
    pytest.param(["optimizer.lr=true"], f"optimizer.lr {NUMBER}, got optimizer.lr=True (bool)", id="lr-bool"),
    pytest.param(["optimizer.lr=-0.1"], f"optimizer.lr {FINITE}, got optimizer.lr=-0.1", id="lr-negative"),
    pytest.param(["optimizer.lr=0"], f"optimizer.lr {FINITE}, got optimizer.lr=0", id="lr-zero"),
    pytest.param(["optimizer.lr=inf"], f"optimizer.lr {FINITE}, got optimizer.lr=inf", id="lr-inf"),
    pytest.param(
        ["optimizer.tensor_lr=yes"],
        "optimizer.tensor_lr must be true or false, got optimizer.tensor_lr='yes' (str)",
        id="tensor-lr-text",
    ),
    pytest.param(
        ["optimizer.group_lrs=[]"],
        "optimizer.group_lrs must be a non-empty list of learning rates, or null, got optimizer.group_lrs=[] "
        "(ListConfig)",
        id="group-lrs-empty",
    ),
    pytest.param(["plot=3"], "plot must be true or false, got plot=3 (int)", id="plot-int"),
    pytest.param(
        ["resume_from=3"],
        "resume_from must be a checkpoint path (or null), got resume_from=3 (int)",
        id="resume-int",
    ),
    pytest.param(
        ["resume_from=/nonexistent/last.ckpt"],
        "resume_from must be an existing checkpoint file, got resume_from='/nonexistent/last.ckpt'",
        id="resume-missing",
    ),
    pytest.param(
        ["task=train", "resume_from=/nonexistent/last.ckpt"],
        "resume_from must be an existing checkpoint file, got resume_from='/nonexistent/last.ckpt'",
        id="train-resume-missing",
    ),
    pytest.param(
        ["task=train", "optimizer.tensor_lr=true"],
        preview_only("optimizer.tensor_lr", "false", "the MLP trains with a float LR", "True"),
        id="train-tensor-lr",
    ),
    pytest.param(
        ["task=train", "optimizer.group_lrs=[0.01,0.05]"],
        preview_only("optimizer.group_lrs", "null", "the MLP trains with one param group", "[0.01, 0.05]"),
        id="train-group-lrs",
    ),
    pytest.param(
        ["task.name=bogus"],
        "task.name must be 'preview', the option chosen with task=preview, got task.name='bogus'. Choose the "
        "task with task=preview or task=train",
        id="task-name-bogus",
    ),
    pytest.param(
        ["task=train", "task.name=preview"],
        "task.name must be 'train', the option chosen with task=train, got task.name='preview'. Choose the "
        "task with task=preview or task=train",
        id="task-name-other-option",
    ),
    pytest.param(
        ["task=train", "task.samples=1.5"],
        "task.samples must be a whole number, got task.samples=1.5",
        id="samples",
    ),
    pytest.param(
        ["task=train", "task.features=0"],
        "task.features must be a whole number >= 1, got task.features=0",
        id="features",
    ),
    pytest.param(
        ["task=train", "task.hidden=true"],
        "task.hidden must be a whole number, got task.hidden=True (bool)",
        id="hidden",
    ),
    pytest.param(
        ["task=train", "task.batch_size=0"],
        "task.batch_size must be a whole number >= 1, got task.batch_size=0",
        id="batch-size",
    ),
    pytest.param(["verify=maybe"], "verify must be true or false, got verify='maybe' (str)", id="verify"),
    pytest.param(
        ["task=train", "task.seed=-1"], "task.seed must be a whole number >= 0, got task.seed=-1", id="seed"
    ),
    pytest.param(
        ["task=train", "task.momentum=1"],
        "task.momentum must be a number in [0, 1), got task.momentum=1",
        id="momentum",
    ),
    pytest.param(
        ["task=train", "task.momentum=abc"],
        "task.momentum must be a number in [0, 1), got task.momentum='abc' (str)",
        id="momentum-text",
    ),
    pytest.param(
        ["task=train", "task.progress=maybe"],
        "task.progress must be true or false, got task.progress='maybe' (str)",
        id="progress",
    ),
    pytest.param(
        ["task=train", "task.save_every=0"],
        "task.save_every must be a whole number >= 1, got task.save_every=0",
        id="save-every",
    ),
]
"""Each key of the job's own schema refused before anything runs: overrides, message after 'bounded-lr: '."""


@pytest.mark.parametrize(("overrides", "message"), BAD_KEYS)
def test_every_job_key_is_one_message_and_exit_1_before_anything_runs(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    """A bare torch traceback (optimizer.lr=abc), a silent exit 0 (task=train resume_from=...), a
    preview for task.name=bogus: now each is the job's one message, the whole of stderr, and torch
    is never loaded."""
    result = run(
        [sys.executable, "-c", _LOADED, f"hydra.run.dir={tmp_path}", *overrides], cwd=tmp_path, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == f"Error: bounded-lr: {message}\n{FULL_ERROR}"
    assert result.stdout.splitlines()[-1] == "loaded []"
    assert not (tmp_path / "schedule.csv").exists()


def test_a_value_interpolated_into_a_job_key_is_reported_where_it_was_set(tmp_path: Path) -> None:
    """``optimizer.lr`` is ``${scheduler.initial_lr}``: a bad initial_lr is the scheduler's own error, at
    its key, and the one message (the record's callback says nothing where the job reports)."""
    result = run(
        [BOUNDED_LR, f"hydra.run.dir={tmp_path}", "scheduler.initial_lr=-1"], cwd=tmp_path, check=False
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: blr.derived (gamma): initial_lr must be a finite number > 0, got initial_lr=-1.0\n"
        f"    config key: scheduler.gamma\n{FULL_ERROR}"
    )
    assert "SaveResolvedConfig" not in result.stdout + result.stderr


def test_an_unknown_job_key_is_refused_by_the_schema(tmp_path: Path) -> None:
    result = run(
        [BOUNDED_LR, f"hydra.run.dir={tmp_path}", "optimizer.momentum=0.9"], cwd=tmp_path, check=False
    )
    assert result.returncode == 1
    assert "Key 'momentum' not in 'OptimizerConf'" in result.stderr
    assert "full_key: optimizer.momentum" in result.stderr
    added = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", "+note=baseline"], cwd=tmp_path)
    assert "bounds       HOLD" in added.stdout  # a key of your own is still added with +


def test_train_reads_its_keys_normalized(tmp_path: Path) -> None:
    """``task.samples=4e3`` (Hydra reads a float) passed the check and then failed in torch.randn; a
    duration for max_steps failed in int()."""
    args = ["task=train", "task.samples=4e3", "task.progress=false", "scheduler.max_steps=3ep"]
    args += ["scheduler.steps_per_epoch=10", "scheduler.n_updates=3"]
    output = run([BOUNDED_LR, f"hydra.run.dir={tmp_path}", *args], cwd=tmp_path).stdout
    assert "trained 30 steps; the LR of each: every LR equals the closed form" in output
    assert "(MSE on all 4000 samples)" in output


def test_the_table_covers_every_key_of_the_schema() -> None:
    """A key added to the schema without a row here fails: each one's rule is exercised end to end."""
    import dataclasses

    from bounded_lr_resolver.job_schema import JobConf, OptimizerConf, TrainTaskConf

    ruled = {
        f"{prefix}{item.name}"
        for prefix, schema in (("", JobConf), ("optimizer.", OptimizerConf), ("task.", TrainTaskConf))
        for item in dataclasses.fields(schema)
        if "rule" in item.metadata
    }
    covered = {str(row.values[1]).split(" ", 1)[0] for row in BAD_KEYS}
    assert ruled == covered
