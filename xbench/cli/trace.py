"""``xbench trace``: one framework's trajectory for one case, to ``.npz``."""

from __future__ import annotations

import argparse
from pathlib import Path

from xbench.cli import options
from xbench.jobs.trace import trace
from xbench.workloads.cases import RUNNERS


def add_parser(sub) -> None:
    p = sub.add_parser(
        "trace",
        help="write one framework's trajectory for one case to .npz",
        description="Run one case in one framework and save every step.",
    )
    p.add_argument("--framework", required=True, help=f"one of: {', '.join(RUNNERS)}")
    options.add_case(p)
    p.add_argument(
        "--out",
        type=Path,
        help="output .npz (default: trace-<framework>-<case>-<dtype>-seed<seed>.npz here)",
    )
    options.add_overwrite(p, "replace an existing --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    case = options.case_from(args)
    trajectory, out = trace(args.framework, case, args.out, args.overwrite)
    diverged = trajectory.first_nonfinite_step()
    note = f", diverged at step {diverged}" if diverged else ""
    print(
        f"wrote {out}: {args.framework} {case.label} {case.dtype}, {case.steps} steps, "
        f"final loss {trajectory.loss[-1]:.6g}{note}"
    )
    return 0
