"""The ``xbench`` command line. Exit codes: 0 success, 1 a check failed, 2 bad usage/input."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from xbench import __version__
from xbench.cases import DTYPES, FRAMEWORKS, OPTIMIZERS, RULES, VARIANTS, Case
from xbench.errors import UsageError
from xbench.models import MODELS
from xbench.sweep import PROFILES


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line, exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _add_case_arguments(p: argparse.ArgumentParser) -> None:
    d = Case()
    p.add_argument("--model", default=d.model, help=f"one of: {', '.join(MODELS)}")
    p.add_argument("--optimizer", default=d.optimizer, help=f"one of: {', '.join(OPTIMIZERS)}")
    p.add_argument("--rule", default=d.rule, help=f"one of: {', '.join(RULES)}")
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate η (default %(default)s)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="λ (default 0)")
    p.add_argument("--momentum", type=float, default=d.momentum, help="μ (default %(default)s)")
    p.add_argument("--beta1", type=float, default=d.beta1, help="(default %(default)s)")
    p.add_argument("--beta2", type=float, default=d.beta2, help="(default %(default)s)")
    p.add_argument("--eps", type=float, default=d.eps, help="Adam ε (default %(default)s)")
    p.add_argument(
        "--l1-ratio", type=float, default=d.l1_ratio, help="elastic net α (default %(default)s)"
    )
    p.add_argument(
        "--mask",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="exempt biases and norm parameters from decay (default off)",
    )
    p.add_argument("--steps", type=int, default=d.steps, help="(default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="(default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="(default %(default)s)")
    p.add_argument("--dtype", default=d.dtype, help=f"one of: {', '.join(DTYPES)}")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    variants = ", ".join(f"{k} ({v})" for k, v in VARIANTS.items() if k)
    p.add_argument("--variant", default="", help=f"a known misconfiguration: {variants}")
    p.add_argument(
        "--unused-param",
        action="store_true",
        help="add a parameter outside the forward pass (it never gets a gradient)",
    )


def build_parser() -> Parser:
    parser = Parser(prog="xbench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"xbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    trace = sub.add_parser(
        "trace",
        help="write one framework's trajectory for one case to .npz",
        description="Run one case in one framework and save every step.",
    )
    trace.add_argument("--framework", required=True, help=f"one of: {', '.join(FRAMEWORKS)}")
    _add_case_arguments(trace)
    trace.add_argument("--out", type=Path, help="output .npz (default: trace-<case>.npz here)")
    trace.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    trace.set_defaults(func=cmd_trace)

    bench = sub.add_parser(
        "bench",
        help="time update and training steps (pytest-benchmark) and save the JSON in results/",
        description="Run the timed sweep of tests/test_bench.py under pytest-benchmark and "
        "publish its JSON as results/<label>/<time>_<profile>_<commit>.json (never "
        "overwriting). Needs a source checkout.",
    )
    bench.add_argument(
        "--quick", action="store_true", help="the quick profile (about a minute; for CI)"
    )
    bench.add_argument(
        "--profile", help=f"one of: {', '.join(PROFILES)} (default: default; --quick: quick)"
    )
    bench.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    bench.add_argument(
        "--threads", type=int, help="threads for both frameworks (default: every usable CPU)"
    )
    bench.add_argument("--label", help="results folder name (default: from the CPU/GPU model)")
    bench.add_argument(
        "--results", type=Path, default=Path("results"), help="(default %(default)s)"
    )
    bench.add_argument("-k", dest="select", help="pytest -k expression selecting benchmarks")
    bench.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    bench.set_defaults(func=cmd_bench)

    report = sub.add_parser(
        "report",
        help="write results/RESULTS.md (tables) and PNG plots from published runs",
        description="Tables (median and IQR, ratios, % of bandwidth, compile times, the "
        "equivalence matrix) and plots from bench JSON files. Default input: under --results, "
        "per machine folder, the newest bench run (not of the quick profile when there is "
        "another) and the newest `xbench check --publish` file.",
    )
    report.add_argument(
        "runs", nargs="*", type=Path, metavar="RESULT.json", help="bench runs (pytest-benchmark)"
    )
    report.add_argument(
        "--check",
        action="append",
        type=Path,
        default=[],
        metavar="CHECK.json",
        help="`xbench check --json` output for the equivalence matrix (repeatable, one per "
        "machine; default with no RESULT.json: the newest in each machine folder)",
    )
    report.add_argument(
        "--results", type=Path, default=Path("results"), help="(default %(default)s)"
    )
    report.add_argument("--out", type=Path, help="(default <results>/RESULTS.md)")
    report.add_argument(
        "--readme", type=Path, help="also update the headline table between its markers here"
    )
    report.add_argument("--no-plots", action="store_true", help="tables only")
    report.add_argument(
        "--overwrite", action="store_true", help="replace an --out not written by xbench report"
    )
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser(
        "compare",
        help="the regression gate: a new run against a baseline, normalised by the reference",
        description="Match benchmarks by name; divide each by its own run's reference kernel; "
        "flag a regression when the normalised slowdown exceeds --threshold and the noise of "
        "both runs. With both runs' `xbench check --json`, an entry that was equal and is no "
        "longer, or whose max error grew more than 10x, fails too. Exit 1 on a regression.",
    )
    compare.add_argument("runs", nargs="*", type=Path, metavar="RUN.json", help="BASELINE NEW")
    compare.add_argument(
        "--threshold", default="10%", help="slowdown that counts, e.g. 10%% (default %(default)s)"
    )
    compare.add_argument("--stat", default="median", help="median, mean or min (default median)")
    compare.add_argument("--baseline-check", type=Path, metavar="CHECK.json")
    compare.add_argument("--new-check", type=Path, metavar="CHECK.json")
    compare.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="run the quick bench and xbench check now and compare them with DIR/<machine "
        "label>/quick.json and check.json (make compare: results/baseline)",
    )
    compare.add_argument(
        "--update-baseline",
        action="store_true",
        help="with --against: make this run the new baseline (make baseline)",
    )
    compare.add_argument(
        "--warn-only",
        action="store_true",
        help="print timing regressions without failing (equivalence regressions still fail)",
    )
    compare.add_argument(
        "--spread",
        action="store_true",
        help="RUN.json ... are repeats: print how much each benchmark moves, raw and "
        "normalised, and the false regressions the gate raises between them",
    )
    compare.add_argument("--device", default="cpu", help="with --against (default cpu)")
    compare.add_argument("--threads", type=int, help="with --against (default: every usable CPU)")
    compare.add_argument(
        "--label", help="with --against: the baseline folder (default: from the CPU/GPU model)"
    )
    compare.set_defaults(func=cmd_compare)

    check = sub.add_parser(
        "check",
        help="run the equivalence catalogue and classify every entry",
        description="Compare every step of every catalogue entry, float64 "
        "and float32; exit 1 if any expectation fails.",
    )
    for flag, valid in (
        ("model", MODELS),
        ("optimizer", OPTIMIZERS),
        ("rule", RULES),
        ("framework", ("torch", "jax")),
        ("dtype", DTYPES),
    ):
        check.add_argument(
            f"--{flag}",
            action="append",
            default=[],
            metavar=flag.upper(),
            help=f"keep entries with this {flag} (repeatable): {', '.join(valid)}",
        )
    check.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    check.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    check.add_argument("--overwrite", action="store_true", help="replace an existing --json")
    check.add_argument(
        "--publish",
        action="store_true",
        help="also save the JSON as <results>/<label>/<time>_check_<commit>.json (never "
        "overwriting), where `xbench report` finds it for the equivalence matrix",
    )
    check.add_argument(
        "--results", type=Path, default=Path("results"), help="with --publish (default %(default)s)"
    )
    check.add_argument(
        "--label", help="(with --publish) results folder name (default: as `xbench bench`)"
    )
    check.add_argument("--list", action="store_true", help="list the selected entries, run nothing")
    check.set_defaults(func=cmd_check)

    study = sub.add_parser(
        "study",
        help="train the digits MLP with and without each regularizer, in torch and JAX; "
        "write STUDY.md, plots and the claims table",
        description="Each condition (none, L2 at six strengths, L1 subgradient and proximal, "
        "ElasticNet, dropout, Adam + L2 against AdamW) trains in both frameworks from the same "
        "seeded weights, batches and dropout masks. The JSON goes to <out>/runs/ (never "
        "replaced); STUDY.md and the PNGs to <out>. Full: 5 seeds × 150 epochs (~6 min on 2 "
        "cores); --quick: 1 seed × 60 epochs (~40 s).",
    )
    study.add_argument("--quick", action="store_true", help="1 seed, 60 epochs")
    study.add_argument(
        "--out",
        type=Path,
        help="folder for STUDY.md, plots and runs/ (default <results>/study, "
        "<results>/study/quick with --quick, <results>/study/custom with --epochs/--seeds)",
    )
    study.add_argument("--epochs", type=int, help="override the profile's epochs")
    study.add_argument("--seeds", type=int, help="override the profile's seed count (0, 1, …)")
    study.add_argument(
        "--conditions",
        help="comma-separated subset (default: all); `--list` names them",
    )
    study.add_argument("--threads", type=int, help="threads for both frameworks (default: all)")
    study.add_argument(
        "--bench",
        type=Path,
        help="bench run for the step-cost claim (default: the newest under --results for "
        "this machine)",
    )
    study.add_argument(
        "--results", type=Path, default=Path("results"), help="(default %(default)s)"
    )
    study.add_argument(
        "--render",
        type=Path,
        metavar="STUDY.json",
        help="train nothing: write STUDY.md and plots from this study JSON (into its <out>)",
    )
    study.add_argument("--no-plots", action="store_true", help="tables only")
    study.add_argument(
        "--readme",
        type=Path,
        help="also put the claims table between its markers here (full study only)",
    )
    study.add_argument(
        "--overwrite", action="store_true", help="replace a STUDY.md not written by xbench study"
    )
    study.add_argument("--list", action="store_true", help="list the conditions and exit")
    study.set_defaults(func=cmd_study)
    return parser


def _case_from(args) -> Case:
    return Case(
        model=args.model, optimizer=args.optimizer, rule=args.rule, lr=args.lr,
        weight_decay=args.weight_decay, momentum=args.momentum, beta1=args.beta1,
        beta2=args.beta2, eps=args.eps, l1_ratio=args.l1_ratio, mask=args.mask,
        steps=args.steps, seed=args.seed, batch_size=args.batch_size, dtype=args.dtype,
        device=args.device, variant=args.variant, unused_param=args.unused_param,
    )  # fmt: skip


def cmd_trace(args) -> int:
    from xbench.cases import check_applicable
    from xbench.registry import run_case
    from xbench.storage import ensure_writable
    from xbench.trajectory import save_npz

    case = _case_from(args)
    check_applicable(args.framework, case)
    out = args.out or Path(f"trace-{args.framework}-{case.label}-{case.dtype}-seed{case.seed}.npz")
    ensure_writable(out, args.overwrite)
    trajectory = run_case(args.framework, case)
    save_npz(trajectory, out, overwrite=args.overwrite)
    diverged = trajectory.first_nonfinite_step()
    note = f", diverged at step {diverged}" if diverged else ""
    print(
        f"wrote {out}: {args.framework} {case.label} {case.dtype}, {case.steps} steps, "
        f"final loss {trajectory.loss[-1]:.6g}{note}"
    )
    return 0


def _validate_filters(args) -> None:
    valid = {
        "model": tuple(MODELS),
        "optimizer": OPTIMIZERS,
        "rule": RULES,
        "framework": ("torch", "jax"),
        "dtype": DTYPES,
    }
    for field, choices in valid.items():
        for value in getattr(args, field):
            if value not in choices:
                raise UsageError(f"unknown {field} {value!r}; valid: {', '.join(choices)}")
    Case(device=args.device)  # validates the device name


def cmd_check(args) -> int:
    from tabulate import tabulate

    from xbench import machine
    from xbench.catalogue import default_catalogue
    from xbench.check import Filters, run_catalogue, stderr_progress
    from xbench.storage import ensure_writable, write_atomically

    _validate_filters(args)
    if not args.publish and (args.label or args.results != Path("results")):
        raise UsageError("--label and --results go with --publish")
    filters = Filters(
        *(tuple(getattr(args, f)) for f in ("model", "optimizer", "rule", "framework", "dtype"))
    )
    entries = [e for e in default_catalogue() if filters.keep(e)]
    if not entries:
        raise UsageError("no catalogue entry matches these filters; try `xbench check --list`")
    if args.list:
        for e in entries:
            print(f"{e.name}  expected {'equal' if e.expect_equal else 'different'}: {e.reason}")
        return 0
    if args.json:
        ensure_writable(args.json, args.overwrite)
    if args.device != "cpu":
        _require_device(args.device, {r.framework for e in entries for r in (e.left, e.right)})
    folder = _check_folder(args) if args.publish else None
    commit = machine.git_commit()  # as of the start, as `xbench bench` records it
    started = time.perf_counter()
    outcomes = run_catalogue(entries, device=args.device, progress=stderr_progress)
    elapsed = time.perf_counter() - started
    rows = []
    for o in outcomes:
        a = o.agreement
        expected = "equal" if o.entry.expect_equal else f"different: {o.entry.reason}"
        rows.append([
            o.entry.name, expected,
            f"{a.max_abs_error:.2e}" if a else "-",
            f"{a.max_error_ratio:.2g}" if a else "-",
            (f"step {a.first_divergent_step}: {a.tensor}" if a and a.first_divergent_step else "-"),
            o.verdict,
        ])  # fmt: skip
    headers = ["entry", "expected", "max |Δ|", "err/tol", "first divergence", "verdict"]
    print(tabulate(rows, headers=headers, tablefmt="simple"))
    held = sum(o.held and o.agreement is not None for o in outcomes)
    failed = sum(not o.held for o in outcomes)
    skipped = sum(o.agreement is None for o in outcomes)
    print(
        f"\ncheck: {held} held, {failed} failed, {skipped} skipped in {elapsed:.1f} s "
        "(err/tol: max |a − b| / (atol + rtol·|b|); equal means ≤ 1)"
    )
    doc = _check_document(outcomes, elapsed, args.device, commit)
    data = json.dumps(doc, indent=1, allow_nan=False).encode()
    if args.json:
        write_atomically(args.json, lambda f: f.write(data))
        print(f"wrote {args.json}")
    if folder is not None:
        from xbench.bench import publish_new

        print(f"wrote {publish_new(data, folder, 'check', doc['machine_info']['git_commit'])}")
    return 1 if failed else 0


def _device_and_threads(device: str, threads: int | None) -> int:
    """Check a timed run's --device and --threads; the thread count (default: every CPU)."""
    from xbench import machine

    if not re.match(r"^(cpu|cuda(:\d+)?)$", device):
        raise UsageError(f"unknown device {device!r}; valid: cpu, cuda, cuda:N")
    available = machine.available_cpus()
    threads = available if threads is None else threads
    if not 1 <= threads <= available:
        raise UsageError(f"invalid --threads {threads}; this process may use 1 to {available}")
    return threads


def cmd_bench(args: argparse.Namespace) -> int:
    from xbench.bench import BenchRun, run_bench
    from xbench.sweep import sweep

    if args.quick and args.profile not in (None, "quick"):
        raise UsageError(f"--quick contradicts --profile {args.profile}")
    profile = "quick" if args.quick else args.profile or "default"
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    threads = _device_and_threads(args.device, args.threads)
    if args.list:
        for case in sweep(profile, args.device):
            print(case.id)
        return 0
    if args.device != "cpu":
        _require_device(args.device, {"torch"})
    run = BenchRun(profile, args.device, threads, args.results, args.label, args.select)
    return run_bench(run)


def cmd_report(args) -> int:
    from xbench.report import (
        load_inputs,
        readme_headline,
        readme_update,
        write_readme,
        write_report,
    )
    from xbench.results import newest_inputs

    found = not args.runs  # the defaults: found in results/<label>/, which names the machine
    runs, checks = args.runs, args.check
    if found:
        runs, found_checks = newest_inputs(args.results)
        checks = checks or found_checks
    machines = load_inputs(runs, checks, found, found and not args.check)
    out = args.out or args.results / "RESULTS.md"
    if args.readme:  # everything is checked before anything is written
        old, new = readme_update(args.readme, readme_headline(machines, out, args.readme))
    written = write_report(machines, out, plots=not args.no_plots, overwrite=args.overwrite)
    inputs = ", ".join(str(p) for p in [*runs, *checks])
    print(f"xbench report: from {inputs}\nwrote {', '.join(str(p) for p in written)}")
    if args.readme:
        write_readme(args.readme, old, new, "headline table")
    return 0


def cmd_study(args) -> int:
    from xbench import study
    from xbench.study_report import ensure_ours

    if args.list:
        for c in study.CONDITIONS:
            rules = " / ".join(c.rule(f) for f in study.FRAMEWORKS)
            print(f"{c.name:<20} {c.label:<28} {c.optimizer:<9} rule (torch / jax): {rules}")
        return 0
    if args.render:
        given = [f"--{k}" for k in ("epochs", "seeds", "conditions", "threads") if getattr(args, k)]
        given += ["--quick"] if args.quick else []
        if given:
            raise UsageError(f"--render trains nothing; {', '.join(given)} do(es) not apply")
        doc = study.load(args.render)
        if args.readme and doc["profile"] != "full":
            raise UsageError(
                f"--readme quotes the full study only; {args.render} is {doc['profile']}"
            )
        folder = args.render.parent
        out = args.out or (folder.parent if folder.name == "runs" else folder)
        return _render_study(args, doc, args.render, out)
    profile = study.PROFILES["quick" if args.quick else "full"]
    for flag in ("epochs", "seeds"):
        value = getattr(args, flag)
        if value is not None and (not 1 <= value <= 1000):
            raise UsageError(f"invalid --{flag} {value}; must be an integer from 1 to 1000")
    if args.epochs or args.seeds:
        seeds = tuple(range(args.seeds)) if args.seeds else profile.seeds
        profile = study.Profile("custom", seeds, args.epochs or profile.epochs)
    conditions = study.select(args.conditions.split(",") if args.conditions else None)
    if "none" not in {c.name for c in conditions} or not any(c.family == "l2" for c in conditions):
        raise UsageError("--conditions must include 'none' and at least one l2-* condition")
    default = args.results / "study"
    out = args.out or (default if profile.name == "full" else default / profile.name)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    ensure_ours(out / "STUDY.md", args.overwrite)
    if args.readme and profile.name != "full":
        raise UsageError(f"--readme quotes the full study only, not a {profile.name} run")
    threads = _device_and_threads("cpu", args.threads)
    bench = _study_bench(args, threads=threads)  # checked before minutes of training
    _readme_claims(args, None)
    from xbench import machine

    machine.set_threads(threads)
    print(
        f"xbench study: {len(conditions)} conditions × {len(profile.seeds)} seed(s) × "
        f"{profile.epochs} epochs × torch and JAX, {threads} thread(s)",
        file=sys.stderr,
    )
    try:
        doc = study.run_study(profile, conditions)
    except study.Diverged as exc:
        print(f"xbench study: {exc}", file=sys.stderr)
        return 1
    doc["settings"]["threads"] = threads
    doc["bench_run"] = bench.path.as_posix() if bench else None
    saved = study.save(doc, out / "runs")
    print(f"wrote {saved}")
    return _render_study(args, doc, saved, out, bench)


def _study_bench(args, doc: dict | None = None, threads: int | None = None):
    """The bench run behind the step-cost claim: --bench, else the one the study recorded,
    else the newest for this machine under --results; or None (the claim then says so)."""
    from xbench import machine
    from xbench.results import load_run, newest_inputs

    recorded = (doc or {}).get("bench_run")
    if args.bench or recorded:
        path = args.bench or Path(recorded)
        if not args.bench and not path.exists():
            raise UsageError(f"the study used bench run {path}, which is gone; give --bench")
        return load_run(path, path.parent.name)
    try:
        runs, _ = newest_inputs(args.results)
    except UsageError:
        return None
    label = machine.label("cpu", threads or machine.available_cpus())
    mine = [p for p in runs if p.parent.name == label] or (runs if len(runs) == 1 else [])
    return load_run(mine[0], mine[0].parent.name) if mine else None


def _render_study(args, doc: dict, doc_path: Path, out: Path, bench=None) -> int:
    from xbench import study_report
    from xbench.report import relative_link

    bench = bench if bench is not None else _study_bench(args, doc)
    out.mkdir(parents=True, exist_ok=True)
    text = study_report.render(doc, bench, doc_path, plots=not args.no_plots)
    written = [study_report.write_markdown(text, out / "STUDY.md", args.overwrite)]
    if not args.no_plots:
        written += study_report.draw(doc, out)
    print(f"wrote {', '.join(str(p) for p in written)}")
    link = relative_link(out / "STUDY.md", args.readme.parent if args.readme else Path("."))
    _readme_claims(args, study_report.readme_block(doc, bench, link))
    return 0


def _readme_claims(args, block: str | None) -> None:
    """Check the README's claims markers (``block`` None), or write ``block`` between them."""
    from xbench.report import readme_update, write_readme
    from xbench.study_report import CLAIMS_END, CLAIMS_START

    if not args.readme:
        return
    old, new = readme_update(args.readme, block or "", CLAIMS_START, CLAIMS_END)
    if block is not None:
        write_readme(args.readme, old, new, "claims table")


def cmd_compare(args) -> int:
    from xbench import compare as gate
    from xbench.results import load_run

    threshold = gate.parse_threshold(args.threshold)
    if args.stat not in gate.STATS:
        raise UsageError(f"unknown --stat {args.stat!r}; valid: {', '.join(gate.STATS)}")
    if not args.against:
        given = [f"--{k}" for k in ("label", "threads") if getattr(args, k) is not None]
        given += ["--device"] if args.device != "cpu" else []
        given += ["--update-baseline"] if args.update_baseline else []
        if given:
            raise UsageError(f"{', '.join(given)} go(es) with --against DIR")
    if args.spread and (args.against or args.baseline_check or args.new_check):
        raise UsageError("--spread takes only RUN.json files (with --threshold, --stat)")
    if args.spread:
        if len(args.runs) < 2:
            raise UsageError("--spread needs two or more runs of the same profile")
        table, summary = gate.spread_table([load_run(p) for p in args.runs], threshold, args.stat)
        print(table + "\n\n" + "\n".join(summary))
        return 0
    if args.against:
        return _compare_against(args, threshold)
    if len(args.runs) != 2:
        raise UsageError(f"give BASELINE and NEW (got {len(args.runs)} run files)")
    checks = (args.baseline_check, args.new_check)
    if (checks[0] is None) != (checks[1] is None):
        raise UsageError("give both --baseline-check and --new-check, or neither")
    return _compare(args.runs, checks, threshold, args.stat, args.warn_only)


def _compare_against(args, threshold: float) -> int:
    """Run the quick bench and the check now; compare with (or replace) the baseline."""
    from xbench import compare as gate
    from xbench import machine
    from xbench.results import load_check, load_run

    if args.runs or args.baseline_check or args.new_check:
        raise UsageError("give either --against DIR or BASELINE NEW [--*-check], not both")
    threads = _device_and_threads(args.device, args.threads)
    label = args.label or machine.label(args.device, threads)
    targets = gate.baseline_paths(args.against / label)
    have_baseline = all(p.is_file() for p in targets)
    if not have_baseline and not args.update_baseline:
        raise UsageError(
            f"no baseline {targets[0]} and {targets[1]}; create it with `make baseline`"
        )
    if have_baseline:  # a broken baseline should fail now, not after minutes of running
        load_run(targets[0])
        load_check(targets[1])
    run, check = gate.run_now(args.device, threads, label)
    code = 0
    if have_baseline:
        code = _compare(
            (targets[0], run), (targets[1], check), threshold, args.stat, args.warn_only
        )
    if args.update_baseline:
        gate.update_baseline(run, check, targets)
        print(f"xbench compare: the baseline is now this run: {targets[0]}, {targets[1]}")
        return 0
    return code


def _compare(paths, checks, threshold, stat, warn_only) -> int:
    """Print the comparison of two runs (and checks, when given); 1 if the gate fails."""
    from xbench import compare as gate
    from xbench.results import load_check, load_run

    base, new = load_run(paths[0]), load_run(paths[1])
    both_checks = [load_check(p) for p in checks] if checks[0] and checks[1] else None
    bench = gate.compare_runs(base, new, threshold, stat)  # every input is valid from here
    print(f"\nxbench compare: baseline {paths[0]}\n                new      {paths[1]}\n")
    for difference in gate.setting_differences(base, new):
        print(f"xbench compare: warning: {difference}", file=sys.stderr)
    print(gate.bench_table(bench) + "\n")
    lines = gate.bench_summary(bench)
    equivalence = None
    if both_checks:
        equivalence = gate.compare_checks(*both_checks)
        lines += gate.equivalence_summary(equivalence)
    else:
        lines.append("equivalence: not compared (no check files)")
    failed = bool(equivalence and equivalence.regressions)
    if bench.regressions and warn_only:
        lines.append("timing regressions are reported, not failed (--warn-only)")
    failed = failed or (bool(bench.regressions) and not warn_only)
    print("\n".join(lines) + f"\nxbench compare: {'FAIL' if failed else 'pass'}")
    return 1 if failed else 0


def _require_device(device: str, frameworks: set[str]) -> None:
    from xbench.registry import build

    for framework in sorted(frameworks - {"reference"}):
        build(framework, Case(device=device, steps=1))


def _check_folder(args) -> Path:
    from xbench import machine
    from xbench.bench import results_folder

    label = args.label or machine.label(args.device, machine.available_cpus())
    return results_folder(args.results, label)


def _check_document(outcomes, elapsed: float, device: str, commit: dict) -> dict:
    """The ``xbench check --json`` document: the outcomes, and what and where they ran."""
    import datetime

    from xbench import machine
    from xbench.equivalence import TOLERANCES

    return {
        "xbench": __version__,
        "seconds": elapsed,
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine_info": {
            "versions": machine.versions(),
            "device": device,
            "device_name": machine.device_name(device),
            "cpu_model": machine.cpu_model(),
            "threads": machine.available_cpus(),
            "git_commit": commit,
        },
        "tolerances": {k: vars(v) for k, v in TOLERANCES.items()},
        "entries": [o.as_dict() for o in outcomes],
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"xbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
