"""A Trajectory: the parameters after every step and the loss at every step, and its .npz form.

Step k (1-based) computes ``loss[k-1]`` on ``params[...][k-1]`` and produces
``params[...][k]``; index 0 of every parameter holds the initial values.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xbench.cases import Case
from xbench.errors import UsageError


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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


def ensure_writable(path: Path, overwrite: bool = False) -> None:
    """Fail before any work when ``path`` cannot be written, or exists and must not be lost."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise UsageError(
            f"refusing to overwrite existing {path}; pass --overwrite or pick another --out"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {path}: directory {parent} is not writable")
