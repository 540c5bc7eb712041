"""A run's temporary folders in ``$TMPDIR``: removed when the run ends, however it ends; those
of a run that died (SIGKILL, a power loss) removed by the next xbench.

A folder is named for its run, ``xbench-<kind>-<pid>-<random>``, and holds a file
``.xbench-run`` that the run keeps locked (``flock``) while it lives. The kernel releases a
lock when its process ends, however it ends, and the lock holds across PID namespaces (two
containers sharing ``/tmp``), where a process id tells nothing. ``remove_dead`` removes every
``xbench-*`` folder whose ``.xbench-run`` it can lock: its run is gone. A folder without that
file is never touched: one a run keeps on purpose (``compare``'s check and timing, once the
run finished), or one that is not xbench's.

The lock file is made under another name, locked, then renamed: a live run's folder never
holds an unlocked ``.xbench-run``. A run killed in the microseconds between making the folder
and renaming the lock file leaves an empty folder without one, which stays.

Where there is no ``fcntl`` (Windows), folders are still removed when their run ends, and
nothing is removed for a run that died.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK = ".xbench-run"
NAME = re.compile(r"xbench-[a-z]+-\d+-")  # xbench-<kind>-<pid>-<random>


class Scratch:
    """A temporary folder that belongs to this run while it lives (``path``)."""

    def __init__(self, kind: str) -> None:
        if not re.fullmatch(r"[a-z]+", kind):
            raise ValueError(f"a scratch folder's kind is lowercase letters: {kind!r}")
        self.path = Path(tempfile.mkdtemp(prefix=f"xbench-{kind}-{os.getpid()}-"))
        self._lock: int | None = None
        if fcntl is None:
            return
        try:  # an interrupt here leaves nothing: the folder is not yet anyone's to remove
            making = self.path / f"{LOCK}.new"
            self._lock = os.open(making, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
            os.rename(making, self.path / LOCK)
        except BaseException:
            self.remove()
            raise

    def keep(self) -> Path:
        """Keep the folder after this run: it is the user's now, never removed by xbench."""
        with contextlib.suppress(FileNotFoundError):
            (self.path / LOCK).unlink()
        self._release()
        return self.path

    def remove(self) -> None:
        _remove(self.path)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


@contextlib.contextmanager
def scratch(kind: str, keep: bool = False) -> Iterator[Path]:
    """A new temporary folder for this run, removed when the block ends, by an error or an
    interrupt too (``tempfile.TemporaryDirectory`` with the run's lock). With ``keep``, a
    block that runs to its end keeps it, for the user to read (``Scratch.keep``)."""
    folder = Scratch(kind)
    try:
        yield folder.path
    except BaseException:
        folder.remove()
        raise
    if keep:
        folder.keep()
    else:
        folder.remove()


def _remove(folder: Path) -> None:
    """Remove ``folder``: its contents, then its lock file, then itself. A removal stopped
    part-way (an interrupt, a file that will not go) leaves the lock file, so the next
    xbench finishes it."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name == LOCK:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        if any(entry.name != LOCK for entry in os.scandir(folder)):
            return  # something would not go: the folder stays locked, for a later run
        (folder / LOCK).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def remove_dead(root: Path | None = None) -> list[Path]:
    """Remove the temporary folders of xbench runs that died, in ``root`` (default
    ``$TMPDIR``); those of live runs, and folders without a lock file, stay. The removed."""
    if fcntl is None:
        return []
    root = Path(tempfile.gettempdir()) if root is None else root
    try:
        names = [n for n in os.listdir(root) if NAME.match(n)]
    except OSError:
        return []
    removed = []
    for name in names:
        folder = root / name
        if _owner_gone(folder):
            _remove(folder)
            removed.append(folder)
    return removed


def _owner_gone(folder: Path) -> bool:
    """Whether ``folder``'s lock file exists and no process holds its lock."""
    lock = folder / LOCK
    try:
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)  # NFS locks only what can be written
    except OSError:  # no lock file (kept, or not ours), or not ours to open
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its run is alive
        os.close(fd)
        return False
    try:  # still the folder's lock file (a run keeping its folder unlinks it first)
        return os.path.samestat(os.fstat(fd), os.stat(lock, follow_symlinks=False))
    except OSError:
        return False
    finally:
        os.close(fd)
