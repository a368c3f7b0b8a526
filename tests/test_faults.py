"""Faults and multi-process use: reused workers, rescans, double registration, and no eval anywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_app, write_app
from tests.test_hydra_apps import PRINT_RESOLVED, RECORD_RESOLVED, USER_CONFIG, recorded, resolved

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def user_app(tmp_path: Path) -> Path:
    return write_app(tmp_path, PRINT_RESOLVED, {"config.yaml": USER_CONFIG})


def expected_gammas(finals: list[float]) -> list[float]:
    return sorted((final / 0.1) ** (1 / 10000) for final in finals)


@pytest.mark.slow
def test_joblib_workers_reused_across_batches(tmp_path: Path) -> None:
    """max_batch_size=2 makes the sweeper call the launcher 3 times; loky reuses its workers."""
    app = write_app(tmp_path, RECORD_RESOLVED, {"config.yaml": USER_CONFIG})
    finals = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7]
    sweep = ",".join(map(str, finals))
    run_app(
        app,
        "-m",
        f"sched.final_lr={sweep}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.max_batch_size=2",
    )
    records = recorded(tmp_path / "sweep")
    gammas = sorted(record["cfg"]["sched"]["gamma"] for record in records)
    assert gammas == pytest.approx(expected_gammas(finals), rel=1e-15)
    assert len({record["pid"] for record in records}) < len(finals), "loky did not reuse its workers"


@pytest.mark.slow
def test_submitit_local_launcher(user_app: Path, tmp_path: Path) -> None:
    finals = [1e-3, 1e-5]
    run_app(
        user_app,
        "-m",
        "sched.final_lr=1e-3,1e-5",
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "hydra.launcher.timeout_min=5",
    )
    logs = sorted((tmp_path / "sweep").glob("**/*_log.out"))
    configs = resolved("".join(log.read_text() for log in logs))
    gammas = sorted(cfg["sched"]["gamma"] for cfg in configs)  # type: ignore[index]
    assert gammas == pytest.approx(expected_gammas(finals), rel=1e-15)


@pytest.mark.slow
def test_explicit_registration_and_plugin_in_one_process(tmp_path: Path) -> None:
    """A user who also calls register_resolvers() (before and inside the app) gets no error or warning."""
    body = "import bounded_lr_resolver\nbounded_lr_resolver.register_resolvers()\n" + PRINT_RESOLVED
    app = write_app(tmp_path, body, {"config.yaml": USER_CONFIG})
    source = app.read_text()
    app.write_text("import bounded_lr_resolver\nbounded_lr_resolver.register_resolvers()\n" + source)
    [cfg] = resolved(run_app(app, "-m", "sched.n_updates=10000").stdout)
    assert cfg["lit"]["step"] == 100  # type: ignore[index]


def test_no_eval_or_exec_in_the_package() -> None:
    """Configs are data: no eval/exec (the classic arithmetic-resolver hole), no dynamic imports."""
    sources = [
        *ROOT.joinpath("bounded_lr_resolver").rglob("*.py"),
        *ROOT.joinpath("hydra_plugins").rglob("*.py"),
    ]
    assert len(sources) >= 10
    banned = re.compile(
        # the builtins (re.compile is a method, not code execution)
        r"(?<!\.)\b(eval|exec|compile|__import__)\s*\(|\bimportlib\.import_module\(\s*(?!f\"bounded_lr_resolver\.)"
    )
    offenders = [
        f"{path}: {line.strip()}"
        for path in sources
        for line in path.read_text().splitlines()
        if banned.search(line)
    ]
    assert offenders == []
