"""Generated blocks of the docs (docs/report.md): every figure the docs quote from published
files, computed from those files by ``make report``, so none goes stale; each function here
returns one block's text for one machine.
"""

from __future__ import annotations

from pathlib import Path

from xbench.analysis.grouping import (
    Machine,
    l2_over_own_decay,
    largest_adamw,
    paired_precision,
    torch_vs_jax,
)
from xbench.analysis.repeats import RepeatSpread
from xbench.present.equivalence_md import DTYPES
from xbench.present.labels import versions_text
from xbench.present.markdown import relative_link, table
from xbench.present.units import (
    format_seconds,
    pct_cell,
    scientific,
    share,
    short_float,
    span,
    two_decimals,
)
from xbench.records.bench_run import Result
from xbench.records.check_run import EQUAL, CheckRun
from xbench.workloads.benchmarks import MANY, bytes_per_param, size_label


def tolerance_block(check: CheckRun, page: Path) -> str:
    """The tolerances, and the worst agreement the published check observed under them."""
    steps = ", ".join(map(str, check.steps))
    rows = []
    for dtype in DTYPES:
        t = check.tolerances.get(dtype)
        equal = [
            e
            for e in check.entries
            if e.dtype == dtype and e.expected == EQUAL and e.agreement and not e.exact
        ]
        if t is None or not equal:
            continue
        ratio = max(e.agreement.max_error_ratio for e in equal)
        error = max(e.agreement.max_abs_error for e in equal)
        plain = [e.agreement.max_abs_error for e in equal if e.left.case.variant != "after_lr"]
        rows.append([
            dtype, short_float(t.atol), short_float(t.rtol),
            f"worst err/tol {scientific(ratio)}; worst \\|Δ\\| {scientific(error)} "
            f"({scientific(max(plain))} without the growing `after_lr` case)",
        ])  # fmt: skip
    rows.append(["exact", "0", "0", 'for "this decay did nothing" claims'])
    link = relative_link(check.path, page.parent)
    headers = ["dtype", "atol", "rtol", f"observed over the {len(check.entries)} entries"]
    return (
        f"{table(rows, headers)}\n\nObserved in [`{check.path.name}`]({link}) ({steps} steps "
        "per entry), over the entries expected equal.\n"
    )


def published_block(machine: Machine, page: Path) -> str:
    """Which run is published, and what it ran on."""
    run = machine.runs[-1]
    info = run.machine_info
    threads = (info.get("threads") or {}).get("requested", "?")
    return (
        f"The published run on `{machine.label}` is [`{run.path.name}`]"
        f"({relative_link(run.path, page.parent)}): profile `{run.profile}` at commit "
        f"`{run.settings['commit'] or 'unknown'}`, {info.get('device_name', '?')}, {threads} "
        f"thread(s) for both frameworks, {versions_text(info)}; {len(run.results)} benchmarks.\n"
    )


def _pick(results, **fields) -> list[Result]:
    return [r for r in results if all(getattr(r, k) == v for k, v in fields.items())]


def _impl(r: Result) -> str:
    return f"{r.framework} `{r.implementation}`"


def adamw_finding(results: list[Result]) -> str | None:
    at = largest_adamw(results)
    if not at:
        return None
    listed = ", ".join(
        f"{_impl(r)} {format_seconds(r.median)} ({pct_cell(r.bandwidth_pct)})" for r in at
    )
    return (
        f"**AdamW update, {size_label(at[0].params)} parameters in one tensor**, fastest first, "
        f"with % of the roofline: {listed}. The fastest is "
        f"{at[-1].median / at[0].median:.1f}× faster than the slowest; "
        f"{bytes_per_param('adamw')} bytes per parameter are the least any implementation "
        "must move."
    )


def donation_finding(results: list[Result]) -> str | None:
    updates = _pick(
        results, kind="update", framework="jax", optimizer="adamw", rule="weight_decay", tensors=1
    )
    by = {(r.implementation, r.params): r for r in updates}
    sizes = [n for i, n in by if i == "jit" and ("jit_donate", n) in by]
    if not sizes:
        return None
    n = max(sizes)
    jit, donate = by["jit", n], by["jit_donate", n]
    return (
        f"**JAX buffer donation**, AdamW at {size_label(n)}: `jit` {format_seconds(jit.median)}, "
        f"`jit_donate` {format_seconds(donate.median)}: ×{jit.median / donate.median:.1f} "
        "(without donation every step writes fresh output buffers)."
    )


def many_tensors_finding(results: list[Result]) -> str | None:
    at = largest_adamw(results, MANY)
    if not at:
        return None
    n = at[0].params
    one = _pick(results, kind="update", optimizer="adamw", rule="weight_decay", tensors=1, params=n)
    listed = ", ".join(f"{_impl(r)} {format_seconds(r.median)}" for r in at)
    text = f"**{MANY} tensors holding {size_label(n)} parameters** (AdamW): {listed}"
    if one:
        text += f"; one tensor of the same size: {span([r.median for r in one], format_seconds)}"
    compiled = [r for r in at if r.implementation == "compiled" and r.compile_seconds]
    if compiled:
        text += f"; compiling that step took {compiled[0].compile_seconds:.0f} s"
    return text + "."


def compile_finding(results: list[Result]) -> str | None:
    compiled = _pick(results, kind="update", implementation="compiled", tensors=1)
    jax = _pick(results, kind="update", framework="jax", tensors=1)
    jitted = [r.compile_seconds for r in jax if r.compile_seconds is not None]
    if not compiled:
        return None
    first = max(compiled, key=lambda r: r.compile_seconds)
    rest = [r.compile_seconds for r in compiled if r is not first]
    text = (
        f"**Compile times** (outside the timed rounds): a one-tensor `torch.compile` step took "
        f"{first.compile_seconds:.1f} s the first time in a process"
    )
    if rest:
        text += f" and {min(rest):.1f}–{max(rest):.1f} s after that"
    if jitted:
        text += "; JAX's ahead-of-time compiles of one-tensor update steps, "
        text += span(jitted, format_seconds)
    return text + "."


def l2_finding(results: list[Result]) -> str | None:
    parts = []
    for framework in ("torch", "jax"):
        ratios = l2_over_own_decay(results, framework)
        if not ratios:
            continue
        n = max(key[2] for key in ratios)
        largest = ", ".join(
            f"{opt} `{impl}` ×{ratio:.2f}"
            for (opt, impl, params), ratio in sorted(ratios.items())
            if params == n
        )
        parts.append(
            f"{framework}: ×{span(ratios.values(), two_decimals)} over every optimizer, "
            f"implementation and size; at {size_label(n)}: {largest}"
        )
    if not parts:
        return None
    return (
        "**`l2_loss` over the optimizer's own decay** (training step, SGD, momentum and Adam; "
        "torch `weight_decay`, JAX `add_decayed_weights`): " + "; ".join(parts) + "."
    )


def framework_finding(machine: Machine, kind: str, what: str) -> str | None:
    """Fastest torch over fastest JAX per size, over every optimizer × mechanism: timed
    interleaved where the run has the comparison (``Machine.paired``), with how many of
    them resolved a difference; else from the unpaired medians, and said so."""
    results = [r for r in machine.results if r.kind == kind and r.tensors == 1]
    by_size = torch_vs_jax(results, machine.paired)
    if not by_size:
        return None
    paired, _, resolved = paired_precision(results, machine.paired, smallest=0)
    spans = ", ".join(
        f"{size_label(n)}: {span([c.estimate for c in found], two_decimals)}"
        for n, found in sorted(by_size.items())
    )
    total = sum(map(len, by_size.values()))
    how = (
        f"{paired} of the {total} comparisons timed interleaved, {resolved} of them with a "
        "95% interval that excludes 1"
        if paired
        else "ratios of medians timed apart (unpaired)"
    )
    return (
        f"**Fastest torch over fastest JAX, {what}** (below 1: torch faster; every optimizer × "
        f"decay mechanism in both frameworks; {how}): {spans}."
    )


def findings_block(machine: Machine) -> str:
    """The figures the docs discuss, each computed from the published run."""
    results = list(machine.results)
    found = [
        adamw_finding(results),
        donation_finding(results),
        many_tensors_finding(results),
        compile_finding(results),
        l2_finding(results),
        framework_finding(machine, "update", "update step"),
        framework_finding(machine, "train", "training step"),
    ]
    return "".join(f"- {text}\n" for text in found if text)


def repeats_block(
    groups: dict[str, tuple[list[Path], RepeatSpread, RepeatSpread]], page: Path
) -> str:
    """Repeated quick runs per commit: spread and false regressions at 10% and 50%."""
    rows = [
        [f"`{commit}` ({len(paths)} runs)", str(len(at10.gated)), f"{at10.median('raw'):.1%}",
         f"{at10.median('normalised'):.1%}", f"{at10.worst('normalised'):.1%}",
         share(at10.false_alarms, at10.compared), share(at50.false_alarms, at50.compared)]
        for commit, (paths, at10, at50) in sorted(groups.items())
    ]  # fmt: skip
    headers = [
        "runs at commit", "gated benchmarks", "median spread, raw", "median spread, normalised",
        "worst, normalised", "false regressions at 10%", "at 50%",
    ]  # fmt: skip
    folder = relative_link(next(iter(groups.values()))[0][0].parent, page.parent)
    return (
        f"{table(rows, headers)}\n\nFrom the runs in [`{Path(folder).name}/`]({folder}); spread "
        "is max/min − 1 of each benchmark's median across the runs, median and worst over the "
        "gated benchmarks; false regressions are over every ordered pair of runs.\n"
    )
