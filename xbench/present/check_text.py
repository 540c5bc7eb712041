"""What ``xbench check`` prints: the entries it would run, and the outcome table."""

from __future__ import annotations

from tabulate import tabulate

from xbench.records.check_run import DIFFERENT, CheckRun
from xbench.run import compile_cache
from xbench.run.costs import RunCost
from xbench.workloads.catalogue import Entry

ERR_TOL = "err/tol: max |a − b| / (atol + rtol·|b|); equal means ≤ 1"


def entry_lines(entries: list[Entry]) -> list[str]:
    """``--list``: each entry, what it expects and why."""
    return [
        f"{e.name}  expected {'equal' if e.expect_equal else 'different'}: {e.reason}"
        for e in entries
    ]


def outcome_table(check: CheckRun) -> str:
    rows = []
    for e in check.entries:
        a = e.agreement
        expected = f"different: {e.reason}" if e.expected == DIFFERENT else "equal"
        rows.append([
            e.name, expected, f"{a.max_abs_error:.2e}" if a else "-",
            f"{a.max_error_ratio:.2g}" if a else "-",
            f"step {a.first_divergent_step}: {a.tensor}" if a and a.first_divergent_step else "-",
            e.verdict,
        ])  # fmt: skip
    headers = ["entry", "expected", "max |Δ|", "err/tol", "first divergence", "verdict"]
    return tabulate(rows, headers=headers, tablefmt="simple")


def counts(check: CheckRun) -> tuple[int, int, int]:
    """(held, failed, skipped)."""
    held = sum(e.held and not e.skipped for e in check.entries)
    failed = sum(not e.held for e in check.entries)
    skipped = sum(e.skipped for e in check.entries)
    return held, failed, skipped


def summary_line(check: CheckRun) -> str:
    held, failed, skipped = counts(check)
    return (
        f"check: {held} held, {failed} failed, {skipped} skipped in {check.seconds:.1f} s "
        f"({ERR_TOL})"
    )


def cache_line() -> str:
    """Where JAX's compilation cache is, or why there is none."""
    cache = compile_cache.folder()
    if cache is None:
        return f"JAX's compilation cache: off ({compile_cache.ENVIRONMENT}, or no filelock)"
    why = compile_cache.unusable(cache)
    if why:
        return f"JAX's compilation cache: {cache} cannot be used ({why}): compiled every time"
    return (
        f"JAX's compilation cache (the worker processes'; not with --jobs 1): {cache} (delete it "
        f"to clear; {compile_cache.ENVIRONMENT}={compile_cache.OFF} runs without it)"
    )


def profile(costs: dict, wall: float, slowest: int = 8) -> str:
    """Where a check's time went: per runner, its runs' seconds (summed over the worker
    processes, which run side by side) and, for JAX, compiling against running; then the
    slowest runs and where the compilation cache is."""
    totals: dict[str, RunCost] = {}
    runs: dict[str, int] = {}
    for (framework, _), cost in costs.items():
        totals[framework] = totals.get(framework, RunCost(0.0)) + cost
        runs[framework] = runs.get(framework, 0) + 1
    rows = [
        [framework, runs[framework], f"{t.seconds:.1f}", f"{t.compiling:.1f}",
         f"{t.seconds - t.compiling:.1f}", t.compiled, t.loaded]
        for framework, t in sorted(totals.items(), key=lambda item: -item[1].seconds)
    ]  # fmt: skip
    headers = ["runner", "runs", "seconds", "compiling", "running", "compiled", "from cache"]
    top = sorted(costs.items(), key=lambda item: -item[1].seconds)[:slowest]
    slow = [[f, f"{c.label} {c.dtype}", f"{cost.seconds:.2f}", f"{cost.compiling:.2f}"]
            for (f, c), cost in top]  # fmt: skip
    lines = [
        f"Where the time went: {wall:.1f} s wall; seconds are per run, summed over the worker "
        "processes (which run side by side). compiling: JAX tracing, lowering and XLA "
        "compiling its programs, or loading them from the compilation cache (tracing and "
        "lowering find them there); compiled and from cache count every XLA program, the "
        "small ones of eager operations too.",
        tabulate(rows, headers, tablefmt="github"),
        "",
        f"The {len(slow)} slowest runs (a worker's first run of a framework also pays its "
        "first operations' set-up):",
        tabulate(slow, ["runner", "case", "seconds", "compiling"], tablefmt="github"),
    ]
    if "jax" in totals:
        lines += ["", cache_line()]
    return "\n".join(lines)
