"""``xbench report``: RESULTS.md, its plots and the README's headline from published runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from xbench.cli import options
from xbench.jobs.report import ReportRequest, report


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write results/RESULTS.md (tables) and PNG plots from published runs",
        description="Tables (median and IQR, ratios, % of bandwidth, compile times, the "
        "equivalence matrix) and plots from bench JSON files. Default input: under --results, "
        "per machine folder, the newest bench run (not of the quick profile when there is "
        "another) and the newest `xbench check --publish` file.",
    )
    p.add_argument(
        "runs", nargs="*", type=Path, metavar="RESULT.json", help="bench runs (pytest-benchmark)"
    )
    p.add_argument(
        "--check",
        action="append",
        type=Path,
        default=[],
        metavar="CHECK.json",
        help="`xbench check --json` output for the equivalence matrix (repeatable, one per "
        "machine; default with no RESULT.json: the newest in each machine folder)",
    )
    options.add_results(p)
    p.add_argument("--out", type=Path, help="(default <results>/RESULTS.md)")
    p.add_argument(
        "--readme", type=Path, help="also update the headline table between its markers here"
    )
    p.add_argument(
        "--docs",
        type=Path,
        metavar="DIR",
        help="also update the generated blocks (figures quoted from the runs) in DIR/*.md",
    )
    options.add_no_plots(p)
    options.add_overwrite(p, "replace an --out not written by xbench report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request = ReportRequest(
        args.runs, args.check, args.results, args.out, args.readme, args.docs,
        not args.no_plots, args.overwrite,
    )  # fmt: skip
    written = report(request)
    print(
        f"xbench report: from {', '.join(map(str, written.inputs))}\n"
        f"wrote {', '.join(map(str, written.files))}"
    )
    if written.readme_changed is not None:
        state = "updated" if written.readme_changed else "unchanged"
        print(f"{state}: headline table in {args.readme}")
    for page, changed in written.pages_changed.items():
        print(f"{'updated' if changed else 'unchanged'}: generated blocks in {page}")
    return 0
