"""Run a catalogue, compare every entry, classify each as held or failed (``xbench check``).

An entry holds when an expected equality is equal within tolerance at every step, or an
expected difference is detected. A diverged trajectory (NaN/Inf) never holds. Runs shared by
several entries execute once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from xbench.errors import UsageError
from xbench.run.equivalence import EXACT, TOLERANCES, Agreement, compare
from xbench.run.parallel import run_many
from xbench.run.registry import framework_available
from xbench.workloads.cases import DTYPES, FRAMEWORKS, OPTIMIZERS, REFERENCE, RULES, Case
from xbench.workloads.catalogue import Entry, Setup
from xbench.workloads.models import MODELS

FILTER_CHOICES = {
    "model": tuple(MODELS),
    "optimizer": OPTIMIZERS,
    "rule": RULES,
    "framework": FRAMEWORKS,
    "dtype": DTYPES,
}


@dataclass(frozen=True)
class Filters:
    """Each field: the values to keep (empty keeps all). An entry matches when every
    framework it needs, besides the reference, is kept, and either side matches the rest."""

    model: tuple[str, ...] = ()
    optimizer: tuple[str, ...] = ()
    rule: tuple[str, ...] = ()
    framework: tuple[str, ...] = ()
    dtype: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field, choices in FILTER_CHOICES.items():
            for value in getattr(self, field):
                if value not in choices:
                    raise UsageError(f"unknown {field} {value!r}; valid: {', '.join(choices)}")

    def keep(self, entry: Entry) -> bool:
        frameworks = {r.framework for r in (entry.left, entry.right)} - {REFERENCE}
        if self.framework and not frameworks <= set(self.framework):
            return False
        for field in ("model", "optimizer", "rule", "dtype"):
            wanted = getattr(self, field)
            values = {getattr(r.case, field) for r in (entry.left, entry.right)}
            if wanted and not values & set(wanted):
                return False
        return True


@dataclass(frozen=True)
class Outcome:
    """What became of one entry: its agreement (None when skipped), held or not, and why."""

    entry: Entry
    agreement: Agreement | None  # None when skipped
    held: bool
    verdict: str


def entry_verdict(entry: Entry, agreement: Agreement) -> tuple[bool, str]:
    """Whether ``entry``'s expectation held given ``agreement``, and the verdict in words."""
    if agreement.diverged_step is not None:
        return False, f"FAIL: {agreement.describe()}"
    if entry.expect_equal:
        return (True, "ok: equal") if agreement.equal else (False, f"FAIL: {agreement.describe()}")
    if agreement.equal:
        return False, "FAIL: expected a difference, found none"
    return True, f"ok: {agreement.describe()}"


def on_device(side: Setup, device: str) -> Setup:
    """Put a side on ``device``; the reference always stays on the CPU."""
    if side.framework == REFERENCE or device == "cpu":
        return side
    return Setup(side.framework, side.case.replace(device=device))


OnProgress = Callable[[int, int, tuple[str, Case]], None]  # called as each run ends


def run_catalogue(
    entries: list[Entry],
    device: str = "cpu",
    progress: OnProgress | None = None,
    jobs: int = 1,
    costs: dict | None = None,
) -> list[Outcome]:
    """Every entry's outcome. Each distinct (framework, case) runs once: in entry order in
    this process, or with ``jobs`` > 1 in that many worker processes (``run.parallel``; the
    same numbers); ``progress(finished, total, (framework, case))`` as each run ends; what
    each run cost into ``costs`` when given. Entries needing a framework that is not
    installed are skipped, and say so."""
    entries = [
        dataclasses.replace(e, left=on_device(e.left, device), right=on_device(e.right, device))
        for e in entries
    ]
    missing = {fw for fw in FRAMEWORKS if not framework_available(fw)}
    needed: list[tuple[str, Case]] = []
    for e in entries:
        for run in (e.left, e.right):
            key = (run.framework, run.case)
            if run.framework not in missing and key not in needed:
                needed.append(key)
    trajectories = run_many(needed, jobs, progress, costs)
    outcomes = []
    for e in entries:
        absent = {e.left.framework, e.right.framework} & missing
        if absent:
            outcomes.append(
                Outcome(e, None, True, f"skipped: {', '.join(sorted(absent))} not installed")
            )
            continue
        tolerance = EXACT if e.exact else TOLERANCES[e.left.case.dtype]
        agreement = compare(
            trajectories[(e.left.framework, e.left.case)],
            trajectories[(e.right.framework, e.right.case)],
            tolerance,
        )
        held, verdict = entry_verdict(e, agreement)
        outcomes.append(Outcome(e, agreement, held, verdict))
    return outcomes
