"""What ``xbench compare`` prints: the comparison table, the verdicts, the spread of repeats."""

from __future__ import annotations

from tabulate import tabulate

from xbench.analysis.compare import REGRESSED, VERDICT_ORDER, BenchGate, EquivalenceGate
from xbench.analysis.repeats import RepeatSpread
from xbench.present.units import format_seconds, percent

SHOWN = 10  # names listed before "and N more"


def names_text(names) -> str:
    """At most SHOWN names, then how many more."""
    names = list(names)
    more = f", and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def _plain(rows: list[list], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def shown(verdict: str) -> str:
    """A verdict as the gate prints it: a regression in capitals, to stand out."""
    return verdict.upper() if verdict == REGRESSED else verdict


def bench_table(gate: BenchGate) -> str:
    rows = [
        [c.name, format_seconds(c.base), format_seconds(c.new), f"{c.raw_ratio:.3f}",
         "-" if c.ratio is None else f"{c.ratio:.3f}", f"{c.noise:.1%}", shown(c.verdict)]
        for c in sorted(gate.compared, key=lambda c: (VERDICT_ORDER.index(c.verdict), c.name))
    ]  # fmt: skip
    headers = [
        "benchmark", f"baseline {gate.stat}", f"new {gate.stat}", "raw new/base",
        "normalised new/base", "noise", "verdict",
    ]  # fmt: skip
    return _plain(rows, headers)


def bench_summary(gate: BenchGate) -> list[str]:
    counts = {v: sum(c.verdict == v for c in gate.compared) for v in VERDICT_ORDER}
    lines = [
        f"bench: {len(gate.compared)} compared by {gate.stat}, threshold "
        f"{percent(gate.threshold)}: "
        + ", ".join(f"{n} {shown(v)}" for v, n in counts.items() if n)
    ]
    for c in gate.regressions:
        lines.append(f"  REGRESSED {c.name}: ×{c.ratio:.3f} normalised (noise {c.noise:.1%})")
    for c in gate.improvements:
        lines.append(f"  improved {c.name}: ×{c.ratio:.3f} normalised")
    return (
        lines + _only_in("baseline", gate.only_in_baseline) + _only_in("new run", gate.only_in_new)
    )


def _only_in(side: str, names) -> list[str]:
    return [f"  only in the {side} ({len(names)}): {names_text(names)}"] if names else []


def equivalence_summary(gate: EquivalenceGate) -> list[str]:
    lines = [f"equivalence: {gate.compared} entries compared, {len(gate.regressions)} regressed"]
    for r in gate.regressions:
        if r.name not in gate.only_in_baseline:
            lines.append(f"  REGRESSED {r.name}: {r.why} ({r.was} → {r.now})")
    if gate.only_in_baseline:
        lines.append(
            f"  REGRESSED: {len(gate.only_in_baseline)} entries of the baseline are not in the "
            f"new check: {names_text(gate.only_in_baseline)}"
        )
    return lines + _only_in("new check", gate.only_in_new)


def repeats_table(found: RepeatSpread) -> str:
    rows = [
        [s.name, f"{s.raw:.1%}", "-" if s.normalised is None else f"{s.normalised:.1%}"]
        for s in found.spreads
    ]
    return _plain(rows, ["benchmark", "raw spread", "normalised spread"])


def repeats_summary(found: RepeatSpread) -> list[str]:
    rate = found.false_alarms / max(found.compared, 1)
    return [
        f"{found.runs} runs, {len(found.spreads)} common benchmarks, {len(found.gated)} gated; "
        f"spread = max/min − 1 of the {found.stat} over the gated ones",
        f"raw:        median {found.median('raw'):.1%}, worst {found.worst('raw'):.1%}",
        f"normalised: median {found.median('normalised'):.1%}, "
        f"worst {found.worst('normalised'):.1%}",
        f"gate at {percent(found.threshold)} over all {found.pairs} ordered pairs of runs: "
        f"{found.false_alarms} false regression(s) in {found.compared} comparisons ({rate:.0%})",
    ]
