"""``xbench migrate``: a results folder from an older xbench, in the current layout."""

from __future__ import annotations

import argparse

from xbench.cli import options
from xbench.records.migrate import migrate, plan


def add_parser(sub) -> None:
    p = sub.add_parser(
        "migrate",
        help="rename and move results written by an older xbench into the current layout",
        description="Bench runs named <time>_<profile>_<commit>.json (in <results>/<label>/ "
        "and <results>/stability/<label>/) become NNNN_<commit>_<profile>_<time>.json "
        "(numbered in time order, as pytest-benchmark's storage numbers runs); each benchmark "
        "gets its group and JSON params, and the harness self-test moves out of the "
        "benchmarks to harness_self_test; published checks move to <results>/checks/<label>/. "
        "No number in any file changes.",
    )
    options.add_results(p)
    p.add_argument("--dry-run", action="store_true", help="only list what would move")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.dry_run:
        moves = plan(args.results)
        for move in moves:
            print(f"{move.old} -> {move.new}")
    else:
        moves = migrate(args.results)  # which prints each move as it is made
    if not moves:
        print(f"xbench migrate: {args.results} is already in the current layout")
    elif not args.dry_run:
        print(f"xbench migrate: {len(moves)} file(s) moved")
    return 0
