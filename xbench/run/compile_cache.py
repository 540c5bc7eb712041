"""JAX's persistent compilation cache for the check's workers (docs/check.md): where it lives,
and the environment that turns it on. One folder per jaxlib version and CPU: XLA compiles
for the CPU it runs on and JAX's cache key does not name it. It needs the ``filelock``
package (JAX locks the folder with it, and evicts beyond ``LIMIT``); without it there is no
cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import platform
from pathlib import Path

ENVIRONMENT = "XBENCH_CACHE_DIR"
OFF = "off"
LIMIT = 2**30  # bytes: JAX evicts the least recently used programs beyond this (the
# catalogue's ~230 programs take about 8 MB)


def root() -> Path | None:
    """The cache's folder (None when turned off: ``off``, in any case)."""
    chosen = os.environ.get(ENVIRONMENT, "")
    if chosen.lower() == OFF:
        return None
    if chosen:
        return Path(chosen).absolute()  # a relative path: from the folder xbench started in
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "xbench"


def cpu_identity() -> str:
    """A short hash of this CPU's model and feature flags (Linux), else of its platform."""
    text = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            lines = [line for line in info if line.startswith(("model name", "flags"))]
        text += "".join(sorted(set(lines)))
    except OSError:
        pass
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def folder() -> Path | None:
    """This jaxlib's and this CPU's cache folder (None when turned off, or without JAX or
    ``filelock``)."""
    top = root()
    if top is None or not all(importlib.util.find_spec(m) for m in ("jaxlib", "filelock")):
        return None
    return top / f"jax-{importlib.metadata.version('jaxlib')}-{cpu_identity()}"


def unusable(cache: Path) -> str | None:
    """Why ``cache`` cannot hold the cache (it cannot be created or written), or None."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if os.access(cache, os.W_OK | os.X_OK) else "not writable"


def settings(cache: Path, locked: bool = True) -> dict[str, str]:
    """Environment variables that give a process JAX's persistent cache in ``cache`` (from
    ``folder``), keeping every compilation (none is too quick to keep). Processes share it:
    the size limit turns on JAX's file lock, so no entry is read while another writes it
    (``locked``; it needs ``filelock``)."""
    limit = {"JAX_COMPILATION_CACHE_MAX_SIZE": str(LIMIT)} if locked else {}
    return {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", **limit,
            "JAX_COMPILATION_CACHE_DIR": str(cache)}  # fmt: skip


def lockable() -> bool:
    """Whether JAX can lock a cache here (the ``filelock`` package is installed)."""
    return importlib.util.find_spec("filelock") is not None
