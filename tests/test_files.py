"""Records you can trust: a full disk, a read-only folder or SIGTERM never leaves a cut-off file.

The disk-full and read-only cases use a real, small tmpfs (the tests run as root, as CI does);
they are skipped with the reason where mounting is not allowed.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from bounded_lr_resolver.callbacks import SaveResolvedConfig, failed_writes
from tests.conftest import run
from tests.test_main_job import BOUNDED_LR


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob("*.partial"))


SMALL = ["scheduler=multistep", "scheduler.n_updates=100", "plot=false"]
# the record holds what resolves: a key of 10**4 milestones makes it ~90 KB (Hydra's own files keep the
# interpolation, a few bytes; the schedule itself is a few declared keys); the CSV is ~250 KB
BIG = [
    "scheduler=multistep",
    "scheduler.n_updates=10000",
    "plot=false",
    "+marks=${blr.milestones:1000000,10000}",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "lost"),
    [
        pytest.param("64k", "resolved_config.yaml", id="record"),  # the callback's file
        pytest.param("160k", "schedule.csv", id="csv"),  # the job's own file
    ],
)
def test_full_disk_keeps_the_old_files_and_fails_the_main_job(tmp_path: Path, size: str, lost: str) -> None:
    with tmpfs(tmp_path / "disk", size) as disk:
        job = disk / "job"
        run([BOUNDED_LR, f"hydra.run.dir={job}", *SMALL], cwd=tmp_path)
        old = {name: (job / name).read_bytes() for name in ("schedule.csv", "resolved_config.yaml")}
        result = run([BOUNDED_LR, f"hydra.run.dir={job}", *BIG], cwd=tmp_path, check=False)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"Error: bounded-lr: could not write {job / lost}" in result.stderr, result.stderr
        assert "No space left on device" in result.stderr
        assert "Traceback" not in result.stderr
        assert (job / lost).read_bytes() == old[lost]  # the previous complete file, not a cut-off one
        record = yaml.safe_load((job / "resolved_config.yaml").read_text())  # old or new, complete
        assert record["scheduler"]["n_updates"] in (100, 10_000)
        assert leftovers(job) == []


@pytest.mark.slow
def test_read_only_folder_keeps_the_old_record_and_says_which_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "64k") as folder:
        (folder / "resolved_config.yaml").write_text("complete: true\n")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        config = OmegaConf.create({"x": 1, "hydra": {"runtime": {"output_dir": str(folder)}}})
        before = len(failed_writes)
        with pytest.raises(OSError, match="Read-only file system") as caught:
            SaveResolvedConfig().on_job_start(config)
        assert failed_writes[before:] == [caught.value]  # recorded for the main job, naming the file
        assert caught.value.filename == str(folder / "resolved_config.yaml")
        assert (folder / "resolved_config.yaml").read_text() == "complete: true\n"
        del failed_writes[before:]


SLOW_WRITER = """
import sys, time
from pathlib import Path
from bounded_lr_resolver.files import atomic_write
def write(temporary):
    with temporary.open("w") as stream:
        stream.write("half")
        stream.flush()
        print("WRITING", flush=True)
        time.sleep(30)
atomic_write(Path(sys.argv[1]), write)
"""


@pytest.mark.slow
def test_sigterm_mid_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "resolved_config.yaml"
    target.write_text("complete: true\n")
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(target)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "WRITING"
    assert len(leftovers(tmp_path)) == 1  # the temporary file exists while writing
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == -signal.SIGTERM  # it still ends as SIGTERM ends a process
    process.stdout.close()
    assert leftovers(tmp_path) == []
    assert target.read_text() == "complete: true\n"


@pytest.mark.slow
def test_a_handler_someone_else_installed_is_left_alone(tmp_path: Path) -> None:
    code = (
        "import signal\nfrom pathlib import Path\nfrom bounded_lr_resolver.files import atomic_write_text\n"
        "mine = lambda *a: None\nsignal.signal(signal.SIGTERM, mine)\n"
        f"atomic_write_text(Path({str(tmp_path / 'x.txt')!r}), 'x')\n"
        "print(signal.getsignal(signal.SIGTERM) is mine)\n"
    )
    assert run([sys.executable, "-c", code], cwd=tmp_path).stdout.strip() == "True"


DEEP = "[" * 200_000 + "]" * 200_000
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
    for previous, name in zip("abcde", "bcdef", strict=True)
)
DIGITS = "unreadable (an integer with more digits than Python converts)"


def nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param("r.json", '{"final_loss": 0.5}', {"final_loss": 0.5}, id="json"),
        pytest.param("r.json", '{"final_loss": ' + "1" * 5000 + "}", DIGITS, id="json-5000-digit-integer"),
        pytest.param("r.json", DEEP, "nested deeper than 64 levels", id="json-nested-200000-deep"),
        pytest.param("r.json", "[" * 65 + "]" * 65, "nested deeper than 64 levels", id="json-past-the-depth"),
        pytest.param("r.json", "[" * 64 + "]" * 64, nested(64), id="json-at-the-depth"),
        pytest.param("r.json", '{"a": "' + "[" * 100 + '"}', {"a": "[" * 100}, id="json-brackets-in-text"),
        pytest.param("r.json", '{"a": "' + "x" * 2**20 + '"}', "larger than 1048576 bytes", id="json-huge"),
        pytest.param("r.json", '{"final_loss": 0.', "unreadable (JSONDecodeError)", id="json-cut-off"),
        pytest.param("r.json", b"\xff\xfe", "not UTF-8 text", id="json-not-utf8"),
        pytest.param("r.json", None, "missing", id="json-missing"),
        pytest.param("c.yaml", "a: 1\nb: [1, 2]\n", {"a": 1, "b": [1, 2]}, id="yaml"),
        pytest.param("c.yaml", DEEP, "unreadable (ScannerError)", id="yaml-flow-nested-200000-deep"),
        pytest.param(
            "c.yaml", "[" * 65 + "]" * 65, "nested deeper than 64 levels", id="yaml-flow-past-the-depth"
        ),
        pytest.param(
            "c.yaml",
            "".join("  " * level + f"k{level}:\n" for level in range(70)) + "  " * 70 + "v: 1\n",
            "nested deeper than 64 levels",
            id="yaml-block-past-the-depth",
        ),
        pytest.param("c.yaml", BOMB, "more than 100000 values (aliases expanded)", id="yaml-alias-bomb"),
        pytest.param("c.yaml", "a: [1, 2\n", "unreadable (ParserError)", id="yaml-cut-off"),
        pytest.param(
            "c.yaml", "a: " + "1" * 5000 + "\n", "unreadable (ValueError)", id="yaml-5000-digit-integer"
        ),
    ],
)
def test_a_file_another_process_wrote_is_read_within_bounds(
    tmp_path: Path, name: str, content: str | bytes | None, expected: object
) -> None:
    from bounded_lr_resolver.files import load_json, load_yaml

    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    load = load_json if name.endswith(".json") else load_yaml
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=rf"^{re.escape(expected)}$"):
            load(path)
    else:
        loaded = load(path)
        assert (loaded if name.endswith(".json") else OmegaConf.to_container(loaded)) == expected


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_job_file_that_is_not_a_regular_file_is_refused_without_waiting(tmp_path: Path, kind: str) -> None:
    import os

    from bounded_lr_resolver.files import load_json

    path = tmp_path / "result.json"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")  # endless
    with pytest.raises(ValueError, match=r"^not a regular file$"):
        load_json(path)
