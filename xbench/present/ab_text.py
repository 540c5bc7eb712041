"""What ``xbench ab`` prints: NEW/BASE per benchmark with its 95% interval, and a summary."""

from __future__ import annotations

from tabulate import tabulate

from xbench.analysis.paired import VERDICTS, Ratio, benchmark_ratio, verdicts
from xbench.present.units import format_seconds, percent
from xbench.records.ab_run import AbRun


def ratio_text(ratio: Ratio) -> str:
    """``×1.043 [1.021, 1.066]``; ``×1.043 (one pair: no interval)``."""
    if ratio.low is None:
        return f"×{ratio.estimate:.3f} (no interval)"
    return f"×{ratio.estimate:.3f} [{ratio.low:.3f}, {ratio.high:.3f}]"


def table(run: AbRun) -> str:
    found = verdicts(run)
    rows = []
    for bench in sorted(run.benchmarks, key=lambda b: (VERDICTS.index(found[b.id]), b.id)):
        rows.append([
            bench.id,
            format_seconds(bench.median("base")),
            format_seconds(bench.median("new")),
            ratio_text(benchmark_ratio(bench)),
            found[bench.id],
        ])  # fmt: skip
    headers = ["benchmark", "BASE median", "NEW median", "NEW/BASE [95% interval]", "verdict"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def header(run: AbRun) -> str:
    s = run.settings
    return (
        f"BASE {run.base.label}\nNEW  {run.new.label}\n"
        f"{len(run.benchmarks)} benchmarks, {s['pairs']} process pairs × {s['rounds']} "
        f"interleaved round pairs each, {s['threads']} threads, {run.seconds:.0f} s"
    )


def summary(run: AbRun) -> str:
    found = list(verdicts(run).values())
    counts = ", ".join(f"{found.count(v)} {v}" for v in VERDICTS if found.count(v))
    return (
        f"{counts} (regressed: the whole 95% interval lies above ×{1 + run.threshold:.3f}, "
        f"threshold {percent(run.threshold)})"
    )
