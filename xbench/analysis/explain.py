"""Why do two trajectories differ? ``explain(a, b)`` tests the known causes.

Two trajectories in xbench's trace format (``xbench trace``, or a user's own loop saved in
that format, docs/explain.md) are compared step by step. When they differ, each known cause
(a *hypothesis*) is applied to one side's configuration, its Case, and the float64 NumPy
reference is run on the recorded inputs (the model named by the case, step 0 of every
tensor, the recorded batches) under that modified configuration. A hypothesis *reproduces*
the difference when that run agrees with the other side to the other side's tolerance. Both
directions are tried: A's case modified against B, and B's case modified against A.

The hypotheses are in ``xbench.analysis.causes``. Causes that reproduce are ranked:
bit-for-bit reproductions first, then by max error ratio, then simpler causes (the order of
``HYPOTHESES``) first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import replace as field_replace

import numpy as np

from xbench.analysis.causes import HYPOTHESES, Candidate, Hypothesis, Setting, Trial
from xbench.errors import UsageError
from xbench.records.trace import check_trace, load_npz
from xbench.run.equivalence import TOLERANCES, Agreement, Tolerance, compare
from xbench.run.trajectory import Trajectory
from xbench.workloads.cases import Case
from xbench.workloads.models import MODELS
from xbench.workloads.problems import Problem

A_TO_B = "A→B"  # A's case, modified, reproduces B
B_TO_A = "B→A"  # B's case, modified, reproduces A


def trace_dtype(t: Trajectory) -> str:
    """float32 when any parameter is stored in float32 (or narrower), else float64."""
    narrow = any(v.dtype.itemsize < 8 for v in t.params.values())
    return "float32" if narrow else "float64"


def check_same_problem(a: Trajectory, b: Trajectory) -> None:
    """Same model, step count, initial values and batches (compared in the narrower dtype)."""
    if a.case.model != b.case.model:
        raise UsageError(f"different problems: model {a.case.model!r} vs {b.case.model!r}")
    if a.loss.shape != b.loss.shape:
        raise UsageError(f"different step counts: {a.loss.shape[0]} vs {b.loss.shape[0]}")
    if sorted(a.params) != sorted(b.params):
        raise UsageError(f"different problems: parameters {sorted(a.params)} vs {sorted(b.params)}")
    dtype = np.float32 if "float32" in (trace_dtype(a), trace_dtype(b)) else np.float64
    pairs = [(f"the initial {n}", a.params[n][0], b.params[n][0]) for n in sorted(a.params)]
    pairs += [("the batches x", a.x, b.x), ("the targets y", a.y, b.y)]
    pairs += [("the held-out batch x_eval", a.x_eval, b.x_eval)]
    for what, u, v in pairs:
        if (u is None) != (v is None):
            raise UsageError(f"different problems: only one side has {what}")
        if u is not None and (
            u.shape != v.shape or not np.array_equal(u.astype(dtype), v.astype(dtype))
        ):
            raise UsageError(f"different problems: {what} differ")


def recorded_problem(t: Trajectory) -> Problem:
    """The problem a trace was run on, in float64: its case's model, step 0 of every tensor,
    its batches (and held-out batch)."""
    f64 = np.float64
    return Problem(
        MODELS[t.case.model],
        {n: v[0].astype(f64) for n, v in t.params.items()},
        t.x.astype(f64),
        t.y.astype(f64),
        x_eval=None if t.x_eval is None else t.x_eval.astype(f64),
    )


# ---------------------------------------------------------------- the explanation


@dataclass(frozen=True)
class Cause:
    """A known cause that reproduces the difference."""

    key: str  # a HYPOTHESES key: "after_lr", "lambda_scale", ...
    title: str
    change: str  # what was changed in the case: "variant after_lr", "λ × 1.37"
    fix: str  # one line
    direction: str  # A_TO_B: A's case changed reproduces B; B_TO_A the reverse
    agreement: Agreement  # the reference run under the change vs the other side
    exact: bool  # bit for bit
    directions: tuple[str, ...] = ()  # every direction in which this cause reproduces
    factor: float | None = None  # the estimated λ or η factor
    tensors: tuple[str, ...] = ()  # the tensors concerned (mask, no gradient)

    @property
    def error_ratio(self) -> float:
        return self.agreement.max_error_ratio


@dataclass(frozen=True)
class Explanation:
    """``explain(a, b)``'s result. ``causes`` ranked, best first; empty when the two agree
    or when no known cause reproduces the difference."""

    a: Trajectory
    b: Trajectory
    tolerance: Tolerance  # the one A and B were compared with
    agreement: Agreement
    causes: tuple[Cause, ...] = ()
    a_own: Agreement | None = None  # A vs the reference of A's own case (None when equal)
    b_own: Agreement | None = None
    tried: int = 0  # reference runs compared, both directions

    @property
    def equal(self) -> bool:
        return self.agreement.equal

    @property
    def exit_code(self) -> int:
        return 0 if self.equal else 1

    @property
    def best(self) -> Cause | None:
        return self.causes[0] if self.causes else None


def as_trajectory(source: str | os.PathLike | Trajectory, label: str) -> Trajectory:
    if isinstance(source, Trajectory):
        check_trace(source, label)
        return source
    return load_npz(source)


def explain(a: str | os.PathLike | Trajectory, b: str | os.PathLike | Trajectory) -> Explanation:
    """Compare A with B; when they differ, test every known cause in both directions.

    ``a``, ``b``: paths of ``.npz`` traces or Trajectory objects. Raises UsageError (one
    line) for bad input: not a trace, arrays that do not fit the case's model, different
    problems or step counts."""
    a, b = as_trajectory(a, "A"), as_trajectory(b, "B")
    check_same_problem(a, b)
    dtypes = {trace_dtype(a), trace_dtype(b)}
    tolerance = TOLERANCES["float32" if "float32" in dtypes else "float64"]
    agreement = compare(a, b, tolerance)
    if agreement.equal:
        return Explanation(a, b, tolerance, agreement)
    found, tried = [], 0
    for direction, source, target in ((A_TO_B, a, b), (B_TO_A, b, a)):
        setting = Setting(recorded_problem(target), target, TOLERANCES[trace_dtype(target)])
        for order, hypothesis in enumerate(HYPOTHESES):
            for candidate in _proposals(hypothesis, source.case, setting):
                tried += 1
                run_agreement = setting.agreement(candidate.trial)
                if run_agreement.equal:
                    found.append((order, _cause(hypothesis, candidate, direction, run_agreement)))
    own = [_own(t) for t in (a, b)]
    return Explanation(a, b, tolerance, agreement, _ranked(found), *own, tried=tried)


def _proposals(hypothesis: Hypothesis, case: Case, setting: Setting) -> list[Candidate]:
    try:
        return hypothesis.propose(case, setting)
    except UsageError:  # Case validation refuses the change: the cause cannot apply
        return []


def _own(t: Trajectory) -> Agreement:
    setting = Setting(recorded_problem(t), t, TOLERANCES[trace_dtype(t)])
    return setting.agreement(Trial(t.case))


def _cause(h: Hypothesis, c: Candidate, direction: str, agreement: Agreement) -> Cause:
    return Cause(
        key=h.key,
        title=h.title,
        change=c.change,
        fix=h.fix,
        direction=direction,
        agreement=agreement,
        exact=agreement.max_abs_error == 0.0,
        factor=c.factor,
        tensors=c.tensors,
    )


def _ranked(found: list[tuple[int, Cause]]) -> tuple[Cause, ...]:
    """One entry per cause: its A→B form when A's case reproduces B, else its B→A form,
    listing every direction that reproduced it; exact first, then by error ratio, then
    simpler (HYPOTHESES order)."""
    shown: dict[str, tuple[int, Cause]] = {}
    for order, cause in sorted(
        found, key=lambda oc: (oc[1].direction != A_TO_B, oc[1].error_ratio)
    ):
        shown.setdefault(cause.key, (order, cause))
    ranked = sorted(shown.values(), key=lambda oc: (not oc[1].exact, oc[1].error_ratio, oc[0]))
    return tuple(
        field_replace(
            c, directions=tuple(sorted({f.direction for _, f in found if f.key == c.key}))
        )
        for _, c in ranked
    )
