"""What ``xbench bench`` prints when a run is done: the AdamW update at the largest size."""

from __future__ import annotations

from tabulate import tabulate

from xbench.records.bench_run import BenchRun
from xbench.spec.benchmarks import size_label


def summary(run: BenchRun) -> str:
    """AdamW ``weight_decay`` update steps in one tensor at the run's largest size, fastest
    first; empty when the run timed none."""
    updates = [
        r
        for r in run.results
        if r.kind == "update" and (r.optimizer, r.rule) == ("adamw", "weight_decay")
        and r.tensors == 1
    ]  # fmt: skip
    if not updates:
        return ""
    largest = max(r.params for r in updates)
    rows = [
        [
            f"{r.framework} {r.implementation}",
            f"{r.median * 1e6:,.0f}",
            "-" if r.achieved_GBps is None else f"{r.achieved_GBps:.1f}",
            "-" if r.bandwidth_pct is None else f"{r.bandwidth_pct:.0f}%",
        ]
        for r in sorted(updates, key=lambda r: r.median)
        if r.params == largest
    ]
    title = f"AdamW update step, {size_label(largest)} parameters in one tensor (median):"
    headers = ["implementation", "median µs", "GB/s", "% of roofline"]
    return f"{title}\n{tabulate(rows, headers=headers, tablefmt='simple')}"
