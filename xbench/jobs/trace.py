"""One trajectory to ``.npz``: run a case in one framework (or the reference), save it."""

from __future__ import annotations

from pathlib import Path

from xbench.errors import UsageError
from xbench.records.machine import available_bytes, memory_bytes
from xbench.records.storage import ensure_writable
from xbench.records.trace import save_npz
from xbench.run.registry import run_case
from xbench.run.trajectory import Trajectory
from xbench.spec.cases import Case, check_applicable
from xbench.spec.problems import trajectory_bytes

MEMORY_SHARE = 0.5  # a trace may use at most this share of the machine's memory


def default_out(framework: str, case: Case) -> Path:
    return Path(f"trace-{framework}-{case.label}-{case.dtype}-seed{case.seed}.npz")


def fits(case: Case) -> None:
    """Refuse, before any work, a trace whose trajectory cannot fit in memory."""
    needed, memory, available = trajectory_bytes(case), memory_bytes(), available_bytes()
    limit = min(x for x in (memory and MEMORY_SHARE * memory, available, float("inf")) if x)
    if needed > limit:
        raise UsageError(
            f"{case.steps} steps of batch {case.batch_size} need about {needed / 2**30:.3g} GiB; "
            f"the limit is {limit / 2**30:.3g} GiB ({MEMORY_SHARE:.0%} of this machine's "
            "memory, at most what is available now): give fewer --steps or a smaller --batch-size"
        )


def trace(
    framework: str, case: Case, out: Path | None = None, overwrite: bool = False
) -> tuple[Trajectory, Path]:
    """Run ``case`` and write its trajectory; the path is checked before anything runs."""
    check_applicable(framework, case)
    fits(case)
    out = out or default_out(framework, case)
    ensure_writable(out, overwrite)
    trajectory = run_case(framework, case)
    return trajectory, save_npz(trajectory, out, overwrite=overwrite)
