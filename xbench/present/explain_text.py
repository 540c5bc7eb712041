"""What ``xbench explain`` prints: whether A and B agree, and the known causes that
reproduce their difference, ranked, each with its fix."""

from __future__ import annotations

from xbench.analysis.explain import A_TO_B, Cause, Explanation
from xbench.run.equivalence import Agreement
from xbench.run.trajectory import Trajectory


def _side(name: str, label: str, t: Trajectory) -> str:
    return f"{label}: {name} ({t.framework}, {t.case.label}, {t.case.dtype}, {len(t.loss)} steps)"


def _own(agreement: Agreement | None) -> str:
    return agreement.describe() if agreement else "-"


def _cause_lines(rank: int, cause: Cause) -> list[str]:
    source, target = ("A", "B") if cause.direction == A_TO_B else ("B", "A")
    other = [d for d in cause.directions if d != cause.direction]
    also = f"; also {other[0]}" if other else ""
    fit = "exact" if cause.exact else f"err/tol {cause.error_ratio:.2g}"
    return [
        f"{rank}. {cause.title}: {source}'s case with {cause.change} reproduces {target} "
        f"[{cause.direction}{also}; {fit}]",
        f"   fix: {cause.fix}",
    ]


def explanation_lines(e: Explanation, name_a: str = "A", name_b: str = "B") -> list[str]:
    """The report, line by line."""
    lines = [_side(name_a, "A", e.a), _side(name_b, "B", e.b)]
    tol = f"atol {e.tolerance.atol:g}, rtol {e.tolerance.rtol:g}"
    if e.equal:
        return [*lines, f"A and B agree at every step ({tol})."]
    ag = e.agreement
    if ag.diverged_step is not None:
        lines.append(f"A and B: {ag.describe()}.")
    where = f"step {ag.first_divergent_step} in {ag.tensor}" if ag.first_divergent_step else "-"
    lines += [
        f"A and B differ from {where} (max |A − B| {ag.max_abs_error:.2g}, "
        f"{ag.max_error_ratio:.2g} × the tolerance, {tol}).",
        f"Against the float64 reference of its own case: A {_own(e.a_own)}; B {_own(e.b_own)}.",
    ]
    if not e.causes:
        lines.append(
            f"No known cause reproduces it (first divergence: {where}; {e.tried} reference "
            "runs of the known causes tried, both directions)."
        )
        return lines
    lines.append(
        f"Known causes that reproduce it, best first (float64 reference on the recorded "
        f"inputs; {e.tried} tried, both directions):"
    )
    for rank, cause in enumerate(e.causes, 1):
        lines += _cause_lines(rank, cause)
    return lines
