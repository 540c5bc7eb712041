"""Writing results without losing any: refuse to overwrite, and never leave half a file.

A file is written under a hidden temporary name beside it (``.<name>.<pid>.<random>.tmp``)
and renamed (or linked) into place, so a reader sees the whole file or none. An interrupt
(SIGINT, SIGTERM, SIGHUP) removes the temporary file; a process killed outright (SIGKILL, power
loss) can leave one, and the next write into the same folder removes it once its process
is gone (docs/robustness.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from xbench.errors import STOP_SIGNALS, UsageError

TMP = ".tmp"  # the suffix of a file being written


def ensure_writable(path: Path, overwrite: bool = False) -> None:
    """Fail before any work when ``path`` cannot be written, or exists and must not be lost:
    a temporary file is made and removed beside it, as ``write_atomically`` will."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise UsageError(
            f"refusing to overwrite existing {path}; pass --overwrite or choose another path"
        )
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {path}: directory {parent} is not writable")
    try:  # the test that counts: a file made and removed where the result will be written
        fd, probe = _temporary(path)
        os.close(fd)
        os.unlink(probe)  # if this fails, the next write here removes it once we are gone
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: a file in {parent} cannot be created ({_reason(exc)})"
        ) from None


def _temporary(path: Path) -> tuple[int, str]:
    """A new hidden temporary file beside ``path``: ``.<name>.<pid>.<random>.tmp``."""
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TMP)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def write_atomically(
    path: Path, write: Callable[[IO], None], mode: str = "wb", exclusive: bool = False
) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    With ``exclusive`` the file is linked into place instead, which fails with
    FileExistsError rather than replace a file that appeared meanwhile. Any other OSError (a
    full disk) removes the temporary file and is a UsageError naming ``path`` and the reason.
    """
    remove_stale_temporaries(path.parent)
    try:
        fd, tmp = _temporary(path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before its name is
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result should read like any file
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, FileExistsError):
            raise UsageError(f"cannot write {path}: {_reason(exc)}") from None  # a full disk
        raise
    return path


def write_new(
    path: Path, write: Callable[[IO], None], overwrite: bool = False, mode: str = "wb"
) -> Path:
    """``write_atomically``, refusing (UsageError) when ``path`` appeared while the work ran
    (another run wrote it) unless ``overwrite``: never a silent replacement."""
    try:
        return write_atomically(path, write, mode, exclusive=not overwrite)
    except FileExistsError:
        raise UsageError(
            f"{path} appeared while this ran (another run?); not replaced: pass --overwrite "
            "or choose another path"
        ) from None


def _owner(name: str) -> int | None:
    """The pid in a temporary file's name ``.<name>.<pid>.<random>.tmp``, or None."""
    parts = name[: -len(TMP)].split(".")
    return int(parts[-2]) if len(parts) >= 4 and parts[-2].isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (PermissionError): alive
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files of writes whose process is gone (killed mid-write); those
    of live processes (a write under way) and files without our pid in the name stay."""
    removed = []
    try:
        candidates = list(folder.glob(f".*{TMP}"))
    except OSError:
        return removed
    for tmp in candidates:
        pid = _owner(tmp.name)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            with contextlib.suppress(OSError):  # removed first by another run, or read-only
                tmp.unlink()
                removed.append(tmp)
    return removed


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold the stop signals (SIGINT, SIGTERM, SIGHUP) back while writing files that belong
    together: an interrupt takes effect once all are written (in the main thread; elsewhere
    nothing is held)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = [s for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]  # nohup
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        if received:
            signal.raise_signal(received[0])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
