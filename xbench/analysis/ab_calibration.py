"""How well ``xbench ab`` resolves a change on a machine (docs/ab.md): false alarms on A/A
runs, injected slowdowns caught, the detection floor, and how the interval narrows with more
time. Every verdict is recomputed from the records' raw rounds, so any threshold can be
evaluated afterwards.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from xbench.analysis.paired import (
    REGRESSED,
    UNCHANGED,
    Ratio,
    benchmark_ratio,
    benchmark_verdict,
    paired_ratio,
    verdict,
)
from xbench.records.ab_run import AbRun


@dataclass(frozen=True)
class Calibration:
    threshold: float
    aa_runs: int
    aa_benchmark_runs: int
    aa_flagged: list[int]  # per A/A run: benchmarks flagged (regressed or improved), confirmed
    aa_first_flagged: list[int]  # the same before confirmation: what one measurement flags
    aa_covered: int  # A/A benchmark-runs whose 95% interval contains 1
    caught: dict[str, tuple[float, int, int]]  # injected benchmark -> (slowdown, runs in
    # which it was flagged regressed, runs)
    others_flagged: int  # benchmark-runs without injection flagged in the injected runs
    others_total: int

    @property
    def coverage(self) -> float:
        return self.aa_covered / self.aa_benchmark_runs if self.aa_benchmark_runs else 0.0

    def floor(self, needed: float = 0.9, select=lambda bench_id: True) -> float | None:
        """The smallest injected slowdown L such that every benchmark (of ``select``)
        carrying a slowdown of L or more was caught in at least ``needed`` of its runs."""
        chosen = [v for k, v in self.caught.items() if select(k)]
        # A level that passes passes every higher one too (fewer benchmarks carry those).
        passed = [
            level
            for level, _, _ in chosen
            if all(hits >= needed * runs for lv, hits, runs in chosen if lv >= level)
        ]
        return min(passed, default=None)


def injected_levels(calibration: dict) -> dict[str, float]:
    """Benchmark id -> the slowdown of its timed call that the injection causes, as measured
    within one process (results/ab/inject/calibrate.py's JSON)."""
    return {b["id"]: b["slowdown"] for b in calibration["benchmarks"]}


def calibrate(
    aa: list[AbRun], injected_runs: list[AbRun], injected: dict[str, float], threshold: float
) -> Calibration:
    """``injected``: benchmark id -> slowdown injected (``injected_levels``); the verdicts
    are the final ones (after confirmation, when the runs have one)."""
    aa_flagged = [sum(benchmark_verdict(b, threshold) != UNCHANGED for b in run.benchmarks)
                  for run in aa]  # fmt: skip
    aa_first = [sum(verdict(benchmark_ratio(b), threshold) != UNCHANGED for b in run.benchmarks)
                for run in aa]  # fmt: skip
    covered = [benchmark_ratio(b).contains(1.0) for run in aa for b in run.benchmarks]
    found = [(b.id, benchmark_verdict(b, threshold)) for r in injected_runs for b in r.benchmarks]
    caught = {}
    for bench_id in sorted({i for i, _ in found if injected.get(i, 0.0)}):
        got = [v for i, v in found if i == bench_id]
        caught[bench_id] = (injected[bench_id], got.count(REGRESSED), len(got))
    others = [v != UNCHANGED for i, v in found if not injected.get(i, 0.0)]
    return Calibration(threshold, len(aa), len(covered), aa_flagged, aa_first, sum(covered),
                       caught, sum(others), len(others))  # fmt: skip


def half_widths(runs: list[AbRun], pairs: float = 1.0, rounds: float = 1.0) -> float:
    """The median 95%-interval half-width (log, as a fraction) over every benchmark of
    ``runs``, recomputed from the first ``pairs`` share of the process pairs and the first
    ``rounds`` share of their rounds: what a shorter run would have resolved."""
    widths = []
    for bench in (b for run in runs for b in run.benchmarks):
        kept = bench.pairs[: max(2, round(len(bench.pairs) * pairs))]
        keep = max(2, round(len(kept[0].first) * rounds))
        widths.append(paired_ratio([p.prefix(keep) for p in kept], "base", "new").half_width)
    return statistics.median(widths)


def ratios(runs: list[AbRun], bench_id: str) -> list[Ratio]:
    """NEW/BASE of benchmark ``bench_id`` in each of ``runs``."""
    return [benchmark_ratio(b) for r in runs for b in r.benchmarks if b.id == bench_id]
