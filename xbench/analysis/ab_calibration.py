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
    REGRESSED,
    UNCHANGED,
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
        found = None
        for level in sorted({level for level, _, _ in chosen}, reverse=True):
            if all(hits >= needed * runs for lv, hits, runs in chosen if lv >= level):
                found = level
            else:
                break
        return found


def injected_levels(calibration: dict) -> dict[str, float]:
    """Benchmark id -> the slowdown of its timed call that the injection causes, as measured
    within one process (results/ab/inject/calibrate.py's JSON)."""
    return {b["id"]: b["slowdown"] for b in calibration["benchmarks"]}


def calibrate(
    aa: list[AbRun], injected_runs: list[AbRun], injected: dict[str, float], threshold: float
) -> Calibration:
    """``injected``: benchmark id -> slowdown injected (``injected_levels``); the verdicts
    are the final ones (after confirmation, when the runs have one)."""
    aa_flagged, aa_first, covered, total = [], [], 0, 0
    for run in aa:
        flags = first = 0
        for bench in run.benchmarks:
            ratio = benchmark_ratio(bench)
            flags += benchmark_verdict(bench, threshold) != UNCHANGED
            first += verdict(ratio, threshold) != UNCHANGED
            covered += ratio.contains(1.0)
            total += 1
        aa_flagged.append(flags)
        aa_first.append(first)
    caught: dict[str, list] = {}
    others = others_total = 0
    for run in injected_runs:
        for bench in run.benchmarks:
            level = injected.get(bench.id, 0.0)
            found = benchmark_verdict(bench, threshold)
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
        aa_first,
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
            keep = max(2, round(len(kept[0].first) * rounds))
            ratio = paired_ratio([p.prefix(keep) for p in kept], "base", "new")
            widths.append(ratio.half_width)
    return statistics.median(widths)


def estimates(runs: list[AbRun], bench_id: str) -> list[float]:
    return [benchmark_ratio(b).estimate for r in runs for b in r.benchmarks if b.id == bench_id]
