"""Step-by-step comparison of two trajectories: every step, every tensor, and the loss.

An element agrees when |a − b| ≤ atol + rtol·|b|, b being the side compared against (the
reference, when there is one). NaN or Inf never agrees: such a trajectory is reported as
diverged at its first non-finite step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbench.run.trajectory import Trajectory


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


# Float64 proves the maths: 1e-10 relative, with an absolute floor for elements near zero.
FLOAT64_TOLERANCE = Tolerance(atol=1e-12, rtol=1e-10)
# Float32 is what users get after 20 steps on xbench's problems; docs/check.md shows what is
# observed in the published check.
FLOAT32_TOLERANCE = Tolerance(atol=5e-7, rtol=5e-6)
# Bit-for-bit: for claims such as "this decay did nothing at all".
EXACT = Tolerance(atol=0.0, rtol=0.0)

TOLERANCES = {"float64": FLOAT64_TOLERANCE, "float32": FLOAT32_TOLERANCE}


@dataclass(frozen=True)
class Agreement:
    """The outcome of comparing trajectory ``a`` with trajectory ``b``."""

    equal: bool
    max_abs_error: float  # over every step, tensor and element (finite steps only)
    max_error_ratio: float  # max |a − b| / (atol + rtol·|b|); equal means ≤ 1
    first_divergent_step: int | None  # 1-based; None when equal
    tensor: str | None  # the worst tensor at that step ("loss" for the loss)
    diverged_step: int | None = None  # first step with NaN/Inf on either side
    diverged_side: str | None = None

    def describe(self) -> str:
        if self.diverged_step is not None:
            return f"diverged at step {self.diverged_step} ({self.diverged_side})"
        if self.equal:
            return "equal at every step"
        return f"differs from step {self.first_divergent_step} in {self.tensor}"


EVALUATION = "evaluation"  # the evaluation-mode output on the held-out batch (batch norm)


def _series(t: Trajectory) -> dict[str, np.ndarray]:
    """Every compared quantity as (steps, n): the loss, each parameter and running statistic
    after each step, and the evaluation output (at the last step; zeros before it)."""
    steps = len(t.loss)
    out = {"loss": t.loss.reshape(steps, 1).astype(np.float64)}
    for name, values in (*t.params.items(), *t.stats.items()):
        out[name] = values[1:].reshape(steps, -1).astype(np.float64)
    if t.evaluation is not None:
        series = np.zeros((steps, t.evaluation.size))
        series[-1] = t.evaluation.ravel()
        out[EVALUATION] = series
    return out


def compare(a: Trajectory, b: Trajectory, tolerance: Tolerance) -> Agreement:
    """Compare ``a`` against ``b`` at every step; report the first step and tensor that differ."""
    names_a, names_b = sorted([*a.params, *a.stats]), sorted([*b.params, *b.stats])
    if names_a != names_b or a.loss.shape != b.loss.shape:
        raise ValueError(
            f"trajectories are not comparable: {names_a} over {a.loss.shape[0]} steps "
            f"vs {names_b} over {b.loss.shape[0]} steps"
        )
    if (a.evaluation is None) != (b.evaluation is None):
        raise ValueError("trajectories are not comparable: one has an evaluation output")
    diverged = [
        (s, side)
        for side, s in (("a", a.first_nonfinite_step()), ("b", b.first_nonfinite_step()))
        if s
    ]
    diverged_step, diverged_side = min(diverged) if diverged else (None, None)
    if diverged:
        sides = {"a": a.framework, "b": b.framework}
        diverged_side = "+".join(sides[s] for st, s in diverged if st == diverged_step)
    last = (diverged_step - 1) if diverged_step else len(a.loss)  # compare finite steps only

    sa, sb = _series(a), _series(b)
    ratio_by_step = np.zeros(last)
    worst_tensor_by_step = [""] * last
    max_abs = 0.0
    for name in sa:
        diff = np.abs(sa[name][:last] - sb[name][:last])
        bound = tolerance.atol + tolerance.rtol * np.abs(sb[name][:last])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(diff == 0, 0.0, diff / bound)  # bound 0 (EXACT) and diff>0: inf
        per_step = ratio.max(axis=1) if ratio.size else np.zeros(last)
        for step in np.flatnonzero(per_step > ratio_by_step):
            worst_tensor_by_step[step] = name
        ratio_by_step = np.maximum(ratio_by_step, per_step)
        if diff.size:
            max_abs = max(max_abs, float(diff.max()))
    failing = np.flatnonzero(ratio_by_step > 1.0)
    first = int(failing[0]) + 1 if failing.size else None
    return Agreement(
        equal=first is None and diverged_step is None,
        max_abs_error=max_abs,
        max_error_ratio=float(ratio_by_step.max()) if last else 0.0,
        first_divergent_step=first,
        tensor=worst_tensor_by_step[first - 1] if first else None,
        diverged_step=diverged_step,
        diverged_side=diverged_side,
    )
