"""Writing results without losing any: refuse to overwrite, and never leave half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from xbench.errors import UsageError


def ensure_writable(path: Path, overwrite: bool = False) -> None:
    """Fail before any work when ``path`` cannot be written, or exists and must not be lost."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise UsageError(
            f"refusing to overwrite existing {path}; pass --overwrite or choose another path"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {path}: directory {parent} is not writable")


def write_atomically(
    path: Path, write: Callable[[IO], None], mode: str = "wb", exclusive: bool = False
) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    With ``exclusive`` the file is linked into place instead, which fails with
    FileExistsError rather than replace a file that appeared meanwhile.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
