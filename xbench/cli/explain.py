"""``xbench explain A.npz B.npz``: do two trajectories agree, and if not, which known cause
reproduces the difference (docs/explain.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from xbench.analysis.explain import explain
from xbench.present.explain_text import explanation_lines


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="why two trajectories (.npz) differ: test the known causes",
        description="Compare two traces step by step; when they differ, re-run the float64 "
        "reference on the recorded inputs under each known cause (coupled vs decoupled "
        "decay, the missing ½, decay after η, masks, a parameter without a gradient, decay "
        "one step late, λ or η scaled, ε placement, schedule stepping, clipping order) and "
        "print those that reproduce it. Exit 0: equal; 1: different; 2: bad input.",
    )
    p.add_argument("a", type=Path, metavar="A.npz", help="a trace (xbench trace, or your own)")
    p.add_argument("b", type=Path, metavar="B.npz", help="the trace to compare with A")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = explain(args.a, args.b)
    print("\n".join(explanation_lines(result, str(args.a), str(args.b))))
    return result.exit_code
