"""How many threads a timed run or a study uses, and giving both frameworks that many.

Nothing here imports torch until ``set_threads`` runs.
"""

from __future__ import annotations

import importlib.util
import os

from xbench.errors import UsageError


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity), or the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def resolve_threads(threads: int | None) -> int:
    """``threads``, or every usable CPU when None; a UsageError outside 1..available."""
    available = available_cpus()
    threads = available if threads is None else threads
    if not isinstance(threads, int) or not 1 <= threads <= available:
        raise UsageError(f"invalid --threads {threads}; this process may use 1 to {available}")
    return threads


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


def resolve_jobs(jobs: int | None) -> int:
    """``jobs`` worker processes, or one per usable CPU when None; a UsageError below 1."""
    jobs = available_cpus() if jobs is None else jobs
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise UsageError(f"invalid --jobs {jobs}; must be an integer >= 1")
    return jobs
