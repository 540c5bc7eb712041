"""A Trajectory: the parameters after every step and the loss at every step.

Step k (1-based) computes ``loss[k-1]`` on ``params[...][k-1]`` and produces
``params[...][k]``; index 0 of every parameter holds the initial values. A model with batch
norm adds its running statistics (``stats``, indexed the same way) and the evaluation-mode
output on the problem's held-out batch after the last step (``evaluation``). Its ``.npz`` file
(``xbench trace``) is written and read by ``xbench.records.trace``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xbench.workloads.cases import Case


@dataclass(frozen=True)
class Trajectory:
    framework: str
    case: Case
    params: dict[str, np.ndarray]  # name -> (steps + 1, *shape), canonical layout
    loss: np.ndarray  # (steps,), the data loss (without the regularizer) before each update
    x: np.ndarray  # (steps, batch, *input_shape)
    y: np.ndarray  # (steps, batch, output_size)
    stats: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (steps + 1, *shape)
    evaluation: np.ndarray | None = None  # (batch, output_size): after the last step
    x_eval: np.ndarray | None = None  # the held-out batch behind ``evaluation``

    def first_nonfinite_step(self) -> int | None:
        """The first step whose loss, resulting parameters or statistics hold NaN or Inf (the
        last step, too, when the evaluation output does)."""
        bad = ~np.isfinite(self.loss)
        for values in (*self.params.values(), *self.stats.values()):
            bad = bad | ~np.isfinite(values[1:].reshape(len(self.loss), -1)).all(axis=1)
        if self.evaluation is not None and not np.isfinite(self.evaluation).all():
            bad[-1] = True
        steps = np.flatnonzero(bad)
        return int(steps[0]) + 1 if steps.size else None


def record(adapter, case: Case, progress=None) -> Trajectory:
    """Step ``adapter`` (see ``xbench.run.registry.Adapter``) through its problem, keeping
    the parameters (and running statistics) after every step; ``progress(done, total)``
    after each; then the evaluation-mode output on the held-out batch, if there is one."""
    snapshots, stats = [adapter.params()], [adapter.stats()]
    losses = []
    for index in range(case.steps):
        losses.append(adapter.step(index))
        snapshots.append(adapter.params())
        stats.append(adapter.stats())
        if progress:
            progress(index + 1, case.steps)
    problem = adapter.problem
    return Trajectory(
        adapter.framework,
        case,
        params={name: np.stack([s[name] for s in snapshots]) for name in snapshots[0]},
        loss=np.array([float(v) for v in losses]),
        x=problem.x,
        y=problem.y,
        stats={name: np.stack([s[name] for s in stats]) for name in stats[0]},
        evaluation=None if problem.x_eval is None else adapter.evaluate(problem.x_eval),
        x_eval=problem.x_eval,
    )
