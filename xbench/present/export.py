"""A bench run in other tools' formats (``xbench export``; the fields: docs/tools.md):
github-action-benchmark's ``customSmallerIsBetter`` JSON, and the long table as CSV, one row
per benchmark with every field (``BenchRun.rows``)."""

from __future__ import annotations

import csv
import io
import json

from xbench.records.bench_run import BenchRun

UNIT = "ms"  # one unit for every entry: a chart's values stay comparable across commits
FORMATS = ("github-action-benchmark", "csv")


def github_action_benchmark(run: BenchRun) -> list[dict]:
    """The ``customSmallerIsBetter`` entries of ``run``'s benchmarks (the harness self-test
    is not one)."""
    entries = []
    for result in run.benchmarks:
        extra = [f"median of {result.rounds} rounds; IQR {result.iqr * 1e3:.4g} {UNIT}"]
        if result.achieved_GBps is not None:
            line = f"{result.achieved_GBps:.3g} GB/s"
            if result.bandwidth_pct is not None:
                line += f", {result.bandwidth_pct:.0f}% of the measured bandwidth"
            extra.append(line)
        extra.append(f"run {run.path.name} on {run.label}")
        entries.append({"name": result.id, "unit": UNIT, "value": result.median * 1e3,
                        "range": f"IQR {result.iqr * 1e3:.4g}",
                        "extra": "\n".join(extra)})  # fmt: skip
    return entries


def to_text(run: BenchRun, form: str) -> str:
    """``run`` in format ``form`` (one of FORMATS)."""
    if form == "github-action-benchmark":
        return json.dumps(github_action_benchmark(run), indent=2) + "\n"
    rows = run.rows()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
