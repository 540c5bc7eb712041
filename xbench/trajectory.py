"""A Trajectory: the parameters after every step and the loss at every step, and its .npz form.

Step k (1-based) computes ``loss[k-1]`` on ``params[...][k-1]`` and produces
``params[...][k]``; index 0 of every parameter holds the initial values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xbench.cases import Case
from xbench.storage import ensure_writable, write_atomically


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


def save_npz(trajectory: Trajectory, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the .npz described in SPEC.md atomically: a crash never leaves half a file."""
    path = Path(path)
    ensure_writable(path, overwrite)
    arrays = {"x": trajectory.x, "y": trajectory.y, "loss": trajectory.loss}
    arrays |= {f"params/{name}": value for name, value in trajectory.params.items()}
    arrays["case"] = np.array(trajectory.case.to_json())
    arrays["framework"] = np.array(trajectory.framework)
    return write_atomically(path, lambda f: np.savez(f, **arrays))


def load_npz(path: str | os.PathLike) -> Trajectory:
    with np.load(path) as data:
        params = {k.removeprefix("params/"): data[k] for k in data.files if k.startswith("params/")}
        return Trajectory(
            framework=str(data["framework"]),
            case=Case.from_json(str(data["case"])),
            params=params,
            loss=data["loss"],
            x=data["x"],
            y=data["y"],
        )
