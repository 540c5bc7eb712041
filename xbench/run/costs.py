"""What one run cost (``xbench check --profile``): its seconds, and for JAX how many programs
it compiled or loaded from the persistent cache and the seconds that took.

JAX reports each compilation through ``jax.monitoring``: tracing, lowering and XLA's
compilation, the last one also when the persistent cache hands back the executable (then a
cache hit is reported too). The listeners are registered once per process, when a JAX run
first starts; nothing here imports JAX before that.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import astuple, dataclass

from xbench.run.registry import load_adapter, run_case
from xbench.run.trajectory import Trajectory
from xbench.workloads.cases import Case

COMPILE_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "compile",
}
CACHE_HIT = "/jax/compilation_cache/cache_hits"
_seen: Counter = Counter()  # this process's totals, by COMPILE_EVENTS' names (+ "programs")


@dataclass(frozen=True)
class RunCost:
    """One run: ``seconds`` in all; JAX: ``compiled`` programs XLA compiled, ``loaded`` from
    the persistent cache, and the seconds tracing, lowering and compiling (or loading)."""

    seconds: float
    compiled: int = 0
    loaded: int = 0
    compiling: float = 0.0  # trace + lower + XLA compile or cache load

    def __add__(self, other: RunCost) -> RunCost:
        return RunCost(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def _listen_to_jax() -> None:
    if _seen["listening"]:
        return
    load_adapter("jax")  # imports JAX
    import jax.monitoring

    def duration(event: str, seconds: float, **kwargs) -> None:
        if event in COMPILE_EVENTS:
            _seen["seconds"] += seconds
            _seen["programs"] += COMPILE_EVENTS[event] == "compile"

    def count(event: str, **kwargs) -> None:
        _seen["loaded"] += event == CACHE_HIT

    jax.monitoring.register_event_duration_secs_listener(duration)
    jax.monitoring.register_event_listener(count)
    _seen["listening"] = 1


def costed_run(framework: str, case: Case) -> tuple[Trajectory, RunCost]:
    """``run_case``, and what it cost."""
    if framework == "jax":
        _listen_to_jax()
    before, start = Counter(_seen), time.perf_counter()
    trajectory = run_case(framework, case)
    seconds = time.perf_counter() - start
    loaded = _seen["loaded"] - before["loaded"]
    programs = _seen["programs"] - before["programs"]
    compiling = _seen["seconds"] - before["seconds"]
    return trajectory, RunCost(seconds, programs - loaded, loaded, compiling)
