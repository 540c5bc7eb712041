"""``xbench check``: run a catalogue, compare every entry, classify each as held or failed.

An entry holds when an expected equality is equal within tolerance at every step, or an
expected difference is detected. A diverged trajectory (NaN/Inf) never holds. Runs shared by
several entries execute once.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import asdict, dataclass

from xbench.cases import Case
from xbench.catalogue import Entry, Run
from xbench.equivalence import EXACT, TOLERANCES, Agreement, compare
from xbench.registry import framework_available, run_case
from xbench.trajectory import Trajectory


@dataclass(frozen=True)
class Filters:
    """Each field: the values to keep (empty keeps all). An entry matches when every
    framework it needs, besides the reference, is kept, and either side matches the rest."""

    model: tuple[str, ...] = ()
    optimizer: tuple[str, ...] = ()
    rule: tuple[str, ...] = ()
    framework: tuple[str, ...] = ()
    dtype: tuple[str, ...] = ()

    def keep(self, entry: Entry) -> bool:
        frameworks = {r.framework for r in (entry.left, entry.right)} - {"reference"}
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
    entry: Entry
    agreement: Agreement | None  # None when skipped
    held: bool
    verdict: str

    def as_dict(self) -> dict:
        e = self.entry
        return {
            "name": e.name,
            "left": {"framework": e.left.framework, "case": asdict(e.left.case)},
            "right": {"framework": e.right.framework, "case": asdict(e.right.case)},
            "expected": "equal" if e.expect_equal else "different",
            "reason": e.reason,
            "exact": e.exact,
            "agreement": _json_safe(asdict(self.agreement)) if self.agreement else None,
            "held": self.held,
            "verdict": self.verdict,
        }


def _json_safe(values: dict) -> dict:
    """Infinity is not JSON: an EXACT comparison that differs has err/tol "inf"."""
    return {k: "inf" if isinstance(v, float) and math.isinf(v) else v for k, v in values.items()}


def judge(entry: Entry, agreement: Agreement) -> tuple[bool, str]:
    if agreement.diverged_step is not None:
        return False, f"FAIL: {agreement.describe()}"
    if entry.expect_equal:
        return (True, "ok: equal") if agreement.equal else (False, f"FAIL: {agreement.describe()}")
    if agreement.equal:
        return False, "FAIL: expected a difference, found none"
    return True, f"ok: {agreement.describe()}"


def on_device(run: Run, device: str) -> Run:
    """Put a run on ``device``; the reference always stays on the CPU."""
    if run.framework == "reference" or device == "cpu":
        return run
    return Run(run.framework, run.case.replace(device=device))


def run_catalogue(entries: list[Entry], device: str = "cpu", progress=None) -> list[Outcome]:
    entries = [
        dataclasses.replace(e, left=on_device(e.left, device), right=on_device(e.right, device))
        for e in entries
    ]
    missing = {fw for fw in ("torch", "jax") if not framework_available(fw)}
    needed: list[tuple[str, Case]] = []
    for e in entries:
        for run in (e.left, e.right):
            key = (run.framework, run.case)
            if run.framework not in missing and key not in needed:
                needed.append(key)
    trajectories: dict[tuple[str, Case], Trajectory] = {}
    for index, key in enumerate(needed):
        if progress:
            progress(index, len(needed), key)
        trajectories[key] = run_case(*key)
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
        held, verdict = judge(e, agreement)
        outcomes.append(Outcome(e, agreement, held, verdict))
    return outcomes


def stderr_progress(index: int, total: int, key) -> None:
    framework, case = key
    if sys.stderr.isatty():
        line = f"[{index + 1}/{total}] {framework} {case.label} {case.dtype}"
        print(f"\r{line:<78}", end="" if index + 1 < total else "\n", file=sys.stderr, flush=True)
