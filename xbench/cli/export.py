"""``xbench export``: a bench run for other tools (github-action-benchmark, a CSV table)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xbench.cli import options
from xbench.errors import UsageError
from xbench.present.export import FORMATS, to_text
from xbench.records import layout
from xbench.records.bench_run import load
from xbench.records.storage import ensure_writable, write_new


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="a bench run as github-action-benchmark input or a CSV table",
        description="github-action-benchmark: its customSmallerIsBetter JSON (name = benchmark "
        "id, value = the median in ms, range = the IQR, extra = GB/s and % of bandwidth). "
        "csv: one row per benchmark with every field, typed columns (pandas, polars).",
    )
    p.add_argument(
        "run", type=Path, metavar="RUN.json|FOLDER",
        help="a bench run, or a machine folder (results/<label>): its newest run",
    )  # fmt: skip
    p.add_argument("--format", required=True, choices=FORMATS, dest="form", metavar="FORMAT",
                   help=f"one of: {', '.join(FORMATS)}")  # fmt: skip
    p.add_argument("--out", type=Path, help="write here (default: standard output)")
    options.add_overwrite(p, "replace an existing --out")
    p.set_defaults(func=run)


def run_path(given: Path) -> Path:
    """``given``, or the newest bench run in it when it is a folder."""
    if not given.is_dir():
        return given
    runs = layout.bench_runs(given)
    if not runs:
        raise UsageError(f"{given}: no bench run (NNNN_*.json) in this folder")
    return runs[-1]


def run(args: argparse.Namespace) -> int:
    if args.out:
        ensure_writable(args.out, args.overwrite)
    path = run_path(args.run)
    text = to_text(load(path, path.parent.name if args.run.is_dir() else None), args.form)
    if args.out:
        write_new(args.out, lambda f: f.write(text), args.overwrite, mode="w")
        print(f"xbench export: {path} -> {args.out} ({args.form})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
