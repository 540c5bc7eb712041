"""The regression gate as a job: compare two recorded runs (and checks), or run the quick
bench and the check now and compare them with the committed baseline (or make them it)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from xbench.analysis.gate import (
    BenchGate,
    EquivalenceGate,
    compare_checks,
    compare_runs,
    setting_differences,
)
from xbench.errors import UsageError
from xbench.jobs.bench import BenchRequest, run_bench
from xbench.jobs.check import CheckRequest, run_check
from xbench.records import layout
from xbench.records.bench_run import load as load_run
from xbench.records.check_run import load as load_check
from xbench.records.storage import write_atomically
from xbench.run.check import Filters


@dataclass(frozen=True)
class Verdict:
    """A gate's outcome: what was compared, and whether it fails."""

    base: Path
    new: Path
    warnings: list[str]  # settings that differ between the runs
    bench: BenchGate
    equivalence: EquivalenceGate | None
    warn_only: bool

    @property
    def failed(self) -> bool:
        broken = bool(self.equivalence and self.equivalence.regressions)
        return broken or (bool(self.bench.regressions) and not self.warn_only)


def gate_files(
    runs: tuple[Path, Path],
    checks: tuple[Path | None, Path | None],
    threshold: float,
    stat: str = "median",
    warn_only: bool = False,
) -> Verdict:
    """Compare two bench runs (and their checks, when both are given). Every input is read
    and validated before anything is compared."""
    base, new = load_run(runs[0]), load_run(runs[1])
    both_checks = [load_check(p) for p in checks] if checks[0] and checks[1] else None
    bench = compare_runs(base, new, threshold, stat)
    equivalence = compare_checks(*both_checks) if both_checks else None
    return Verdict(runs[0], runs[1], setting_differences(base, new), bench, equivalence, warn_only)


def baseline(against: Path, label: str, creating: bool) -> tuple[tuple[Path, Path], bool]:
    """The baseline files of ``label`` under ``against``, and whether they exist. A missing
    baseline is an error unless ``creating``; a broken one fails now, not after minutes of
    running."""
    targets = layout.baseline_paths(against / layout.validate_label(label))
    have = all(p.is_file() for p in targets)
    if not have and not creating:
        raise UsageError(
            f"no baseline {targets[0]} and {targets[1]}; create it with `make baseline`"
        )
    if have:
        load_run(targets[0])
        load_check(targets[1])
    return targets, have


def run_now(device: str, threads: int, label: str) -> tuple[Path, Path]:
    """Run the quick bench and the equivalence check now, into a new temporary folder (kept,
    so the runs can be inspected or promoted); the two JSON paths."""
    folder = Path(tempfile.mkdtemp(prefix="xbench-compare-"))
    code, run, _ = run_bench(BenchRequest("quick", device, threads, folder, label))
    if code != 0 or run is None:
        raise UsageError(f"the quick bench failed (exit {code}); nothing to compare")
    print("\nxbench compare: running the equivalence catalogue (xbench check)", flush=True)
    check = folder / "check.json"
    run_check(CheckRequest(Filters(), device=device, json=check))
    return run.path, check


def update_baseline(run: Path, check: Path, targets: tuple[Path, Path]) -> None:
    """Replace the committed baseline with these files (git keeps the old one)."""
    targets[0].parent.mkdir(parents=True, exist_ok=True)
    for source, target in zip((run, check), targets, strict=True):
        data = source.read_bytes()
        write_atomically(target, lambda f, data=data: f.write(data))
