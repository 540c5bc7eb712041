"""One trajectory to ``.npz``: run a case in one framework (or the reference), save it.

Before anything runs, ``fits`` refuses a trace that cannot fit in memory: the trajectory and
one training step's activations, measured, not modelled (``needed_bytes``; docs/robustness.md).
"""

from __future__ import annotations

import functools
import tracemalloc
from pathlib import Path

from xbench.records.storage import ensure_writable
from xbench.records.trace import save_npz
from xbench.run.machine import require_memory
from xbench.run.registry import build, run_case
from xbench.run.trajectory import Trajectory, record
from xbench.workloads.cases import Case, check_applicable
from xbench.workloads.problems import trajectory_bytes

# The probe's batch. Its whole peak, divided by the batch, is the bytes per sample: that
# overcounts the slope by the peak's part that does not grow with the batch (parameters,
# their copies), by under 20% at 256 for every model, and stays a bound where a slope between
# two small batches does not (at 8 and 16, mlp_digits' peak is its parameters': slope 0).
PROBE_BATCH = 256
# torch's autograd keeps about what the reference keeps (cnn, 200k samples: 1655 MiB, the
# reference 1654), XLA mostly less (float32: about half), but XLA's float64 convolution keeps
# 1.27 times as much (cnn, 50k to 400k samples), and both add a few MiB whatever the batch:
# 1.5 covers the worst measured with room (docs/robustness.md; tests/run/test_resources.py).
ACTIVATION_MARGIN = 1.5


def default_out(framework: str, case: Case) -> Path:
    return Path(f"trace-{framework}-{case.label}-{case.dtype}-seed{case.seed}.npz")


@functools.cache
def activation_bytes_per_sample(model: str) -> float:
    """The float64 reference's peak, per sample, over one recorded step of ``model`` at
    ``PROBE_BATCH`` under ``tracemalloc`` (NumPy reports its allocations to it; the problem
    made before; a few ms): what its step keeps for its backward pass and its temporaries.
    Only the model matters: optimizer state and the rules' terms are parameter-sized, which
    the probe counts in already."""
    case = Case(model=model, batch_size=PROBE_BATCH, steps=1)
    adapter = build("reference", case)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()  # someone else tracing: count only from here
    before = tracemalloc.get_traced_memory()[0]
    try:
        record(adapter, case)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if started:
            tracemalloc.stop()
    return (peak - before) / PROBE_BATCH


def needed_bytes(case: Case) -> float:
    """About how much memory tracing ``case`` takes, in any framework: the trajectory and a
    step's activations, ``ACTIVATION_MARGIN`` times the float64 reference's."""
    per_sample = activation_bytes_per_sample(case.model)
    return trajectory_bytes(case) + ACTIVATION_MARGIN * case.batch_size * per_sample


def fits(case: Case) -> None:
    """Refuse, before any work, a trace whose trajectory and step cannot fit in memory."""
    require_memory(
        needed_bytes(case),
        f"{case.steps} steps of batch {case.batch_size}",
        "give fewer --steps or a smaller --batch-size",
    )


def trace(
    framework: str, case: Case, out: Path | None = None, overwrite: bool = False
) -> tuple[Trajectory, Path]:
    """Run ``case`` and write its trajectory; the path is checked before anything runs."""
    check_applicable(framework, case)
    fits(case)
    out = out or default_out(framework, case)
    ensure_writable(out, overwrite)
    trajectory = run_case(framework, case)
    return trajectory, save_npz(trajectory, out, overwrite=overwrite)
