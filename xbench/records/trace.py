"""One trajectory as ``.npz`` (``xbench trace``), written atomically and read back as
untrusted input. The format: docs/formats.md#trajectory-npz; with ``evaluation``, a model with
batch norm also stores ``x_eval``, the held-out batch it was computed on.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from xbench.errors import UsageError, first_line
from xbench.records.storage import ensure_writable, write_new
from xbench.run.machine import require_memory
from xbench.run.trajectory import Trajectory
from xbench.workloads.cases import Case
from xbench.workloads.models import MODELS, UNUSED_PARAM, UNUSED_SHAPE


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


REQUIRED = ("x", "y", "loss", "case", "framework")


def load_npz(path: str | os.PathLike) -> Trajectory:
    """A trace written by ``save_npz`` (or by a user's own loop, docs/explain.md), read with
    ``read_npz``'s checks and checked against its case's model; any problem raises
    UsageError with one line naming the file."""
    path = Path(path)
    arrays = read_npz(path)
    trajectory = _trajectory(arrays, str(path))
    check_trace(trajectory, str(path))
    return trajectory


def _text(arrays: dict, name: str, where: str) -> str:
    value = arrays[name]
    if value.dtype.kind != "U" or value.shape != ():
        raise UsageError(f"{where}: not a trace: '{name}' must be a text scalar")
    return str(value)


def _trajectory(arrays: dict[str, np.ndarray], where: str) -> Trajectory:
    missing = [n for n in REQUIRED if n not in arrays]
    if not any(n.startswith("params/") for n in arrays):
        missing.append("params/<name>")
    if missing:
        raise UsageError(f"{where}: not a trace: missing {', '.join(missing)}")
    for name, value in arrays.items():
        if name not in ("case", "framework") and value.dtype.kind not in "fiu":
            raise UsageError(f"{where}: not a trace: '{name}' has dtype {value.dtype}")
    try:
        case = Case.from_json(_text(arrays, "case", where))
    except (json.JSONDecodeError, TypeError, AttributeError, RecursionError, MemoryError) as exc:
        raise UsageError(f"{where}: 'case' is not an xbench Case ({first_line(exc)})") from None
    except UsageError as exc:
        raise UsageError(f"{where}: 'case' is not a valid xbench Case: {exc}") from None
    prefixed = {
        p: {k.removeprefix(p): v for k, v in arrays.items() if k.startswith(p)}
        for p in ("params/", "stats/")
    }
    return Trajectory(
        framework=_text(arrays, "framework", where), case=case, params=prefixed["params/"],
        loss=arrays["loss"], x=arrays["x"], y=arrays["y"], stats=prefixed["stats/"],
        evaluation=arrays.get("evaluation"), x_eval=arrays.get("x_eval"),
    )  # fmt: skip


def check_trace(t: Trajectory, where: str) -> None:
    """The arrays fit the case's model: names, shapes, step counts (UsageError if not)."""
    model, steps = MODELS[t.case.model], t.loss.shape[0] if t.loss.ndim == 1 else -1
    if steps < 1:
        raise UsageError(f"{where}: 'loss' must have shape (steps,), not {t.loss.shape}")
    if t.case.steps != steps:
        raise UsageError(f"{where}: the case says {t.case.steps} steps, 'loss' has {steps}")
    expected = dict(model.param_shapes()) | (
        {UNUSED_PARAM: UNUSED_SHAPE} if t.case.unused_param else {}
    )
    for kind, have, want in (
        ("params", t.params, expected),
        ("stats", t.stats, model.stat_shapes()),
    ):
        if sorted(have) != sorted(want):
            raise UsageError(
                f"{where}: {kind} {sorted(have)} do not match model {model.name!r}: {sorted(want)}"
            )
        for name, shape in want.items():
            if have[name].shape != (steps + 1, *shape):
                raise UsageError(
                    f"{where}: {kind}/{name} has shape {have[name].shape}, "
                    f"expected {(steps + 1, *shape)} (steps + 1, canonical layout)"
                )
    batch = t.x.shape[1] if t.x.ndim >= 2 else 0
    for name, value, shape in (
        ("x", t.x, (steps, batch, *model.input_shape)),
        ("y", t.y, (steps, batch, model.output_size)),
    ):
        if value.shape != shape:
            raise UsageError(f"{where}: '{name}' has shape {value.shape}, expected {shape}")
    if (t.evaluation is None) != (t.x_eval is None):
        raise UsageError(f"{where}: 'evaluation' and 'x_eval' come together")


# ----------------------------------------------------------------------------- untrusted .npz

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive's first bytes (an empty one: 2nd)
NPY_MAGIC = b"\x93NUMPY"


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of the .npz at ``path``. It is untrusted input: nothing is unpickled, and
    nothing is allocated before each member's header is read and checked against the bytes
    the archive holds for it and the memory this machine has. Any problem is a UsageError,
    one line naming the file."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a trace (.npz)")
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            magic = f.read(len(NPY_MAGIC))
        if magic == NPY_MAGIC:
            raise UsageError(f"{path}: a single .npy array, not a trace (.npz)")
        if magic[:4] not in ZIP_MAGIC:  # np.load would try it as a pickle
            raise UsageError(f"{path}: not an .npz file (not a zip archive)")
        with zipfile.ZipFile(path) as archive:
            declared = sum(_declared_bytes(archive, info, path) for info in archive.infolist())
        require_memory(declared, f"{path}: its arrays", "this trace cannot be read here")
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except UsageError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, RuntimeError, MemoryError) as exc:
        raise UsageError(f"{path}: unreadable .npz ({first_line(exc)})") from None


def _declared_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> int:
    """The bytes the .npy member's header declares, refused (UsageError) when the member is
    not an .npy array, holds pickled objects, or holds fewer bytes than it declares."""
    where = f"{path}: member {info.filename!r}"
    with archive.open(info) as f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise UsageError(f"{where} is not an .npy array")
        f.seek(0)
        try:  # a header over 10 000 bytes is refused too (numpy's max_header_size)
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0  # 3.0 differs in encoding only
            )
            shape, _, dtype = read_header(f)
        except ValueError as exc:  # its first line: numpy's advice follows on the next
            raise UsageError(f"{where}: unreadable .npy header ({first_line(exc)})") from None
        header = f.tell()
    if dtype.hasobject:
        raise UsageError(
            f"{where}: refused: it holds pickled Python objects (a trace is read with "
            "allow_pickle=False, never unpickled)"
        )
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size - header:
        raise UsageError(
            f"{where} declares shape {shape} of {dtype} ({_size(declared)}) but holds "
            f"{info.file_size - header} bytes"
        )
    return declared


def _size(n: int) -> str:
    unit = next((u for u in range(4, 0, -1) if n >= 1024**u), 0)
    if not unit:
        return f"{n} bytes"
    return f"{n / 1024**unit:.3g} {('KiB', 'MiB', 'GiB', 'TiB')[unit - 1]}"
