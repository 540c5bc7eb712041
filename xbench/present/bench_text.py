"""What ``xbench bench`` prints when a run is done: the AdamW update at the largest size."""

from __future__ import annotations

from tabulate import tabulate

from xbench.analysis.grouping import largest_adamw
from xbench.present.units import gbps, pct_cell
from xbench.records.bench_run import BenchRun
from xbench.workloads.benchmarks import size_label


def summary(run: BenchRun) -> str:
    """AdamW ``weight_decay`` update steps in one tensor at the run's largest size, fastest
    first; empty when the run timed none."""
    updates = largest_adamw(run.results)
    if not updates:
        return ""
    rows = [
        [f"{r.framework} {r.implementation}", f"{r.median * 1e6:,.0f}",
         gbps(r.achieved_GBps), pct_cell(r.bandwidth_pct)]
        for r in updates
    ]  # fmt: skip
    title = f"AdamW update step, {size_label(updates[0].params)} parameters in one tensor (median):"
    headers = ["implementation", "median µs", "GB/s", "% of roofline"]
    return f"{title}\n{tabulate(rows, headers=headers, tablefmt='simple')}"
