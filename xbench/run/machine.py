"""What a run runs on: versions, CPU model, memory, device, the checkout's git; and its label.

Versions come from package metadata, so nothing here imports torch or jax.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path

from xbench.errors import UsageError

FRAMEWORK_PACKAGES = ("torch", "jax", "jaxlib", "optax", "numpy")  # what a worker reports
PACKAGES = (*FRAMEWORK_PACKAGES, "pytest-benchmark", "xbench")
# The checkout xbench runs from (its git commit is recorded); for an installed wheel, the
# folder holding the package, which is no git work tree: the commit is then unknown.
REPO = Path(__file__).resolve().parents[2]


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    found = {}
    for package in packages:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_bytes() -> int | None:
    """The machine's physical memory, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes(meminfo: str = "/proc/meminfo") -> int | None:
    """Memory available now (MemAvailable), else the physical memory, else None."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return memory_bytes()


MEMORY_SHARE = 0.5  # one run may use at most this share of the machine's memory


def memory_limit(meminfo: str = "/proc/meminfo") -> float:
    """What one run may use: ``MEMORY_SHARE`` of the physical memory, at most what is
    available now (inf where the platform says neither)."""
    physical, available = memory_bytes(), available_bytes(meminfo)
    return min(x for x in (physical and MEMORY_SHARE * physical, available, float("inf")) if x)


def require_memory(needed: float, what: str, advice: str) -> None:
    """Refuse, before any work, what needs more than ``memory_limit()``: one line with the
    estimate, the limit and ``advice``."""
    limit = memory_limit()
    if needed > limit:
        raise UsageError(
            f"{what} need about {needed / 2**30:.3g} GiB; the limit is {limit / 2**30:.3g} GiB "
            f"({MEMORY_SHARE:.0%} of this machine's memory, at most what is available now): "
            + advice
        )


def git(*args: str, binary: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
    """``git -C REPO ARGS``, its output captured; a failure to start it is a returncode 127."""
    try:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                              text=not binary, timeout=timeout)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(["git", *args], 127, b"" if binary else "", str(exc))


def git_commit() -> dict[str, str | bool | None]:
    if not (REPO / "pyproject.toml").is_file() or not (REPO / "xbench").is_dir():
        return {"id": None, "dirty": None}  # an installed xbench: no checkout to ask
    commit = git("rev-parse", "HEAD", timeout=10)
    status = git("status", "--porcelain", "--untracked-files=no", timeout=10)
    return {
        "id": commit.stdout.strip() if commit.returncode == 0 else None,
        "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None,
    }


def short_commit(commit: dict, missing: str = "") -> str:
    """``05bfec2``, ``05bfec2-dirty``; ``missing`` when no commit was recorded."""
    return ((commit.get("id") or "")[:7] or missing) + ("-dirty" if commit.get("dirty") else "")


def device_name(device: str) -> str:
    if device == "cpu":
        return cpu_model()
    import torch

    return torch.cuda.get_device_name(torch.device(device))


def label(device: str, threads: int) -> str:
    """A folder name for a machine: ``cpu-<model>-<threads>t`` or ``<gpu model>``."""
    return label_for(device, device_name(device), threads)


def label_for(device: str, name: str, threads: int | None) -> str:
    """``label`` from recorded facts (a result's machine_info), without probing the machine."""
    slug = re.sub(r"\(r\)|\(tm\)|cpu|@.*$", "", name.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")
    return f"cpu-{slug}-{threads}t" if device == "cpu" else slug


def machine_label(info: dict) -> str:
    """``label_for`` from a recorded machine_info (bench or check JSON)."""
    device = info.get("device", "cpu")
    name = info.get("device_name") or info.get("cpu_model") or "unknown"
    threads = info.get("threads")
    if isinstance(threads, dict):
        threads = threads.get("requested")
    return label_for(device, name, threads)
