"""Write files the way a careful tool does: a temporary name in the same folder, then a rename.

A reader (or a later run) sees the previous complete file or the new complete one, never a cut-off
one: an interrupted or failed write (a full disk, a read-only folder, Ctrl-C, SIGTERM) removes its
temporary file and leaves the old file intact, and the error propagates.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

__all__ = ["atomic_write", "atomic_write_text"]


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
