"""What ``xbench check`` prints: the entries it would run, and the outcome table."""

from __future__ import annotations

from tabulate import tabulate

from xbench.records.check_run import DIFFERENT, CheckRun
from xbench.spec.catalogue import Entry

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
            e.name, expected,
            f"{a.max_abs_error:.2e}" if a else "-",
            f"{a.max_error_ratio:.2g}" if a else "-",
            (f"step {a.first_divergent_step}: {a.tensor}" if a and a.first_divergent_step else "-"),
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
