"""One trajectory as ``.npz`` (``xbench trace``), written atomically and read back.

The file holds ``x`` and ``y`` (the batch of every step, leading axis = step),
``params/<name>`` (canonical layout, leading axis = step, index 0 = initial values),
``loss`` (the data loss before each update, one value per step), ``case`` (the Case as JSON
text) and ``framework``. A model with batch norm adds ``stats/<name>`` (its running
statistics, indexed as the parameters), ``evaluation`` (the evaluation-mode output on the
held-out batch after the last step) and ``x_eval`` (that batch).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xbench.records.storage import ensure_writable, write_new
from xbench.run.trajectory import Trajectory
from xbench.spec.cases import Case


def save_npz(trajectory: Trajectory, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the trajectory atomically: a crash never leaves half a file."""
    path = Path(path)
    ensure_writable(path, overwrite)
    arrays = {"x": trajectory.x, "y": trajectory.y, "loss": trajectory.loss}
    arrays |= {f"params/{name}": value for name, value in trajectory.params.items()}
    arrays |= {f"stats/{name}": value for name, value in trajectory.stats.items()}
    for name in ("evaluation", "x_eval"):
        if getattr(trajectory, name) is not None:
            arrays[name] = getattr(trajectory, name)
    arrays["case"] = np.array(trajectory.case.to_json())
    arrays["framework"] = np.array(trajectory.framework)
    return write_new(path, lambda f: np.savez(f, **arrays), overwrite)


def load_npz(path: str | os.PathLike) -> Trajectory:
    with np.load(path, allow_pickle=False) as data:  # a trace is untrusted input
        params = {k.removeprefix("params/"): data[k] for k in data.files if k.startswith("params/")}
        stats = {k.removeprefix("stats/"): data[k] for k in data.files if k.startswith("stats/")}
        return Trajectory(
            framework=str(data["framework"]),
            case=Case.from_json(str(data["case"])),
            params=params,
            loss=data["loss"],
            x=data["x"],
            y=data["y"],
            stats=stats,
            evaluation=data["evaluation"] if "evaluation" in data.files else None,
            x_eval=data["x_eval"] if "x_eval" in data.files else None,
        )
