"""Timing a BenchCase under pytest-benchmark: build the blocking callable, calibrate, time.

Every timed callable blocks until its work is done (``jax.block_until_ready`` on the whole
state tree, ``torch.cuda.synchronize`` on CUDA) and threads its state through its closure,
so a donated buffer is never passed twice. Compilation happens before timing and is reported
as ``compile_seconds``; the first execution is never inside a timed round.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xbench.registry import framework_available, load_adapter
from xbench.sweep import BenchCase, rounds_and_iterations


@dataclass
class Timed:
    """A blocking callable ready to time, what built it, and what compiling it cost."""

    call: Callable[[], None]
    compile_seconds: float | None
    adapter: object | None  # the framework adapter (None for a reference kernel)
    info: dict


def build(bench: BenchCase) -> Timed:
    """The timed callable for ``bench``; already run once (warm, compiled)."""
    if bench.kind == "reference":
        call, kernel = reference_kernel(bench)
        call()
        return Timed(call, None, None, {"kernel": kernel, "elements": bench.elements})
    adapter = load_adapter(bench.framework)(bench.problem(), bench.case(), bench.implementation)
    if bench.kind == "train":
        call, seconds = adapter.timed_step()
    else:
        call, seconds = adapter.timed_update(bench.gradients())
    flags = getattr(adapter, "implementation_flags", None)
    return Timed(call, seconds, adapter, {"implementation_flags": flags} if flags else {})


def reference_kernel(bench: BenchCase) -> tuple[Callable[[], None], str]:
    """torch's (threaded like the optimizers, on the same device) or else NumPy's kernel."""
    if framework_available("torch"):
        load_adapter("torch")
        from xbench_adapters.torch_adapter import memory_kernel

        return memory_kernel(bench.implementation, bench.elements, bench.dtype, bench.device)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(bench.elements).astype(bench.dtype) for _ in range(2))
    if bench.implementation == "copy":
        return (lambda: np.copyto(a, b)), "numpy.copyto(a, b)"
    return (lambda: np.add(a, b, out=a)), "numpy.add(a, b, out=a)"


def seconds_per_call(call: Callable[[], None], min_seconds: float = 0.02) -> float:
    """Mean duration of ``call`` over at least 3 calls and ``min_seconds``, after 3 untimed."""
    for _ in range(3):
        call()
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < min_seconds:
        call()
        calls += 1
    return (time.perf_counter() - start) / calls


OPENMP_SETTLE_SECONDS = 0.02  # torch's idle OpenMP workers spin for milliseconds


def time_with(benchmark, call: Callable[[], None], budget: float, roofline: Timed | None = None):
    """Time ``call`` with pytest-benchmark's pedantic mode.

    Iterations per round are chosen from a calibration so a round lasts about 2 ms or more
    (a 20 µs step runs 100 times per round); rounds fill ``budget`` seconds, at least 5.

    With ``roofline`` (a reference kernel), the kernel also runs for about a third of
    ``budget`` just before and just after the timed rounds, and its median seconds per call
    is returned: a shared machine's bandwidth drifts within minutes, so each result gets the
    bandwidth of its own moment. The kernel never runs between timed rounds: torch's OpenMP
    workers keep spinning for milliseconds after it, which slowed an interleaved JAX step by
    up to 2× on two cores; a 20 ms pause lets them sleep before timing starts.

    With benchmarking disabled (``make test``) ``call`` runs once and None is returned.
    """
    if benchmark.disabled:
        benchmark.pedantic(call)  # disabled: pytest-benchmark calls it once
        return None
    rounds, iterations = rounds_and_iterations(seconds_per_call(call), budget)
    benchmark.extra_info.update(rounds=rounds, iterations=iterations)
    if roofline is None:
        benchmark.pedantic(call, rounds=rounds, iterations=iterations, warmup_rounds=1)
        return None
    kernel_rounds, kernel_iterations = rounds_and_iterations(
        seconds_per_call(roofline.call), budget / 3
    )

    def kernel_block() -> list[float]:
        return [
            bare_seconds_per_call(roofline.call, kernel_iterations) for _ in range(kernel_rounds)
        ]

    before = kernel_block()
    time.sleep(OPENMP_SETTLE_SECONDS)
    benchmark.pedantic(call, rounds=rounds, iterations=iterations, warmup_rounds=1)
    return statistics.median(before + kernel_block())


def bare_seconds_per_call(call: Callable[[], None], iterations: int) -> float:
    """One bare round: ``iterations`` calls between two perf_counter readings."""
    start = time.perf_counter()
    for _ in range(iterations):
        call()
    return (time.perf_counter() - start) / iterations
