"""``xbench check``: the equivalence catalogue, float64 and float32; exit 1 if any
expectation fails."""

from __future__ import annotations

import argparse
from pathlib import Path

from xbench.cli import options
from xbench.errors import UsageError
from xbench.jobs.check import CheckRequest, run_check, selected
from xbench.present import check_text
from xbench.run.check import FILTER_CHOICES, Filters
from xbench.run.threads import resolve_jobs


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check",
        help="run the equivalence catalogue and classify every entry",
        description="Compare every step of every catalogue entry, float64 "
        "and float32; exit 1 if any expectation fails. The rules and the expected "
        "differences are written out in docs/rules.md.",
    )
    for flag, valid in FILTER_CHOICES.items():
        p.add_argument(
            f"--{flag}",
            action="append",
            default=[],
            metavar=flag.upper(),
            help=f"keep entries with this {flag} (repeatable): {', '.join(valid)}",
        )
    options.add_device(p)
    p.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    options.add_overwrite(p, "replace an existing --json")
    p.add_argument(
        "--publish",
        action="store_true",
        help="also save the JSON as <results>/checks/<label>/<time>_check_<commit>.json (never "
        "overwriting), where `xbench report` finds it for the equivalence matrix",
    )
    options.add_results(p, "with --publish ")
    options.add_label(p, "(with --publish) results folder name (default: as `xbench bench`)")
    options.add_list(p, "list the selected entries, run nothing")
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="run the trajectories in N worker processes; 1: one after another in this "
        "process (default: one per usable CPU, at most one per run; 1 with a CUDA --device). "
        "The same numbers either way",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="print where the time went instead of the table of entries: each runner's runs, "
        "JAX's programs compiled or loaded from the compilation cache, compiling against "
        "running, the slowest runs (make profile)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    filters = Filters(*(tuple(getattr(args, f)) for f in FILTER_CHOICES))
    options.device(args.device)
    resolve_jobs(args.jobs)
    if not args.publish and (args.label or args.results != options.RESULTS):
        raise UsageError("--label and --results go with --publish")
    if args.list and args.profile:
        raise UsageError("--profile times a check; --list runs nothing: give one of them")
    if args.list:
        print("\n".join(check_text.entry_lines(selected(filters))))
        return 0
    request = CheckRequest(
        filters, args.device, args.json, args.overwrite, args.publish, args.results, args.label,
        jobs=args.jobs, costs={} if args.profile else None,
    )  # fmt: skip
    record, written = run_check(request)
    if args.profile:
        print(check_text.profile(request.costs, record.seconds))
    else:
        print(check_text.outcome_table(record))
    print("\n" + check_text.summary_line(record))
    for path in written:
        print(f"wrote {path}")
    return 1 if check_text.counts(record)[1] else 0
