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


def benchmark_rows(benchmarks, found: dict[str, str], confirmed=True, name=str) -> list[list]:
    """Per benchmark: ``name`` of its id, both medians, NEW/BASE [95%], the confirmation's
    ratio (with ``confirmed``) and its verdict in ``found``."""
    return [
        [name(b.id), format_seconds(b.median("base")), format_seconds(b.median("new")),
         ratio_multiplier(benchmark_ratio(b)), *([confirmation_text(b)] if confirmed else []),
         found[b.id]]
        for b in benchmarks
    ]  # fmt: skip


def table(run: AbRun) -> str:
    found = verdicts(run)
    order = sorted(run.benchmarks, key=lambda b: (VERDICTS.index(found[b.id]), b.id))
    headers = ["benchmark", "BASE median", "NEW median", "NEW/BASE [95% interval]",
               "confirmation", "verdict"]  # fmt: skip
    return tabulate(benchmark_rows(order, found), headers, "simple", disable_numparse=True)


def header(run: AbRun) -> str:
    s = run.settings
    return (
        f"BASE {run.base.label}\nNEW  {run.new.label}\n"
        f"{len(run.benchmarks)} benchmarks, {s['pairs']} process pairs × "
        f"{rounds_text(s['rounds'])} interleaved round pairs each, {s['threads']} threads, "
        f"{run.seconds:.0f} s"
    )


def verdict_counts(found: dict[str, str]) -> str:
    """``1 regressed, 9 unchanged``: how many benchmarks got each verdict, in VERDICTS order."""
    values = list(found.values())
    return ", ".join(f"{values.count(v)} {v}" for v in VERDICTS if values.count(v))


def summary(run: AbRun) -> str:
    confirmed = run.settings.get("confirmation")
    again = (
        f"; the {len(confirmed['benchmarks'])} flagged by the first measurement were measured "
        f"again in {confirmed['pairs']} fresh process pairs, and a verdict stands only if that "
        "finds a difference in the same direction"
        if confirmed else ""
    )  # fmt: skip
    return (
        f"{verdict_counts(verdicts(run))} (regressed: the whole 95% interval lies above "
        f"×{1 + run.threshold:.3f}, threshold {percent(run.threshold)}{again})"
    )
