"""One trajectory to ``.npz``: run a case in one framework (or the reference), save it."""

from __future__ import annotations

from pathlib import Path

from xbench.records.machine import require_memory
from xbench.records.storage import ensure_writable
from xbench.records.trace import save_npz
from xbench.run.registry import run_case
from xbench.run.trajectory import Trajectory
from xbench.spec.cases import Case, check_applicable
from xbench.spec.problems import trajectory_bytes


def default_out(framework: str, case: Case) -> Path:
    return Path(f"trace-{framework}-{case.label}-{case.dtype}-seed{case.seed}.npz")


def fits(case: Case) -> None:
    """Refuse, before any work, a trace whose trajectory cannot fit in memory."""
    require_memory(
        trajectory_bytes(case),
        f"{case.steps} steps of batch {case.batch_size}",
        "give fewer --steps or a smaller --batch-size",
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
