"""Paired ratios with 95% intervals from interleaved rounds (``xbench ab``), and their verdicts.

Data: for one benchmark, several *process pairs* (a fresh worker process per side), and in
each pair many *round pairs*: one round of BASE and one of NEW, run back to back in random
order, so both saw the same minute of a shared machine. Two sources of error remain:

- within a pair, round-to-round noise (tens of percent on a shared VM). The pair's estimate
  is the median of its paired log-ratios log(NEW/BASE), which a round hit by a neighbour's
  burst cannot move far;
- between pairs, each process's own bias (memory layout, thread placement, what its JIT
  produced: several percent, seen as ×0.92 on an A/A pair). No amount of rounds in one pair
  averages it out; only more pairs do.

So the estimate is over the per-pair values: Yuen's 20%-trimmed mean (with 8 pairs, the
highest and lowest are left out) and its 95% interval, Student's t over the winsorized
spread: the spread between pairs carries both errors, t's wider quantiles pay for
estimating it from few pairs, and the trimming keeps one process in a bad state from
dragging the estimate. The interval is on log(NEW/BASE), reported as a ratio (so ×1.05 and
×0.95 are symmetric in log). Fewer than 2 pairs give no interval.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

from xbench.run.interleave import Rounds

# Student's t, two-sided 95% (the 0.975 quantile), for 1..30 degrees of freedom.
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
Z_975 = 1.960

REGRESSED, IMPROVED, UNCHANGED, UNRESOLVED = "regressed", "improved", "unchanged", "unresolved"
VERDICTS = (REGRESSED, IMPROVED, UNCHANGED, UNRESOLVED)


def t_quantile(degrees: int) -> float:
    """The two-sided 95% quantile of Student's t (the normal's beyond 30 degrees)."""
    if degrees < 1:
        raise ValueError("Student's t needs at least 1 degree of freedom")
    return T_975[degrees - 1] if degrees <= len(T_975) else Z_975


@dataclass(frozen=True)
class Ratio:
    """NEW/BASE: the point estimate and its 95% interval (None with fewer than 2 pairs)."""

    estimate: float
    low: float | None
    high: float | None
    pairs: int
    rounds: int  # round pairs over all process pairs

    def contains(self, value: float) -> bool:
        return self.low is not None and self.low <= value <= self.high

    @property
    def half_width(self) -> float | None:
        """Half the interval's width in log space, as a fraction (0.02: about ±2%)."""
        if self.low is None:
            return None
        return (math.log(self.high) - math.log(self.low)) / 2


def timeline(rounds: Rounds, base: str, new: str) -> list[tuple[str, float]]:
    """The rounds of one process pair in the order they ran, as (side, seconds per call)."""
    order = []
    for b, n, first in zip(rounds.seconds[base], rounds.seconds[new], rounds.first, strict=True):
        order += [(base, b), (new, n)] if first == base else [(new, n), (base, b)]
    return order


def round_log_ratios(rounds: Rounds, base: str, new: str) -> list[float]:
    """Each round's log(NEW/BASE) against its neighbours of the other side, in run order.

    The sides strictly alternate (B N B N ...), so every inner round sits between two rounds
    of the other side: it is compared with the mean (in log) of those two neighbours. A drift
    of the machine's speed that is slow against a round cancels (the neighbours bracket the
    round in time), and so does an effect of running after the other side (every inner
    round does). Rounds that are not bracketed by the other side (the first and last, or a
    non-alternating order) are compared with their neighbour of the other side alone.
    """
    rounds = timeline(rounds, base, new)
    logs = []
    for i, (side, seconds) in enumerate(rounds):
        others = [
            math.log(rounds[j][1])
            for j in (i - 1, i + 1)
            if 0 <= j < len(rounds) and rounds[j][0] != side
        ]
        if not others or (len(others) == 1 and 0 < i < len(rounds) - 1):
            continue  # a round next to its own side's: its other-side neighbour counts it
        difference = math.log(seconds) - statistics.fmean(others)
        logs.append(difference if side == new else -difference)
    return logs


def pair_log_ratio(rounds: Rounds, base: str, new: str) -> float:
    """One process pair's log(NEW/BASE): the median of its ``round_log_ratios`` (a round hit
    by a neighbour's burst cannot move it far)."""
    return statistics.median(round_log_ratios(rounds, base, new))


TRIM = 0.2  # the share of process pairs trimmed from each end (Yuen's trimmed mean)


def trimmed_interval(values: list[float], trim: float = TRIM) -> tuple[float, float]:
    """Yuen's trimmed mean of ``values`` and the half-width of its 95% interval.

    ``g = floor(trim·n)`` values are dropped from each end for the mean; the spread is the
    winsorized one (those values replaced by the nearest kept), scaled by 1/((1 − 2g/n)·√n),
    with Student's t at n − 2g − 1 degrees of freedom. With g = 0 it is the plain mean and t
    interval. One process pair that landed in a bad state (×0.83 beside seven ×1.05–×1.27 in
    an injected run here) then moves neither the estimate nor the width much.
    """
    n = len(values)
    g = math.floor(trim * n)
    if n - 2 * g < 2:
        g = 0
    ordered = sorted(values)
    kept = ordered[g : n - g]
    winsorized = [kept[0]] * g + kept + [kept[-1]] * g
    spread = statistics.stdev(winsorized) / ((1 - 2 * g / n) * math.sqrt(n))
    return statistics.fmean(kept), t_quantile(n - 2 * g - 1) * spread


def paired_ratio(pairs: list[Rounds], base: str, new: str, trim: float = TRIM) -> Ratio:
    """NEW/BASE from ``pairs`` (one per process pair; ``base`` and ``new`` name their
    sides): the estimate and 95% interval of ``trimmed_interval`` over the pairs'
    log-ratios."""
    if not pairs:
        raise ValueError("no process pair to estimate from")
    logs = [pair_log_ratio(pair, base, new) for pair in pairs]
    rounds = sum(len(pair.first) for pair in pairs)
    if len(logs) < 2:
        return Ratio(math.exp(logs[0]), None, None, 1, rounds)
    mean, margin = trimmed_interval(logs, trim)
    low, high = math.exp(mean - margin), math.exp(mean + margin)
    return Ratio(math.exp(mean), low, high, len(logs), rounds)


def verdict(ratio: Ratio, threshold: float) -> str:
    """``regressed`` when the whole 95% interval lies above ``1 + threshold``: NEW is slower
    by more than the threshold, with 97.5% confidence; ``improved`` when it lies below
    ``1 / (1 + threshold)``; ``unresolved`` without an interval; else ``unchanged``.

    The interval alone (above 1) would flag any resolved difference, however small, and
    excludes 1 in one A/A benchmark in 20 by design; a threshold on the estimate alone would
    flag noise. Asking the interval to clear the threshold does neither: a noisy benchmark
    needs a larger slowdown to be flagged, a precise one a smaller. A slowdown equal to the
    threshold is caught at most half the time: choose the threshold well below the slowdowns
    that must be caught (docs/ab.md has the measurements).
    """
    if ratio.low is None:
        return UNRESOLVED
    if ratio.low > 1 + threshold:
        return REGRESSED
    if ratio.high < 1 / (1 + threshold):
        return IMPROVED
    return UNCHANGED


def benchmark_ratio(bench) -> Ratio:
    """NEW/BASE of one benchmark of an ``xbench ab`` record (``records.ab_run.AbBenchmark``)."""
    return paired_ratio(bench.pairs, "base", "new")


def confirmation_ratio(bench) -> Ratio | None:
    """NEW/BASE of the benchmark's confirmation (fresh process pairs); None without one."""
    return paired_ratio(bench.confirmation, "base", "new") if bench.confirmation else None


def framework_ratio(cell) -> Ratio:
    """torch/JAX of one cell timed interleaved (``records.bench_run.PairedCell``): JAX is
    BASE and torch NEW, so below 1 torch is faster."""
    return paired_ratio(cell.pairs, "jax", "torch")


def flagged(verdict_: str) -> bool:
    return verdict_ in (REGRESSED, IMPROVED)


def benchmark_verdict(bench, threshold: float) -> str:
    """The first measurement's verdict when it is unchanged or unresolved, or was never
    confirmed; else it stands only if the confirmation (fresh process pairs) resolves a
    difference in the same direction (its whole interval above 1 for a regression, below 1
    for an improvement), and is ``unchanged`` otherwise.

    The first measurement screens at the threshold; the confirmation, independent of it,
    checks that the difference is there at all. A noise flag must then pass two 97.5%
    one-sided tests: about one benchmark in a hundred flags by chance here at 0.5%, and about
    one in forty of those is confirmed. A real slowdown that cleared the threshold once is
    rarely missed by a test that only asks for the direction.
    """
    first = verdict(benchmark_ratio(bench), threshold)
    second = confirmation_ratio(bench)
    if not flagged(first) or second is None:
        return first
    return first if verdict(second, 0.0) == first else UNCHANGED


def verdicts(run) -> dict[str, str]:
    """Each benchmark's verdict in an ``xbench ab`` record, at the run's own threshold."""
    return {b.id: benchmark_verdict(b, run.threshold) for b in run.benchmarks}


def summaries(run) -> dict[str, dict]:
    """What the record's JSON says of each benchmark: its ``ratio``, the ``confirmation``'s
    ratio (or None) and the ``verdict``."""
    found = {}
    for bench in run.benchmarks:
        second = confirmation_ratio(bench)
        found[bench.id] = {
            "ratio": asdict(benchmark_ratio(bench)),
            "confirmation_ratio": asdict(second) if second else None,
            "verdict": benchmark_verdict(bench, run.threshold),
        }
    return found
