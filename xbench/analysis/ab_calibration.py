"""How well ``xbench ab`` resolves a change on a machine: false alarms on A/A runs, injected
slowdowns caught, the detection floor, and how the interval narrows with more time.

Inputs are ``xbench ab`` records: A/A runs (the same code on both sides) and injected runs
(NEW does a known fraction more work in some benchmarks, e.g. results/ab/inject). Every
verdict is recomputed from the raw rounds, so any threshold can be evaluated afterwards.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from xbench.analysis.paired import (
    IMPROVED,
    REGRESSED,
    UNCHANGED,
    benchmark_ratio,
    paired_ratio,
    verdict,
)
from xbench.records.ab_run import AbBenchmark, AbRun


@dataclass(frozen=True)
class Calibration:
    threshold: float
    aa_runs: int
    aa_benchmark_runs: int
    aa_flagged: list[int]  # per A/A run: benchmarks flagged (regressed or improved)
    aa_covered: int  # A/A benchmark-runs whose 95% interval contains 1
    caught: dict[str, tuple[float, int, int]]  # injected benchmark -> (slowdown, runs in
    # which it was flagged regressed, runs)
    others_flagged: int  # benchmark-runs without injection flagged in the injected runs
    others_total: int

    @property
    def coverage(self) -> float:
        return self.aa_covered / self.aa_benchmark_runs if self.aa_benchmark_runs else 0.0

    def levels(self) -> dict[float, tuple[int, int]]:
        """Per injected slowdown: (benchmark-runs flagged, benchmark-runs)."""
        found: dict[float, list[int]] = {}
        for level, hits, runs in self.caught.values():
            found.setdefault(level, [0, 0])
            found[level][0] += hits
            found[level][1] += runs
        return {k: (v[0], v[1]) for k, v in sorted(found.items())}

    def floor(self, needed: float = 0.9, select=lambda bench_id: True) -> float | None:
        """The smallest injected slowdown at which every benchmark (of ``select``) carrying
        it was caught in at least ``needed`` of the runs."""
        by_level: dict[float, bool] = {}
        for bench_id, (level, hits, runs) in self.caught.items():
            if select(bench_id):
                by_level[level] = by_level.get(level, True) and hits >= needed * runs
        levels = [level for level, ok in by_level.items() if ok]
        return min(levels) if levels else None


def injected_level(bench: AbBenchmark, injected: dict[str, float]) -> float:
    """The slowdown injected into ``bench`` (0 when none): torch AdamW updates, by path."""
    case = bench.case
    if case.get("kind") != "update" or case.get("framework") != "torch":
        return 0.0
    if case.get("optimizer") != "adamw":
        return 0.0
    return injected.get(case.get("implementation"), 0.0)


def calibrate(
    aa: list[AbRun], injected_runs: list[AbRun], injected: dict[str, float], threshold: float
) -> Calibration:
    aa_flagged, covered, total = [], 0, 0
    for run in aa:
        flags = 0
        for bench in run.benchmarks:
            ratio = benchmark_ratio(bench)
            flags += verdict(ratio, threshold) != UNCHANGED
            covered += ratio.contains(1.0)
            total += 1
        aa_flagged.append(flags)
    caught: dict[str, list] = {}
    others = others_total = 0
    for run in injected_runs:
        for bench in run.benchmarks:
            level = injected_level(bench, injected)
            found = verdict(benchmark_ratio(bench), threshold)
            if level:
                entry = caught.setdefault(bench.id, [level, 0, 0])
                entry[1] += found == REGRESSED
                entry[2] += 1
            else:
                others += found != UNCHANGED
                others_total += 1
    return Calibration(
        threshold,
        len(aa),
        total,
        aa_flagged,
        covered,
        {k: (v[0], v[1], v[2]) for k, v in sorted(caught.items())},
        others,
        others_total,
    )


def half_widths(runs: list[AbRun], pairs: float = 1.0, rounds: float = 1.0) -> float:
    """The median 95%-interval half-width (log, as a fraction) over every benchmark of
    ``runs``, recomputed from the first ``pairs`` share of the process pairs and the first
    ``rounds`` share of their rounds: what a shorter run would have resolved."""
    widths = []
    for run in runs:
        for bench in run.benchmarks:
            kept = bench.pairs[: max(2, round(len(bench.pairs) * pairs))]
            keep = max(2, round(len(kept[0].base) * rounds))
            ratio = paired_ratio([(p.base[:keep], p.new[:keep], p.first[:keep]) for p in kept])
            widths.append(ratio.half_width)
    return statistics.median(widths)


def estimates(runs: list[AbRun], bench_id: str) -> list[float]:
    return [benchmark_ratio(b).estimate for r in runs for b in r.benchmarks if b.id == bench_id]


FLAGS = (REGRESSED, IMPROVED)
