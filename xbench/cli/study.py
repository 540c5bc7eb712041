"""``xbench study``: the digits MLP trained with and without each regularizer in torch and
JAX; STUDY.md, its plots and the claims table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xbench.cli import options
from xbench.errors import UsageError
from xbench.records import study_run
from xbench.run.threads import available_cpus, resolve_threads
from xbench.study import job
from xbench.study.conditions import profile_for, select
from xbench.study.training import Diverged


def add_parser(sub) -> None:
    p = sub.add_parser(
        "study",
        help="train the digits MLP with and without each regularizer, in torch and JAX; "
        "write STUDY.md, plots and the claims table",
        description="Each condition (none, L2 at six strengths, L1 subgradient and proximal, "
        "ElasticNet, dropout, Adam + L2 against AdamW, batch norm with and without L2, dropout "
        "+ L2) trains in both frameworks from the same "
        "seeded weights, batches and dropout masks; then weight_decay and L2 in the loss train in "
        "float32 against a float64 reference. The JSON goes to <out>/runs/ (never "
        "replaced); STUDY.md and the PNGs to <out>. Full: 5 seeds × 150 epochs; --quick: 1 "
        "seed × 60 epochs (how long each takes: docs/architecture.md).",
    )
    p.add_argument("--quick", action="store_true", help="1 seed, 60 epochs")
    p.add_argument(
        "--out",
        type=Path,
        help="folder for STUDY.md, plots and runs/ (default <results>/study, "
        "<results>/study/quick with --quick, <results>/study/custom with --epochs/--seeds)",
    )
    p.add_argument("--epochs", type=int, help="override the profile's epochs")
    p.add_argument("--seeds", type=int, help="override the profile's seed count (0, 1, …)")
    p.add_argument(
        "--conditions", help="comma-separated subset (default: all); `--list` names them"
    )
    options.add_threads(p)
    p.add_argument(
        "--bench",
        type=Path,
        help="bench run for the step-cost claim (default: the newest under --results for "
        "this machine)",
    )
    options.add_results(p)
    p.add_argument(
        "--render",
        type=Path,
        metavar="STUDY.json",
        help="train nothing: write STUDY.md and plots from this study JSON (into its <out>)",
    )
    options.add_no_plots(p)
    p.add_argument(
        "--readme",
        type=Path,
        metavar="PAGE",
        help="also put the claims table between its markers in this Markdown page (make "
        "study: docs/study.md; full study only)",
    )
    options.add_overwrite(p, "replace a STUDY.md not written by xbench study")
    options.add_list(p, "list the conditions and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        for c in select(args.conditions.split(",") if args.conditions else None):
            rules = " / ".join(c.rule(f) for f in ("torch", "jax"))
            print(
                f"{c.name:<20} {c.label:<29} {c.model:<13} {c.optimizer:<9} "
                f"rule (torch / jax): {rules}"
            )
        return 0
    return render(args) if args.render else train(args)


def pages(args: argparse.Namespace, out: Path) -> job.Pages:
    return job.Pages(out, not args.no_plots, args.readme, args.overwrite)


def render(args: argparse.Namespace) -> int:
    """Train nothing: rewrite STUDY.md and plots from a saved study."""
    given = [f"--{k}" for k in ("epochs", "seeds", "conditions", "threads") if getattr(args, k)]
    given += ["--quick"] if args.quick else []
    if given:
        raise UsageError(f"--render trains nothing; {', '.join(given)} do(es) not apply")
    record = study_run.load(args.render)
    folder = args.render.parent
    out = args.out or (folder.parent if folder.name == "runs" else folder)
    chosen = pages(args, out)
    job.check_pages(chosen, record.profile)
    bench = job.find_bench(args.bench, record.bench_run, args.results, available_cpus())
    return write(args, record, args.render, chosen, bench)


def train(args: argparse.Namespace) -> int:
    profile = profile_for(args.quick, args.epochs, args.seeds)
    conditions = select(args.conditions.split(",") if args.conditions else None)
    job.check_conditions(conditions)
    default = args.results / "study"
    out = args.out or (default if profile.name == job.FULL else default / profile.name)
    chosen = pages(args, out)
    job.check_pages(chosen, profile.name)
    threads = resolve_threads(args.threads)
    bench = job.find_bench(args.bench, None, args.results, threads)  # before minutes of work
    print(
        f"xbench study: {len(conditions)} conditions × {len(profile.seeds)} seed(s) × "
        f"{profile.epochs} epochs × torch and JAX, {threads} thread(s)",
        file=sys.stderr,
    )
    try:
        record = job.study(profile, conditions, threads, bench)
    except Diverged as exc:
        print(f"xbench study: {exc}", file=sys.stderr)
        return 1
    saved = study_run.save(record, out / "runs")
    print(f"wrote {saved}")
    return write(args, record, saved, chosen, bench)


def write(args, record, doc_path: Path, chosen: job.Pages, bench) -> int:
    written, changed = job.write_pages(record, doc_path, bench, chosen)
    print(f"wrote {', '.join(str(p) for p in written)}")
    if changed is not None:
        print(f"{'updated' if changed else 'unchanged'}: claims table in {args.readme}")
    return 0
