"""``xbench compare``: the regression gate; ``--spread`` for how much repeated runs move."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xbench.analysis.compare import STATS, parse_threshold
from xbench.analysis.repeats import repeat_spread
from xbench.cli import options
from xbench.errors import UsageError
from xbench.jobs.ab import DEFAULT_THRESHOLD
from xbench.jobs.compare import GateNow, Verdict, gate_files, gate_now, update_baseline
from xbench.present import ab_text, compare_text
from xbench.present.units import percent
from xbench.records.bench_run import load as load_run
from xbench.run import machine
from xbench.run.threads import resolve_threads


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="the regression gate: the check now and this checkout timed against the baseline "
        "revision, interleaved; or two published runs",
        description="With --against DIR (make compare): run the equivalence check now and "
        "compare it with DIR/<machine>/check.json, and time this checkout against the baseline "
        "revision in DIR/revision.json interleaved (xbench ab --gate, docs/ab.md). With two "
        "RUN.json files: match benchmarks by name, divide each by its own run's reference "
        "kernel, flag a slowdown beyond --threshold and both runs' noise; runs made at "
        "different times cannot resolve a small change on a shared machine. With both runs' "
        "`xbench check --json`, an entry that was equal and is no longer, or whose max error "
        "grew more than 10x, fails too. Exit 1 on a regression.",
    )
    p.add_argument("runs", nargs="*", type=Path, metavar="RUN.json", help="BASELINE NEW")
    p.add_argument(
        "--threshold",
        help="slowdown that counts, e.g. 10%% (default: 10%% for two files; "
        f"{percent(DEFAULT_THRESHOLD)}% with --against, where the whole 95%% interval must lie "
        "above 1 + it)",
    )
    p.add_argument("--stat", default="median", help="median, mean or min (default median)")
    p.add_argument("--baseline-check", type=Path, metavar="CHECK.json")
    p.add_argument("--new-check", type=Path, metavar="CHECK.json")
    p.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="run xbench check now against DIR/<machine label>/check.json, and xbench ab "
        "--gate against the commit in DIR/revision.json (make compare: results/baseline)",
    )
    p.add_argument(
        "--update-baseline",
        action="store_true",
        help="with --against: make the checked-out commit the baseline revision and a check "
        "run now the baseline check (make baseline REASON=...)",
    )
    p.add_argument("--reason", default="", help="with --update-baseline: why the baseline moves")
    p.add_argument(
        "--warn-only",
        action="store_true",
        help="print timing regressions without failing (equivalence regressions still fail)",
    )
    p.add_argument(
        "--spread",
        action="store_true",
        help="RUN.json ... are repeats: print how much each benchmark moves, raw and "
        "normalised, and the false regressions the gate raises between them",
    )
    options.add_device(p, "with --against: ")
    options.add_threads(p, "with --against: ")
    options.add_label(p, "with --against: the baseline folder (default: from the CPU/GPU model)")
    p.set_defaults(func=run)


def refuse_misplaced(args: argparse.Namespace) -> None:
    if not args.against:
        given = [f"--{k}" for k in ("label", "threads") if getattr(args, k) is not None]
        given += ["--device"] if args.device != "cpu" else []
        given += ["--update-baseline"] if args.update_baseline else []
        given += ["--reason"] if args.reason else []
        if given:
            raise UsageError(f"{', '.join(given)} go(es) with --against DIR")
    if args.spread and (args.against or args.baseline_check or args.new_check):
        raise UsageError("--spread takes only RUN.json files (with --threshold, --stat)")


def run(args: argparse.Namespace) -> int:
    if args.against:
        threshold = DEFAULT_THRESHOLD if args.threshold is None else parse_threshold(args.threshold)
    else:
        threshold = parse_threshold(args.threshold or "10%")
    if args.stat not in STATS:
        raise UsageError(f"unknown --stat {args.stat!r}; valid: {', '.join(STATS)}")
    refuse_misplaced(args)
    if args.spread:
        if len(args.runs) < 2:
            raise UsageError("--spread needs two or more runs of the same profile")
        found = repeat_spread([load_run(p) for p in args.runs], threshold, args.stat)
        print(compare_text.repeats_table(found) + "\n")
        print("\n".join(compare_text.repeats_summary(found)))
        return 0
    if args.against:
        return against(args, threshold)
    if len(args.runs) != 2:
        raise UsageError(f"give BASELINE and NEW (got {len(args.runs)} run files)")
    checks = (args.baseline_check, args.new_check)
    if (checks[0] is None) != (checks[1] is None):
        raise UsageError("give both --baseline-check and --new-check, or neither")
    return show(gate_files(tuple(args.runs), checks, threshold, args.stat, args.warn_only))


def against(args: argparse.Namespace, threshold: float) -> int:
    """Check and time now against the committed baseline, or replace it."""
    if args.runs or args.baseline_check or args.new_check:
        raise UsageError("give either --against DIR or BASELINE NEW [--*-check], not both")
    options.device(args.device)
    threads = resolve_threads(args.threads)
    label = args.label or machine.label(args.device, threads)
    if args.update_baseline:
        revision, check = update_baseline(args.against, label, args.device, args.reason)
        print(f"xbench compare: the baseline is now this commit ({revision}) and this check "
              f"({check})")  # fmt: skip
        return 0
    return show_now(gate_now(args.against, label, args.device, threads, threshold, args.warn_only))


def show_now(gate: GateNow) -> int:
    print(f"\nxbench compare: baseline revision {gate.revision.commit[:10]} "
          f"({gate.revision.datetime}: {gate.revision.reason})\n")  # fmt: skip
    print(ab_text.header(gate.timing) + "\n")
    print(ab_text.table(gate.timing) + "\n")
    lines = ["timing: " + ab_text.summary(gate.timing)]
    lines += compare_text.equivalence_summary(gate.equivalence)
    if gate.timing_regressed and gate.warn_only:
        lines.append("timing regressions are reported, not failed (--warn-only)")
    lines.append(f"the check and the timing are kept in {gate.folder}")
    print("\n".join(lines) + f"\nxbench compare: {'FAIL' if gate.failed else 'pass'}")
    return 1 if gate.failed else 0


def show(verdict: Verdict) -> int:
    """Print the comparison; 1 if the gate fails."""
    print(f"\nxbench compare: baseline {verdict.base}\n                new      {verdict.new}")
    print(
        "(two runs made at different times: on a shared machine they cannot resolve a change "
        "smaller than their own spread; `xbench ab` times two versions interleaved)\n"
    )
    for difference in verdict.warnings:
        print(f"xbench compare: warning: {difference}", file=sys.stderr)
    print(compare_text.bench_table(verdict.bench) + "\n")
    lines = compare_text.bench_summary(verdict.bench)
    if verdict.equivalence:
        lines += compare_text.equivalence_summary(verdict.equivalence)
    else:
        lines.append("equivalence: not compared (no check files)")
    if verdict.bench.regressions and verdict.warn_only:
        lines.append("timing regressions are reported, not failed (--warn-only)")
    print("\n".join(lines) + f"\nxbench compare: {'FAIL' if verdict.failed else 'pass'}")
    return 1 if verdict.failed else 0
