"""What ``xbench ab`` prints: NEW/BASE per benchmark with its 95% interval, and a summary."""

from __future__ import annotations

from tabulate import tabulate

from xbench.analysis.paired import VERDICTS, benchmark_ratio, confirmation_ratio, verdicts
from xbench.present.units import format_seconds, percent, ratio_multiplier, rounds_text
from xbench.records.ab_run import AbRun


def confirmation_text(bench) -> str:
    """The confirmation's ratio when the benchmark was measured again; else empty."""
    second = confirmation_ratio(bench)
    return ratio_multiplier(second) if second else ""


def table(run: AbRun) -> str:
    found = verdicts(run)
    rows = []
    for bench in sorted(run.benchmarks, key=lambda b: (VERDICTS.index(found[b.id]), b.id)):
        rows.append([
            bench.id,
            format_seconds(bench.median("base")),
            format_seconds(bench.median("new")),
            ratio_multiplier(benchmark_ratio(bench)),
            confirmation_text(bench),
            found[bench.id],
        ])  # fmt: skip
    headers = ["benchmark", "BASE median", "NEW median", "NEW/BASE [95% interval]",
               "confirmation", "verdict"]  # fmt: skip
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def header(run: AbRun) -> str:
    s = run.settings
    return (
        f"BASE {run.base.label}\nNEW  {run.new.label}\n"
        f"{len(run.benchmarks)} benchmarks, {s['pairs']} process pairs × "
        f"{rounds_text(s['rounds'])} interleaved round pairs each, {s['threads']} threads, "
        f"{run.seconds:.0f} s"
    )


def summary(run: AbRun) -> str:
    found = list(verdicts(run).values())
    counts = ", ".join(f"{found.count(v)} {v}" for v in VERDICTS if found.count(v))
    confirmed = run.settings.get("confirmation")
    again = (
        f"; the {len(confirmed['benchmarks'])} flagged by the first measurement were measured "
        f"again in {confirmed['pairs']} fresh process pairs, and a verdict stands only if that "
        "finds a difference in the same direction"
        if confirmed else ""
    )  # fmt: skip
    return (
        f"{counts} (regressed: the whole 95% interval lies above ×{1 + run.threshold:.3f}, "
        f"threshold {percent(run.threshold)}{again})"
    )
