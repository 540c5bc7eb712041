"""What a timed run ran on: versions, threads, CPU model, device, commit; and its label.

Versions come from package metadata, so nothing here imports torch or jax.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import re
import subprocess
from pathlib import Path

PACKAGES = ("torch", "jax", "jaxlib", "optax", "numpy", "pytest-benchmark", "xbench")
REPO = Path(__file__).resolve().parent.parent


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


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def set_threads(threads: int) -> dict:
    """Give both frameworks ``threads`` threads, and say what each ended up with.

    The process is pinned to ``threads`` CPUs (XLA sizes its CPU thread pool from the CPUs it
    may use), OMP_NUM_THREADS is set before torch starts, and ``torch.set_num_threads``.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if cpus and threads < len(cpus):
        os.sched_setaffinity(0, cpus[:threads])
    os.environ["OMP_NUM_THREADS"] = str(threads)
    report = {"requested": threads, "cpu_affinity": available_cpus()}
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)
        report["torch"] = torch.get_num_threads()
    report["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "")
    return report


def git_commit() -> dict[str, str | bool | None]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"id": commit, "dirty": bool(status) if status is not None else None}


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
