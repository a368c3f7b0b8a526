"""Files the way a careful tool handles them: written atomically, and read back with bounds.

Writing: a temporary name in the same folder, then a rename. A reader (or a later run) sees the
previous complete file or the new complete one, never a cut-off one: an interrupted or failed
write (a full disk, a read-only folder, Ctrl-C, SIGTERM) removes its temporary file and leaves
the old file intact, and the error propagates.

Reading a file another process wrote (a job's ``result.json``, its ``.hydra/config.yaml``, the
sweep's records): :func:`load_json` and :func:`load_yaml` treat it as untrusted input. They read
at most :data:`MAX_BYTES`, refuse nesting deeper than :data:`MAX_DEPTH` before parsing (so the
parser never recurses that far), and YAML aliases that expand past :data:`MAX_NODES` values; every
way a file can be bad (missing, not a regular file, too large, not UTF-8, cut off, an integer past
Python's digit limit) raises ``ValueError`` with a short reason, never anything else.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, Final

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "atomic_write",
    "atomic_write_text",
    "load_json",
    "load_yaml",
]

MAX_BYTES: Final = 2**20
"""The most bytes read from a file another process wrote (1 MiB; a job's config is a few KB)."""

MAX_DEPTH: Final = 64
"""The deepest nesting of mappings and lists accepted in such a file."""

MAX_NODES: Final = 100_000
"""The most values a YAML file may hold once its aliases are expanded."""


class _Terminated(BaseException):
    """SIGTERM arrived while a file was being written (raised so the temporary file is removed)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _sigterm_cleans_up() -> Iterator[None]:
    """While writing, let SIGTERM unwind (removing the temporary file) before the process ends.

    Only where SIGTERM would otherwise kill the process outright (the default handler, in the main
    thread); a handler someone else installed (a launcher's, a trainer's) is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)  # end as SIGTERM would have, now that nothing is left
        raise
    finally:
        if signal.getsignal(signal.SIGTERM) is terminate:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _naming(error: OSError, path: Path) -> OSError:
    """The same error, naming the file the caller asked for rather than the temporary one."""
    return type(error)(error.errno, error.strerror, str(path))


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary)``, then rename the temporary file to ``path`` (mode as per umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_cleans_up():
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        except OSError as error:  # a read-only or full folder: name the file asked for
            raise _naming(error, path) from error
        os.close(handle)
        try:
            write(Path(temporary))
            os.chmod(temporary, 0o666 & ~_umask())
            os.replace(temporary, path)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise _naming(error, path) from error
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, flushed to disk before the rename."""

    def write(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())

    atomic_write(path, write)


class _OutOfBounds(ValueError):
    """A file past one of the bounds (its message says which)."""


def _text(path: Path) -> str:
    """At most :data:`MAX_BYTES` of a regular file, as UTF-8 text; ValueError says what is wrong."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not wait for a writer
    except FileNotFoundError:
        raise ValueError("missing") from None
    except OSError as error:
        raise ValueError(f"unreadable ({type(error).__name__}: {error.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise ValueError("not a regular file")
        data = b""
        while len(data) <= MAX_BYTES and (chunk := os.read(handle, MAX_BYTES + 1 - len(data))):
            data += chunk
    except OSError as error:
        raise ValueError(f"unreadable ({type(error).__name__}: {error.strerror})") from None
    finally:
        os.close(handle)
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _json_depth(text: str) -> int:
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def load_json(path: Path) -> Any:
    """A JSON file another process wrote, parsed within bounds; ValueError says what is wrong."""
    text = _text(path)
    if _json_depth(text) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("unreadable (JSONDecodeError)") from None
    except ValueError:  # the only other: an integer past Python's int-to-text digit limit
        raise ValueError("unreadable (an integer with more digits than Python converts)") from None


def _check_yaml_shape(text: str) -> None:
    """Walk the YAML's events (the parser does not recurse) counting depth and expanded values."""
    import yaml

    sizes: list[int] = [0]
    anchors_open: list[str | None] = [None]
    anchors: dict[str, int] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(sizes) > MAX_DEPTH:
                raise _OutOfBounds(f"nested deeper than {MAX_DEPTH} levels")
            sizes.append(1)
            anchors_open.append(event.anchor)
        elif isinstance(event, yaml.CollectionEndEvent):
            size, anchor = sizes.pop(), anchors_open.pop()
            if anchor:
                anchors[anchor] = size
            sizes[-1] += size
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                anchors[event.anchor] = 1
            sizes[-1] += 1
        elif isinstance(event, yaml.AliasEvent):
            sizes[-1] += anchors.get(event.anchor or "", 1)
        if sum(sizes) > MAX_NODES:
            raise _OutOfBounds(f"more than {MAX_NODES} values (aliases expanded)")


def load_yaml(path: Path) -> Any:
    """A YAML file another process wrote, loaded by OmegaConf within bounds; ValueError says what is wrong."""
    import io

    from omegaconf import OmegaConf

    text = _text(path)
    try:
        _check_yaml_shape(text)
        return OmegaConf.load(io.StringIO(text))
    except _OutOfBounds:
        raise
    except Exception as error:  # a cut-off or hand-edited file: YAML and OmegaConf errors alike
        raise ValueError(f"unreadable ({type(error).__name__})") from None
