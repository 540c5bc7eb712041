"""``xbench bench``: the timed sweep under pytest-benchmark, its JSON into results/."""

from __future__ import annotations

import argparse
import math

from xbench.cli import options
from xbench.errors import UsageError
from xbench.jobs.bench import BenchRequest, listed, run_bench
from xbench.jobs.bench_interleaved import DEFAULT_PAIRS
from xbench.jobs.check import require_device
from xbench.present.bench_text import summary
from xbench.run.interleave import check_pairs
from xbench.run.threads import resolve_threads
from xbench.workloads.benchmarks import SWEEP_PROFILES


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="time update and training steps (pytest-benchmark) and save the JSON in results/",
        description="Run the timed sweep (the suite in xbench.suite) under pytest-benchmark and "
        "publish its JSON as results/<label>/NNNN_<commit>_<profile>_<time>.json, the next "
        "number (never overwriting; pytest-benchmark --storage file://results/<label> reads "
        "it). Needs pytest-benchmark: pip install 'xbench[bench]'.",
    )
    p.add_argument(
        "--quick", action="store_true", help="the quick profile (about a minute; for CI)"
    )
    p.add_argument(
        "--profile", help=f"one of: {', '.join(SWEEP_PROFILES)} (default: default; --quick: quick)"
    )
    options.add_device(p)
    options.add_threads(p)
    options.add_label(p, "results folder name (default: from the CPU/GPU model)")
    options.add_results(p)
    p.add_argument("-k", dest="select", help="pytest -k expression selecting benchmarks")
    p.add_argument(
        "--paired-budget",
        type=float,
        metavar="SECONDS",
        help="time for the torch-vs-JAX stage after the sweep: each comparison timed "
        "interleaved, with a 95%% interval (default: the profile's; 0: skip it)",
    )
    p.add_argument(
        "--pairs",
        type=int,
        default=DEFAULT_PAIRS,
        help=f"process pairs of the torch-vs-JAX stage (default {DEFAULT_PAIRS}, at least 2)",
    )
    options.add_list(p, "list the benchmarks that would run (with -k: those it selects) and exit")
    p.set_defaults(func=run)


def profile_of(args: argparse.Namespace) -> str:
    if args.quick and args.profile not in (None, "quick"):
        raise UsageError(f"--quick contradicts --profile {args.profile}")
    profile = "quick" if args.quick else args.profile or "default"
    if profile not in SWEEP_PROFILES:
        raise UsageError(f"unknown profile {profile!r}; valid: {', '.join(SWEEP_PROFILES)}")
    return profile


def run(args: argparse.Namespace) -> int:
    profile = profile_of(args)
    options.device(args.device)
    threads = resolve_threads(args.threads)
    budget = SWEEP_PROFILES[profile].paired_seconds
    budget = budget if args.paired_budget is None else args.paired_budget
    if budget < 0 or not math.isfinite(budget):
        raise UsageError(f"--paired-budget {args.paired_budget}: must be 0 (skip) or positive")
    check_pairs(args.pairs)
    request = BenchRequest(
        profile, args.device, threads, args.results, args.label, args.select, budget, args.pairs
    )
    if args.list:
        print("\n".join(listed(request)))
        return 0
    if args.device != "cpu":
        require_device(args.device, {"torch"})
    code, run_record, minutes = run_bench(request)
    if run_record is not None:
        print(f"\nxbench bench: {minutes:.1f} min; wrote {run_record.path}")
        print(summary(run_record))
    return code
