"""``xbench compare``: the regression gate between a baseline run and a new one.

Shared machines drift by tens of percent within minutes, for every benchmark at once. So each
benchmark's statistic is divided by its own run's reference kernel (the ``inplace_add`` kernel
timed just before and after it; for a result without one, the run's standalone kernel at the
nearest size) and the gate compares these normalised figures. A benchmark regresses when its
normalised figure grew by more than the threshold *and* by more than the noise of the two
runs: half the sum of their IQR/median, i.e. the two interquartile boxes no longer overlap.

Equivalence counts too: given both runs' ``xbench check --json``, an entry that was equal and
is no longer, or whose largest error grew more than tenfold, fails the gate.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from tabulate import tabulate

from xbench.errors import UsageError
from xbench.results import CheckRun, Result, Run
from xbench.roofline import nearest_size

STATS = ("median", "mean", "min")
# The reference kernels are the yardstick; the perturbed overhead benchmark tests a check.
NOT_GATED = ("reference", "overhead_perturbed")
ERROR_GROWTH = 10.0  # an equivalence error that grows more than this fails the gate
# Errors below these are rounding-level: growth among them (0 → 1e-16) is not a regression.
ERROR_FLOOR = {"float64": 1e-14, "float32": 5e-9}
REGRESSED, IMPROVED, UNCHANGED, NOISY, UNGATED = (
    "REGRESSED", "improved", "unchanged", "within noise", "not gated",
)  # fmt: skip


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


def percent(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


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


def reference_seconds(result: Result, run: Run) -> float | None:
    """The median of the reference kernel ``result`` is normalised by, in its own run."""
    if result.kind == "reference":
        return None
    adjacent = result.extra.get("adjacent_reference")
    if adjacent:
        return float(adjacent["median"])
    kernels = {
        r.params: r.median
        for r in run.results
        if r.kind == "reference" and r.implementation == "inplace_add" and r.device == result.device
    }
    return kernels[nearest_size(kernels, result.params)] if kernels else None


def _stat(result: Result, stat: str, run: Run) -> float:
    value = result.stats.get(stat)
    if not isinstance(value, (int, float)) or not value > 0:
        raise UsageError(f"{run.path}: {result.id} has no positive stats.{stat}")
    return float(value)


def judge(ratio: float | None, noise: float, threshold: float) -> str:
    if ratio is None:
        return UNGATED
    change = ratio - 1.0
    if abs(change) <= threshold:
        return UNCHANGED
    if abs(change) <= noise:
        return NOISY
    return REGRESSED if change > 0 else IMPROVED


def compare_runs(base: Run, new: Run, threshold: float = 0.10, stat: str = "median") -> BenchGate:
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
        for result, run, reference in ((b, base, references[0]), (n, new, references[1])):
            if result.kind not in NOT_GATED and reference is None:
                raise UsageError(
                    f"{run.path}: {name} has no reference kernel to normalise by (no "
                    "adjacent_reference, no inplace_add benchmark); re-run it with xbench bench"
                )
        c = Comparison(
            name=name,
            base=_stat(b, stat, base),
            new=_stat(n, stat, new),
            base_reference=references[0],
            new_reference=references[1],
            noise=(b.spread + n.spread) / 2,
            verdict="",
        )
        verdict = UNGATED if b.kind in NOT_GATED else judge(c.ratio, c.noise, threshold)
        compared.append(replace(c, verdict=verdict))
    return BenchGate(
        tuple(compared),
        tuple(sorted(old.keys() - now.keys())),
        tuple(sorted(now.keys() - old.keys())),
        threshold,
        stat,
    )


# ----------------------------------------------------------------------------- equivalence


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


def _error(entry: dict) -> float | None:
    agreement = entry.get("agreement")
    return None if agreement is None else float(agreement["max_abs_error"])


def _equal(entry: dict) -> bool | None:
    agreement = entry.get("agreement")
    return None if agreement is None else bool(agreement["equal"])


def compare_checks(base: CheckRun, new: CheckRun) -> EquivalenceGate:
    """Entries that were equal and are not, or whose max error grew more than tenfold."""
    old = {e["name"]: e for e in base.entries}
    now = {e["name"]: e for e in new.entries}
    regressions = []
    both = sorted(old.keys() & now.keys())
    if not both:
        raise UsageError(f"no check entry is in both {base.path} and {new.path}")
    for name in both:
        b, n = old[name], now[name]
        was, is_ = _error(b), _error(n)
        if b.get("agreement") is not None and n.get("agreement") is None:
            regressions.append(
                EquivalenceChange(name, b["verdict"], n["verdict"], "no longer checked")
            )
        elif _equal(b) and _equal(n) is False:
            regressions.append(EquivalenceChange(name, b["verdict"], n["verdict"], "was equal"))
        elif b["held"] and not n["held"]:
            regressions.append(
                EquivalenceChange(name, b["verdict"], n["verdict"], "expectation no longer holds")
            )
        elif was is not None and is_ is not None:
            floor = ERROR_FLOOR.get(n["left"]["case"].get("dtype"), 0.0)
            if is_ > ERROR_GROWTH * max(was, floor):
                growth = is_ / max(was, floor)
                regressions.append(
                    EquivalenceChange(name, f"{was:.2e}", f"{is_:.2e}", f"max error ×{growth:.0f}")
                )
    return EquivalenceGate(
        tuple(regressions),
        tuple(sorted(old.keys() - now.keys())),
        tuple(sorted(now.keys() - old.keys())),
        len(both),
    )


def setting_differences(base: Run, new: Run) -> list[str]:
    """What differs between the runs besides the commit: device, threads, profile, versions."""
    return [
        f"{key} differs: baseline {base.settings[key]}, new {new.settings[key]}"
        for key in ("device", "threads", "profile", "versions")
        if base.settings[key] != new.settings[key]
    ]


# ----------------------------------------------------------------------------- presentation

ORDER = (REGRESSED, IMPROVED, NOISY, UNCHANGED, UNGATED)


def bench_table(gate: BenchGate) -> str:
    from xbench.report import format_seconds

    rows = [
        [
            c.name,
            format_seconds(c.base),
            format_seconds(c.new),
            f"{c.raw_ratio:.3f}",
            "-" if c.ratio is None else f"{c.ratio:.3f}",
            f"{c.noise:.1%}",
            c.verdict,
        ]
        for c in sorted(gate.compared, key=lambda c: (ORDER.index(c.verdict), c.name))
    ]
    headers = [
        "benchmark", f"baseline {gate.stat}", f"new {gate.stat}", "raw new/base",
        "normalised new/base", "noise", "verdict",
    ]  # fmt: skip
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def bench_summary(gate: BenchGate) -> list[str]:
    counts = {v: sum(c.verdict == v for c in gate.compared) for v in ORDER}
    lines = [
        f"bench: {len(gate.compared)} compared by {gate.stat}, "
        f"threshold {percent(gate.threshold)}: "
        + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    ]
    for c in gate.regressions:
        lines.append(f"  REGRESSED {c.name}: ×{c.ratio:.3f} normalised (noise {c.noise:.1%})")
    for c in gate.improvements:
        lines.append(f"  improved {c.name}: ×{c.ratio:.3f} normalised")
    for side, names in (("baseline", gate.only_in_baseline), ("new run", gate.only_in_new)):
        if names:
            lines.append(f"  only in the {side} ({len(names)}): {', '.join(names)}")
    return lines


def equivalence_summary(gate: EquivalenceGate) -> list[str]:
    lines = [f"equivalence: {gate.compared} entries compared, {len(gate.regressions)} regressed"]
    for r in gate.regressions:
        lines.append(f"  REGRESSED {r.name}: {r.why} ({r.was} → {r.now})")
    for side, names in (("baseline", gate.only_in_baseline), ("new check", gate.only_in_new)):
        if names:
            lines.append(f"  only in the {side} ({len(names)}): {', '.join(names)}")
    return lines


# ----------------------------------------------------------------------------- stability


def spread_table(runs: list[Run], threshold: float, stat: str = "median") -> tuple[str, list[str]]:
    """How much each benchmark moves across repeated runs, raw and normalised (max/min − 1),
    and how many false regressions the gate raises over every pair of runs."""
    common = set.intersection(*({r.id for r in run.results} for run in runs))
    if not common:
        raise UsageError("these runs have no benchmark in common")
    rows, raw_spreads, norm_spreads = [], [], []
    for name in sorted(common):
        raw, normalised = [], []
        for run in runs:
            result = next(r for r in run.results if r.id == name)
            value = _stat(result, stat, run)
            raw.append(value)
            reference = reference_seconds(result, run)
            if reference is not None:
                normalised.append(value / reference)
        raw_spread = max(raw) / min(raw) - 1
        norm_spread = max(normalised) / min(normalised) - 1 if normalised else None
        if result.kind not in NOT_GATED and norm_spread is not None:
            raw_spreads.append(raw_spread)
            norm_spreads.append(norm_spread)
        rows.append(
            [name, f"{raw_spread:.1%}", "-" if norm_spread is None else f"{norm_spread:.1%}"]
        )
    if not raw_spreads:
        raise UsageError("these runs have no gated benchmark in common (only reference kernels)")
    false_alarms = pairs = compared = 0
    for i, base in enumerate(runs):
        for new in runs[i + 1 :]:
            for b, n in ((base, new), (new, base)):
                gate = compare_runs(b, n, threshold, stat)
                pairs += 1
                compared += sum(c.verdict != UNGATED for c in gate.compared)
                false_alarms += len(gate.regressions)
    table = tabulate(
        rows, headers=["benchmark", "raw spread", "normalised spread"], tablefmt="simple",
        disable_numparse=True,
    )  # fmt: skip
    summary = [
        f"{len(runs)} runs, {len(common)} common benchmarks, {len(raw_spreads)} gated; spread = "
        f"max/min − 1 of the {stat} over the gated ones",
        f"raw:        median {_median(raw_spreads):.1%}, worst {max(raw_spreads):.1%}",
        f"normalised: median {_median(norm_spreads):.1%}, worst {max(norm_spreads):.1%}",
        f"gate at {percent(threshold)} over all {pairs} ordered pairs of runs: "
        f"{false_alarms} false "
        f"regression(s) in {compared} comparisons ({false_alarms / max(compared, 1):.0%})",
    ]
    return table, summary


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# ----------------------------------------------------------------------------- against a baseline

BASELINE_RUN, BASELINE_CHECK = "quick.json", "check.json"


def run_now(device: str, threads: int, label: str) -> tuple[Path, Path]:
    """Run the quick bench and the equivalence check now, into a new temporary folder (kept,
    so the runs can be inspected or promoted); return the two JSON paths."""
    from xbench import machine
    from xbench.bench import BenchRun, run_bench

    folder = Path(tempfile.mkdtemp(prefix="xbench-compare-"))
    code = run_bench(BenchRun("quick", device, threads, folder, label))
    if code != 0:
        raise UsageError(f"the quick bench failed (exit {code}); nothing to compare")
    (run,) = sorted((folder / label).glob("*_quick_*.json"))
    check = folder / "check.json"
    print("\nxbench compare: running the equivalence catalogue (xbench check)", flush=True)
    command = [sys.executable, "-m", "xbench", "check", "--device", device, "--json", str(check)]
    code = subprocess.call(command, cwd=machine.REPO)
    if code not in (0, 1) or not check.is_file():  # 1: an expectation failed; the gate judges it
        raise UsageError(f"xbench check exited {code}; nothing to compare")
    return run, check


def baseline_paths(folder: Path) -> tuple[Path, Path]:
    """The baseline run and check of one machine: ``<baseline dir>/<label>/``."""
    return folder / BASELINE_RUN, folder / BASELINE_CHECK


def update_baseline(run: Path, check: Path, targets: tuple[Path, Path]) -> None:
    """Replace the committed baseline with these files (git keeps the old one)."""
    from xbench.storage import write_atomically

    targets[0].parent.mkdir(parents=True, exist_ok=True)
    for source, target in zip((run, check), targets, strict=True):
        data = source.read_bytes()
        write_atomically(target, lambda f, data=data: f.write(data))
