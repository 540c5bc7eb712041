"""Timing a BenchCase under pytest-benchmark: build the blocking callable, calibrate, time.

Every timed callable blocks until its work is done (``jax.block_until_ready`` on the whole
state tree, ``torch.cuda.synchronize`` on CUDA) and threads its state through its closure,
so a donated buffer is never passed twice. Compilation happens before timing and is reported
as ``compile_seconds``; the first execution is never inside a timed round.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xbench.run.registry import framework_available, load_adapter
from xbench.workloads.benchmarks import BenchCase

MIN_ROUND_SECONDS = 2e-3  # a round lasts at least this: a 20 µs step runs 100 iterations
MIN_ROUNDS, MAX_ROUNDS = 5, 500
OPENMP_SETTLE_SECONDS = 0.02  # torch's idle OpenMP workers spin for milliseconds


@dataclass(frozen=True)
class Timed:
    """A blocking callable ready to time, what built it, and what compiling it cost."""

    call: Callable[[], None]
    compile_seconds: float | None
    adapter: object | None = None  # the framework adapter (None for a reference kernel)
    kernel: str | None = None  # a reference kernel's code, e.g. ``torch.Tensor.add_``
    implementation_flags: dict | None = None  # what the adapter pinned (foreach, fused, ...)


def build(bench: BenchCase) -> Timed:
    """The timed callable for ``bench``; already run once (warm, compiled)."""
    if bench.kind == "reference":
        call, kernel = reference_kernel(bench)
        call()
        return Timed(call, None, kernel=kernel)
    adapter = load_adapter(bench.framework)(bench.problem(), bench.case(), bench.implementation)
    if bench.kind == "train":
        call, seconds = adapter.timed_step()
    else:
        call, seconds = adapter.timed_update(bench.gradients())
    flags = getattr(adapter, "implementation_flags", None)
    return Timed(call, seconds, adapter, implementation_flags=flags)


def reference_kernel(bench: BenchCase) -> tuple[Callable[[], None], str]:
    """torch's (threaded like the optimizers, on the same device) or else NumPy's kernel."""
    if framework_available("torch"):
        kernel = load_adapter("torch").memory_kernel
        return kernel(bench.implementation, bench.elements, bench.dtype, bench.device)
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


def rounds_and_iterations(seconds_per_call: float, budget: float) -> tuple[int, int]:
    """Iterations per round so a round lasts ≥ MIN_ROUND_SECONDS; rounds to fill ``budget``."""
    seconds_per_call = max(seconds_per_call, 1e-9)
    iterations = max(1, math.ceil(MIN_ROUND_SECONDS / seconds_per_call))
    rounds = int(budget / (seconds_per_call * iterations))
    return min(MAX_ROUNDS, max(MIN_ROUNDS, rounds)), iterations


@dataclass(frozen=True)
class Timing:
    """How a benchmark was timed: its rounds, iterations per round, and the median seconds
    per call of the reference kernel run just before and after it (None without one)."""

    rounds: int
    iterations: int
    reference_seconds: float | None = None


def time_with(
    benchmark, call: Callable[[], None], budget: float, roofline: Timed | None = None
) -> Timing | None:
    """Time ``call`` with pytest-benchmark's pedantic mode: iterations per round from a
    calibration, so a round lasts MIN_ROUND_SECONDS or more; rounds to fill ``budget``
    seconds, at least MIN_ROUNDS. With ``roofline`` (a reference kernel), the kernel also runs
    for about a third of ``budget`` just before and just after the timed rounds, never between
    them, and a pause lets torch's OpenMP workers sleep before timing starts (docs/bench.md:
    why); its median seconds per call is returned. With benchmarking disabled (``make
    test``) ``call`` runs once and None is returned."""
    if benchmark.disabled:
        benchmark.pedantic(call)  # disabled: pytest-benchmark calls it once
        return None
    rounds, iterations = rounds_and_iterations(seconds_per_call(call), budget)
    if roofline is None:
        benchmark.pedantic(call, rounds=rounds, iterations=iterations, warmup_rounds=1)
        return Timing(rounds, iterations)
    kernel = roofline.call
    kernel_rounds, kernel_iterations = rounds_and_iterations(seconds_per_call(kernel), budget / 3)
    before = [bare_seconds_per_call(kernel, kernel_iterations) for _ in range(kernel_rounds)]
    time.sleep(OPENMP_SETTLE_SECONDS)
    benchmark.pedantic(call, rounds=rounds, iterations=iterations, warmup_rounds=1)
    after = [bare_seconds_per_call(kernel, kernel_iterations) for _ in range(kernel_rounds)]
    return Timing(rounds, iterations, statistics.median(before + after))


def bare_seconds_per_call(call: Callable[[], None], iterations: int) -> float:
    """One bare round: ``iterations`` calls between two perf_counter readings."""
    start = time.perf_counter()
    for _ in range(iterations):
        call()
    return (time.perf_counter() - start) / iterations


def time_against_bare(benchmark, timed_call, bare_call, rounds: int, iterations: int) -> dict:
    """Time ``timed_call`` with pytest-benchmark, each round followed by a bare round of
    ``bare_call`` (pedantic's teardown, outside the timed region).

    Returns ``bare_median`` (seconds per call of the bare rounds), ``reported_over_bare``
    (the ratio of the two medians) and ``paired_over_bare`` (the median of the ratios of
    adjacent rounds: round k and the bare round right after it saw the same machine, so drift
    or a bimodal machine, which can move one side's median by a few percent, cancels), and
    ``bare_rounds``, the number of bare rounds run.
    """
    bare: list[float] = []
    benchmark.pedantic(
        timed_call,
        rounds=rounds,
        iterations=iterations,
        warmup_rounds=1,
        teardown=lambda: bare.append(bare_seconds_per_call(bare_call, iterations)),
    )
    timed = benchmark.stats.stats.data  # seconds per call, one per timed round
    # bare[0] followed the warm-up round; with iterations > 1 pedantic makes one more
    # untimed call at the end, followed by one more bare round.
    after_rounds = bare[1 : 1 + len(timed)]
    bare_median = statistics.median(after_rounds)
    return {
        "bare_median": bare_median,
        "reported_over_bare": benchmark.stats.stats.median / bare_median,
        "paired_over_bare": statistics.median(
            t / b for t, b in zip(timed, after_rounds, strict=True)
        ),
        "bare_rounds": len(bare),
    }
