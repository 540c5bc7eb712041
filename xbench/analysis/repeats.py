"""How much repeated runs move: each benchmark's spread, raw and normalised, and the false
regressions the gate raises between every ordered pair of runs (``xbench compare --spread``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from itertools import permutations

from xbench.analysis.compare import NOT_GATED, UNGATED, compare_runs, reference_seconds, stat_of
from xbench.errors import UsageError
from xbench.records.bench_run import BenchRun


@dataclass(frozen=True)
class Spread:
    """One benchmark across the runs: max/min − 1 of its statistic, raw and normalised by
    its reference kernel (None when it has none)."""

    name: str
    raw: float
    normalised: float | None
    gated: bool


@dataclass(frozen=True)
class RepeatSpread:
    runs: int
    spreads: tuple[Spread, ...]  # every benchmark in all runs, by name
    threshold: float
    stat: str
    pairs: int  # ordered pairs of runs compared
    compared: int  # gated comparisons over those pairs
    false_alarms: int  # regressions among them (every run is a repeat, so all are false)

    @property
    def gated(self) -> list[Spread]:
        return [s for s in self.spreads if s.gated]

    def median(self, which: str) -> float:
        return statistics.median(getattr(s, which) for s in self.gated)

    def worst(self, which: str) -> float:
        return max(getattr(s, which) for s in self.gated)


def repeat_spread(runs: list[BenchRun], threshold: float, stat: str = "median") -> RepeatSpread:
    """Spreads over the benchmarks common to ``runs`` (repeats of one profile), and the
    gate's verdicts over every ordered pair of them."""
    common = set.intersection(*({r.id for r in run.results} for run in runs))
    if not common:
        raise UsageError("these runs have no benchmark in common")
    spreads = []
    for name in sorted(common):
        raw, normalised = [], []
        for run in runs:
            result = next(r for r in run.results if r.id == name)
            value = stat_of(result, stat, run)
            raw.append(value)
            reference = reference_seconds(result, run)
            if reference is not None:
                normalised.append(value / reference)
        norm = max(normalised) / min(normalised) - 1 if normalised else None
        gated = result.kind not in NOT_GATED and norm is not None
        spreads.append(Spread(name, max(raw) / min(raw) - 1, norm, gated))
    if not any(s.gated for s in spreads):
        raise UsageError("these runs have no gated benchmark in common (only reference kernels)")
    gates = [compare_runs(b, n, threshold, stat) for b, n in permutations(runs, 2)]
    compared = sum(c.verdict != UNGATED for gate in gates for c in gate.compared)
    alarms = sum(len(gate.regressions) for gate in gates)  # false: every run is a repeat
    return RepeatSpread(len(runs), tuple(spreads), threshold, stat, len(gates), compared, alarms)
