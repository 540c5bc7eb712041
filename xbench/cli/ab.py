"""``xbench ab BASE NEW``: two versions timed interleaved, NEW/BASE with 95% intervals."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from xbench.analysis.compare import parse_threshold
from xbench.analysis.paired import REGRESSED, verdicts
from xbench.cli import options
from xbench.errors import UsageError
from xbench.jobs.ab import (
    DEFAULT_BUDGET,
    DEFAULT_PAIRS,
    DEFAULT_THRESHOLD,
    GATE_BUDGET,
    GATE_PAIRS,
    AbRequest,
    run_ab,
    selected,
)
from xbench.present import ab_text
from xbench.present.units import percent
from xbench.records.storage import ensure_writable
from xbench.run.threads import resolve_threads


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ab",
        help="time two versions (git revisions or interpreters) interleaved: NEW/BASE ± 95%%",
        description="Run the selected update and training steps for BASE and NEW interleaved "
        "on this machine: several fresh worker processes per side, their rounds strictly "
        "alternating (a random side starts). Each side is a git revision of this repository or "
        "the path of a Python interpreter (this checkout's code under it: how a torch/jax/optax "
        "version change is measured). Prints NEW/BASE per benchmark with a 95% interval and a "
        "verdict. Exit 0, 1 when any benchmark regressed, 2 for bad input. Method: docs/ab.md.",
    )
    p.add_argument("base", metavar="BASE", help="git revision or Python interpreter")
    p.add_argument("new", metavar="NEW", help="git revision or Python interpreter")
    p.add_argument("--quick", action="store_true", help="the quick profile's update/train steps")
    p.add_argument(
        "--gate", action="store_true", help="the CI set: AdamW updates at 1e4 and 1e6 in torch's "
        "eager paths and JAX's donated jit, and a training step per framework (10 benchmarks)",
    )  # fmt: skip
    p.add_argument("-k", dest="select", help="pytest -k expression selecting benchmarks")
    p.add_argument(
        "--threshold",
        default=percent(DEFAULT_THRESHOLD),
        help="regressed when the whole 95%% interval lies above 1 + this (default %(default)s)",
    )
    p.add_argument(
        "--time-budget",
        help=f"wall time to aim for, e.g. 300s or 5m (default {DEFAULT_BUDGET:.0f}s; "
        f"{GATE_BUDGET:.0f}s with --gate)",
    )
    p.add_argument(
        "--pairs", type=int,
        help=f"fresh worker processes per side (default {DEFAULT_PAIRS}; {GATE_PAIRS} with --gate)",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=int, help="seed of the benchmark order and of which side starts each "
        "series of rounds (default: random)",
    )  # fmt: skip
    p.add_argument(
        "--no-confirm", dest="confirm", action="store_false",
        help="keep the first measurement's verdicts (by default a flagged benchmark is measured "
        "again in twice as many fresh process pairs, and its verdict stands only if that finds "
        "a difference in the same direction)",
    )  # fmt: skip
    p.add_argument("--json", type=Path, metavar="PATH", help="write the result (never overwrites)")
    options.add_device(p)
    options.add_threads(p)
    options.add_list(p, "list the benchmarks that would run and exit")
    p.set_defaults(func=run)


def parse_budget(text: str) -> float:
    """``300``, ``300s``, ``5m`` → seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min)?\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"malformed --time-budget {text!r}; give seconds or minutes, e.g. 5m")
    return float(match.group(1)) * (60 if match.group(2) in ("m", "min") else 1)


def run(args: argparse.Namespace) -> int:
    budget = GATE_BUDGET if args.gate else DEFAULT_BUDGET
    request = AbRequest(
        base=args.base, new=args.new, quick=args.quick, gate=args.gate, select=args.select,
        threshold=parse_threshold(args.threshold), json=args.json,
        time_budget=parse_budget(args.time_budget) if args.time_budget else budget,
        pairs=args.pairs if args.pairs is not None else GATE_PAIRS if args.gate else DEFAULT_PAIRS,
        threads=resolve_threads(args.threads), device=options.device(args.device),
        seed=args.seed, confirm=args.confirm,
    )  # fmt: skip
    cases = selected(request)
    if args.list:
        print("\n".join(c.id for c in cases))
        return 0
    if args.json:
        ensure_writable(args.json)
    result = run_ab(request)
    print(ab_text.header(result) + "\n")
    print(ab_text.table(result) + "\n")
    print(ab_text.summary(result))
    if args.json:
        print(f"xbench ab: wrote {args.json}")
    return 1 if REGRESSED in verdicts(result).values() else 0
