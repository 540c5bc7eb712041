"""A Trajectory: the parameters after every step and the loss at every step.

Step k (1-based) computes ``loss[k-1]`` on ``params[...][k-1]`` and produces
``params[...][k]``; index 0 of every parameter holds the initial values. Its ``.npz`` file
(``xbench trace``) is written and read by ``xbench.records.trace``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbench.spec.cases import Case


@dataclass(frozen=True)
class Trajectory:
    framework: str
    case: Case
    params: dict[str, np.ndarray]  # name -> (steps + 1, *shape), canonical layout
    loss: np.ndarray  # (steps,), the data loss (without the regularizer) before each update
    x: np.ndarray  # (steps, batch, *input_shape)
    y: np.ndarray  # (steps, batch, output_size)

    def first_nonfinite_step(self) -> int | None:
        """The first step whose loss or resulting parameters hold NaN or Inf, else None."""
        bad = ~np.isfinite(self.loss)
        for values in self.params.values():
            bad = bad | ~np.isfinite(values[1:].reshape(len(self.loss), -1)).all(axis=1)
        steps = np.flatnonzero(bad)
        return int(steps[0]) + 1 if steps.size else None


def record(adapter, case: Case, progress=None) -> Trajectory:
    """Step ``adapter`` (see ``xbench.run.registry.Adapter``) through its problem, keeping
    the parameters after every step; ``progress(done, total)`` after each."""
    snapshots = [adapter.params()]
    losses = []
    for index in range(case.steps):
        losses.append(adapter.step(index))
        snapshots.append(adapter.params())
        if progress:
            progress(index + 1, case.steps)
    params = {name: np.stack([s[name] for s in snapshots]) for name in snapshots[0]}
    loss = np.array([float(v) for v in losses])
    problem = adapter.problem
    return Trajectory(adapter.framework, case, params, loss, problem.x, problem.y)
