"""Generated blocks of the docs: every figure the docs quote from published files, computed
from those files by ``make report`` (``xbench report --docs docs``), so none goes stale.

A block sits between ``<!-- xbench report: <name> start -->`` and ``... end -->`` in a page;
each function here returns one block's text for one machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xbench.analysis.grouping import Machine, framework_ratios, torch_over_jax
from xbench.analysis.repeats import RepeatSpread
from xbench.present.labels import versions_text
from xbench.present.markdown import relative_link, table
from xbench.present.units import format_seconds, pct_cell, scientific, short_float, span
from xbench.records.bench_run import Result
from xbench.records.check_run import EQUAL, CheckRun
from xbench.spec.benchmarks import MANY, bytes_per_param, size_label

# ----------------------------------------------------------------------------- tolerances


def tolerance_block(check: CheckRun, page: Path) -> str:
    """The tolerances, and the worst agreement the published check observed under them."""
    steps = ", ".join(map(str, check.steps))
    rows = []
    for dtype in ("float64", "float32"):
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


# ----------------------------------------------------------------------------- the run


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


# ----------------------------------------------------------------------------- findings


_two = "{:.2f}".format  # ratios, two decimals


def _pick(results, **fields) -> list[Result]:
    return [r for r in results if all(getattr(r, k) == v for k, v in fields.items())]


def _impl(r: Result) -> str:
    return f"{r.framework} `{r.implementation}`"


def adamw_finding(results: list[Result]) -> str | None:
    updates = _pick(results, kind="update", optimizer="adamw", rule="weight_decay", tensors=1)
    if not updates:
        return None
    n = max(r.params for r in updates)
    at = sorted(_pick(updates, params=n), key=lambda r: r.median)
    listed = ", ".join(
        f"{_impl(r)} {format_seconds(r.median)} ({pct_cell(r.bandwidth_pct)})" for r in at
    )
    return (
        f"**AdamW update, {size_label(n)} parameters in one tensor**, fastest first, with % of "
        f"the roofline: {listed}. The fastest is {at[-1].median / at[0].median:.1f}× faster "
        f"than the slowest; {bytes_per_param('adamw')} bytes per parameter are the least any "
        "implementation must move."
    )


def donation_finding(results: list[Result]) -> str | None:
    updates = _pick(
        results, kind="update", framework="jax", optimizer="adamw", rule="weight_decay", tensors=1
    )
    sizes = {r.params for r in updates if r.implementation == "jit"} & {
        r.params for r in updates if r.implementation == "jit_donate"
    }
    if not sizes:
        return None
    n = max(sizes)
    jit, donate = (_pick(updates, params=n, implementation=i)[0] for i in ("jit", "jit_donate"))
    return (
        f"**JAX buffer donation**, AdamW at {size_label(n)}: `jit` {format_seconds(jit.median)}, "
        f"`jit_donate` {format_seconds(donate.median)}: ×{jit.median / donate.median:.1f} "
        "(without donation every step writes fresh output buffers)."
    )


def many_tensors_finding(results: list[Result]) -> str | None:
    many = _pick(results, kind="update", optimizer="adamw", rule="weight_decay", tensors=MANY)
    if not many:
        return None
    n = max(r.params for r in many)
    at = sorted(_pick(many, params=n), key=lambda r: r.median)
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
    jitted = [
        r.compile_seconds
        for r in _pick(results, kind="update", framework="jax", tensors=1)
        if r.compile_seconds is not None
    ]
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


def _l2_ratios(results: list[Result], framework: str) -> dict[tuple, float]:
    """(optimizer, implementation, params) -> l2_loss median / the optimizer's own decay."""
    base_rule = "weight_decay" if framework == "torch" else "add_decayed_weights"
    train = _pick(results, kind="train", framework=framework)
    base = {(r.optimizer, r.implementation, r.params): r for r in train if r.rule == base_rule}
    return {
        (r.optimizer, r.implementation, r.params): r.median / base[key].median
        for r in train
        if r.rule == "l2_loss" and (key := (r.optimizer, r.implementation, r.params)) in base
        and r.optimizer != "adamw"
    }  # fmt: skip


def l2_finding(results: list[Result]) -> str | None:
    parts = []
    for framework in ("torch", "jax"):
        ratios = _l2_ratios(results, framework)
        if not ratios:
            continue
        n = max(key[2] for key in ratios)
        largest = ", ".join(
            f"{opt} `{impl}` ×{ratio:.2f}"
            for (opt, impl, params), ratio in sorted(ratios.items())
            if params == n
        )
        parts.append(
            f"{framework}: ×{span(ratios.values(), _two)} over every optimizer, implementation and "
            f"size; at {size_label(n)}: {largest}"
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
    rows = framework_ratios([r for r in machine.results if r.kind == kind and r.tensors == 1])
    by_size: dict[int, list[float]] = {}
    paired = resolved = 0
    for row in rows:
        for n, pair in row.fastest.items():
            found = torch_over_jax(pair, machine.paired)
            by_size.setdefault(n, []).append(found.estimate)
            paired += found.cell is not None
            resolved += found.resolved
    if not by_size:
        return None
    spans = ", ".join(f"{size_label(n)}: {span(v, _two)}" for n, v in sorted(by_size.items()))
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


FINDINGS: tuple[Callable[[list[Result]], str | None], ...] = (
    adamw_finding,
    donation_finding,
    many_tensors_finding,
    compile_finding,
    l2_finding,
)


def findings_block(machine: Machine, page: Path) -> str:
    """The figures the docs discuss, each computed from the published run."""
    found = [f(list(machine.results)) for f in FINDINGS] + [
        framework_finding(machine, "update", "update step"),
        framework_finding(machine, "train", "training step"),
    ]
    return "".join(f"- {text}\n" for text in found if text)


# ----------------------------------------------------------------------------- stability


def repeats_block(
    groups: dict[str, tuple[list[Path], RepeatSpread, RepeatSpread]], page: Path
) -> str:
    """Repeated quick runs per commit: spread and false regressions at 10% and 50%."""
    rows = []
    for commit, (paths, at10, at50) in sorted(groups.items()):
        rows.append([
            f"`{commit}` ({len(paths)} runs)", str(len(at10.gated)),
            f"{at10.median('raw'):.1%}", f"{at10.median('normalised'):.1%}",
            f"{at10.worst('normalised'):.1%}",
            f"{at10.false_alarms} of {at10.compared} ({at10.false_alarms / at10.compared:.0%})",
            f"{at50.false_alarms} of {at50.compared} ({at50.false_alarms / at50.compared:.0%})",
        ])  # fmt: skip
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
