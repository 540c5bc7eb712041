"""The regression gate between a baseline run and a new one (``xbench compare``; the method
is docs/compare.md's): each benchmark's statistic over its own run's reference kernel, since
shared machines drift by tens of percent within minutes, for every benchmark at once; and the
equivalence entries that got worse.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from xbench.analysis.paired import IMPROVED, REGRESSED, UNCHANGED
from xbench.errors import UsageError
from xbench.records.bench_run import BenchRun, Result
from xbench.records.check_run import CheckRun
from xbench.run.roofline import nearest_size

STATS = ("median", "mean", "min")
# The reference kernels are the yardstick; the perturbed overhead benchmark tests a check.
NOT_GATED = ("reference", "overhead_perturbed")
ERROR_GROWTH = 10.0  # an equivalence error that grows more than this fails the gate
# Errors below these are rounding-level: growth among them (0 → 1e-16) is not a regression.
ERROR_FLOOR = {"float64": 1e-14, "float32": 5e-9}
# The verdicts of every timing comparison (``analysis.paired``), and two of the gate's own
WITHIN_NOISE, UNGATED = "within noise", "not gated"
VERDICT_ORDER = (REGRESSED, IMPROVED, WITHIN_NOISE, UNCHANGED, UNGATED)


def parse_threshold(text: str) -> float:
    """``10%`` or ``10`` → 0.10. A bare number below 1 is refused as ambiguous (0.1: 10% or
    0.1%?); anything but a percentage in (0, 1000) is a usage error."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", text)
    value = float(match.group(1)) / 100 if match else math.nan
    if match and not match.group(2) and value < 0.01:
        raise UsageError(f"ambiguous --threshold {text!r}; write it with %, e.g. 10% or 0.5%")
    if not 0 < value < 10:
        raise UsageError(f"malformed --threshold {text!r}; give a percentage such as 10%")
    return value


@dataclass(frozen=True)
class Comparison:
    """One benchmark present in both runs."""

    name: str
    base: float  # the chosen statistic, seconds
    new: float
    base_reference: float | None  # the reference kernel's median in each run, seconds
    new_reference: float | None
    noise: float  # half the sum of the two IQR/median
    verdict: str

    @property
    def raw_ratio(self) -> float:
        return self.new / self.base

    @property
    def ratio(self) -> float | None:
        """New over baseline, each normalised by its own run's reference kernel."""
        if self.base_reference is None or self.new_reference is None:
            return None
        return (self.new / self.new_reference) / (self.base / self.base_reference)


@dataclass(frozen=True)
class BenchGate:
    compared: tuple[Comparison, ...]
    only_in_baseline: tuple[str, ...]
    only_in_new: tuple[str, ...]
    threshold: float
    stat: str

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.compared if c.verdict == REGRESSED]

    @property
    def improvements(self) -> list[Comparison]:
        return [c for c in self.compared if c.verdict == IMPROVED]


def reference_seconds(result: Result, run: BenchRun) -> float | None:
    """The median of the reference kernel ``result`` is normalised by, in its own run."""
    if result.kind == "reference":
        return None
    if result.adjacent:
        return float(result.adjacent.median)
    kernels = {
        r.params: r.median
        for r in run.results
        if r.kind == "reference" and r.implementation == "inplace_add" and r.device == result.device
    }
    return kernels[nearest_size(kernels, result.params)] if kernels else None


def stat_of(result: Result, stat: str, run: BenchRun) -> float:
    """``result``'s statistic ``stat``, or a UsageError naming the run."""
    value = result.stat(stat)
    if value is None:
        raise UsageError(f"{run.path}: {result.id} has no positive stats.{stat}")
    return value


def timing_verdict(ratio: float | None, noise: float, threshold: float) -> str:
    """REGRESSED or IMPROVED when the normalised ratio moved beyond both the threshold and
    the noise; UNCHANGED within the threshold, WITHIN_NOISE within the noise."""
    if ratio is None:
        return UNGATED
    change = ratio - 1.0
    if abs(change) <= threshold:
        return UNCHANGED
    if abs(change) <= noise:
        return WITHIN_NOISE
    return REGRESSED if change > 0 else IMPROVED


def compare_runs(
    base: BenchRun, new: BenchRun, threshold: float = 0.10, stat: str = "median"
) -> BenchGate:
    if stat not in STATS:
        raise UsageError(f"unknown --stat {stat!r}; valid: {', '.join(STATS)}")
    old = {r.id: r for r in base.results}
    now = {r.id: r for r in new.results}
    if not old.keys() & now.keys():
        raise UsageError(f"no benchmark is in both {base.path} and {new.path}")
    compared = []
    for name in sorted(old.keys() & now.keys()):
        b, n = old[name], now[name]
        references = reference_seconds(b, base), reference_seconds(n, new)
        for result, run, reference in zip((b, n), (base, new), references, strict=True):
            if result.kind not in NOT_GATED and reference is None:
                raise UsageError(
                    f"{run.path}: {name} has no reference kernel to normalise by (no "
                    "adjacent_reference, no inplace_add benchmark); re-run it with xbench bench"
                )
        base_stat, new_stat = stat_of(b, stat, base), stat_of(n, stat, new)
        c = Comparison(name, base_stat, new_stat, *references, (b.spread + n.spread) / 2, "")
        verdict = UNGATED if b.kind in NOT_GATED else timing_verdict(c.ratio, c.noise, threshold)
        compared.append(replace(c, verdict=verdict))
    return BenchGate(tuple(compared), *_unmatched(old, now), threshold, stat)


def _unmatched(old: dict, now: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names only in ``old``, and those only in ``now``, sorted."""
    return tuple(sorted(old.keys() - now.keys())), tuple(sorted(now.keys() - old.keys()))


@dataclass(frozen=True)
class EquivalenceChange:
    name: str
    was: str
    now: str
    why: str


@dataclass(frozen=True)
class EquivalenceGate:
    regressions: tuple[EquivalenceChange, ...]
    only_in_baseline: tuple[str, ...]
    only_in_new: tuple[str, ...]
    compared: int


def compare_checks(base: CheckRun, new: CheckRun) -> EquivalenceGate:
    """Entries that were equal and are not, whose max error grew more than tenfold, that are
    no longer checked (skipped), or that the new check no longer holds at all."""
    old = {e.name: e for e in base.entries}
    now = {e.name: e for e in new.entries}
    regressions = []
    both = sorted(old.keys() & now.keys())
    if not both:
        raise UsageError(f"no check entry is in both {base.path} and {new.path}")
    for name in both:
        b, n = old[name], now[name]
        was = None if b.agreement is None else b.agreement.max_abs_error
        is_ = None if n.agreement is None else n.agreement.max_abs_error
        if b.agreement is not None and n.agreement is None:
            regressions.append(EquivalenceChange(name, b.verdict, n.verdict, "no longer checked"))
        elif b.agreement is not None and b.agreement.equal and n.agreement.equal is False:
            regressions.append(EquivalenceChange(name, b.verdict, n.verdict, "was equal"))
        elif b.held and not n.held:
            regressions.append(
                EquivalenceChange(name, b.verdict, n.verdict, "expectation no longer holds")
            )
        elif was is not None and is_ is not None:
            floor = ERROR_FLOOR.get(n.dtype, 0.0)
            if is_ > ERROR_GROWTH * max(was, floor):
                growth = is_ / max(was, floor)
                regressions.append(
                    EquivalenceChange(name, f"{was:.2e}", f"{is_:.2e}", f"max error ×{growth:.0f}")
                )
    only_in_baseline, only_in_new = _unmatched(old, now)
    for name in only_in_baseline:
        regressions.append(EquivalenceChange(name, old[name].verdict, "absent", "not in the check"))
    return EquivalenceGate(tuple(regressions), only_in_baseline, only_in_new, len(both))


def setting_differences(base: BenchRun, new: BenchRun) -> list[str]:
    """What differs between the runs besides the commit: device, threads, profile, versions."""
    return [
        f"{key} differs: baseline {base.settings[key]}, new {new.settings[key]}"
        for key in ("device", "threads", "profile", "versions")
        if base.settings[key] != new.settings[key]
    ]
