"""``${blr.logspace:low,high,num,index}``: a log-spaced sweep Hydra's grammar cannot write (hydra#1944)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounded_lr_resolver.bounds import logspace
from bounded_lr_resolver.errors import BoundsError, BoundsTypeError
from tests.conftest import run_app, write_app


@settings(max_examples=300, deadline=None)
@given(
    low=st.floats(1e-12, 1e3),
    span=st.floats(1e-3, 1e6),
    num=st.integers(2, 200),
    descending=st.booleans(),
)
def test_matches_numpy_logspace_and_is_exact_at_both_ends(
    low: float, span: float, num: int, descending: bool
) -> None:
    high = low * span
    if descending:
        low, high = high, low
    values = [logspace(low, high, num, i) for i in range(num)]
    assert values[0] == low
    assert values[-1] == high
    assert values == pytest.approx(np.logspace(np.log10(low), np.log10(high), num).tolist(), rel=1e-12)


def test_decades_stay_round() -> None:
    assert [logspace(1e-6, 1e-3, 4, i) for i in range(4)] == [1e-6, 1e-5, 1e-4, 1e-3]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        pytest.param(
            (1e-6, 1e-3, 4, 4),
            BoundsError,
            "blr.logspace: index must be in [0, num), got index=4, num=4",
            id="index",
        ),
        pytest.param(
            (1e-6, 1e-3, 1, 0),
            BoundsError,
            "blr.logspace: num must be a whole number >= 2, got num=1",
            id="num",
        ),
        pytest.param(
            (0, 1e-3, 4, 0), BoundsError, "blr.logspace: low must be a finite number > 0, got low=0", id="low"
        ),
        pytest.param(
            (1e-6, "1e-3", 4, 0),
            BoundsTypeError,
            "blr.logspace: high must be a number (int or float), got high='1e-3' (str). Write the number "
            "without quotes; a number from an environment variable is text: decode it with "
            "${oc.decode:${oc.env:NAME}}",
            id="text",
        ),
        pytest.param(
            (1e-6, 1e-3, 4, 1.5),
            BoundsError,
            "blr.logspace: index must be a whole number, got index=1.5",
            id="fraction",
        ),
    ],
)
def test_bad_arguments(args: tuple[object, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        logspace(*args, where="blr.logspace")
    assert str(caught.value) == message


@pytest.mark.slow
def test_a_log_spaced_multirun(tmp_path: Path) -> None:
    body = "print('RESULT', __import__('json').dumps({'i': cfg.i, 'final_lr': cfg.scheduler.final_lr}))"
    config = (
        "defaults:\n  - bounded_lr@scheduler: multistep\n  - _self_\n"
        "i: 0\nscheduler:\n  final_lr: ${blr.logspace:1e-6,1e-3,4,${i}}\n"
    )
    app = write_app(tmp_path, body, {"config.yaml": config})
    output = run_app(app, "-m", "i=range(4)", f"hydra.sweep.dir={tmp_path / 'sweep'}").stdout
    seen = [json.loads(line.split(" ", 1)[1]) for line in output.splitlines() if line.startswith("RESULT")]
    assert [row["final_lr"] for row in sorted(seen, key=lambda row: row["i"])] == [1e-6, 1e-5, 1e-4, 1e-3]
