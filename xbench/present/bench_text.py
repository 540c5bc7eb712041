"""What ``xbench bench`` prints when a run is done: the AdamW update at the largest size."""

from __future__ import annotations

from tabulate import tabulate

from xbench.analysis.grouping import headline_candidates
from xbench.present.units import pct_cell
from xbench.records.bench_run import BenchRun
from xbench.spec.benchmarks import size_label


def summary(run: BenchRun) -> str:
    """AdamW ``weight_decay`` update steps in one tensor at the run's largest size, fastest
    first; empty when the run timed none."""
    updates = headline_candidates(run.results)
    if not updates:
        return ""
    rows = [
        [
            f"{r.framework} {r.implementation}",
            f"{r.median * 1e6:,.0f}",
            "-" if r.achieved_GBps is None else f"{r.achieved_GBps:.1f}",
            pct_cell(r.bandwidth_pct),
        ]
        for r in sorted(updates, key=lambda r: r.median)
    ]
    title = f"AdamW update step, {size_label(updates[0].params)} parameters in one tensor (median):"
    headers = ["implementation", "median µs", "GB/s", "% of roofline"]
    return f"{title}\n{tabulate(rows, headers=headers, tablefmt='simple')}"
