"""Many trajectories at once (``xbench check --jobs N``): in this process one after another,
or in N worker processes, the numbers the same bit for bit (docs/check.md says what makes
that so; ``tests/workloads/test_catalogue.py`` compares them).

Workers are spawned (never forked: torch and JAX must not be forked once imported), import
the frameworks once each, and run one (framework, Case) at a time; a Trajectory (NumPy
arrays) comes back by pickling. The longest runs start first (``run_order``). Ctrl-C reaches
the whole process group; workers ignore it from their start and the parent cancels what has
not started, waits for the runs in flight and re-raises. A worker whose parent is gone
(killed) ends too (``run.lifeline``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from xbench.run import compile_cache, lifeline
from xbench.run.costs import RunCost, costed_run
from xbench.run.registry import framework_available, load_adapter
from xbench.run.trajectory import Trajectory
from xbench.workloads.cases import RUNNERS, Case
from xbench.workloads.models import MODELS

Key = tuple[str, Case]
Done = Callable[[int, int, Key], None]  # (finished so far, total, the run just finished)

COMPILED = ("jax",)  # compiles every case: ~0.1-1 s a run on a CPU core, against ~10 ms eager


def model_size(key: Key) -> int:
    """A run's relative duration among runs of the same kind: its model's parameter tensors
    (a proxy for the operations XLA compiles: a transformer block counts for its 15)."""
    model = MODELS.get(key[1].model)
    return len(model.param_shapes()) if model is not None else 1


def run_order(keys: list[Key]) -> list[Key]:
    """The order workers take ``keys`` in: the compiled runs longest first, so the workers
    finish together, with the eager runs (torch, the reference) spread evenly among them,
    so the count of finished runs keeps pace with the time (the progress line's estimate)."""
    compiled = [k for k in keys if k[0] in COMPILED]
    eager = [k for k in keys if k[0] not in COMPILED]
    place = {}
    for group in (compiled, eager):
        for index, key in enumerate(sorted(group, key=model_size, reverse=True)):
            place[key] = (index + 0.5) / len(group)
    return sorted(keys, key=place.__getitem__)


def run_many(
    keys: list[Key], jobs: int = 1, done: Done | None = None, costs: dict | None = None
) -> dict[Key, Trajectory]:
    """Every key's trajectory, in ``keys``' order; ``done(finished, total, key)`` as each run
    ends; what each run cost into ``costs`` (key -> RunCost) when given. ``jobs`` > 1 runs
    them in that many worker processes (at most one per run)."""
    jobs = min(jobs, len(keys))
    runs = _in_this_process(keys, done) if jobs <= 1 else _in_workers(keys, jobs, done)
    if costs is not None:
        costs.update((key, cost) for key, (_, cost) in runs.items())
    return {key: trajectory for key, (trajectory, _) in runs.items()}


Ran = dict[Key, tuple[Trajectory, RunCost]]


def _in_this_process(keys: list[Key], done: Done | None) -> Ran:
    runs = {}
    for key in keys:
        runs[key] = costed_run(*key)
        if done:
            done(len(runs), len(keys), key)
    return runs


def _in_workers(keys: list[Key], jobs: int, done: Done | None) -> Ran:
    trajectories: Ran = {}
    cache = compile_cache.folder()
    why = cache and compile_cache.unusable(cache)
    if why:
        print(f"xbench: compilation cache {cache}: {why}; running without it", file=sys.stderr)
        cache = None
    # the pool's resource tracker starts as the pool is made, its workers as the first runs
    # are submitted: all leave Ctrl-C and a hangup to this process
    with lifeline.children_ignore_terminal():
        pool = ProcessPoolExecutor(
            jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
            initargs=(cache, os.getpid()),
        )
    try:
        with lifeline.children_ignore_terminal():
            running = {pool.submit(costed_run, *key): key for key in run_order(keys)}
        for future in as_completed(running):
            key = running[future]
            trajectories[key] = future.result()
            if done:
                done(len(trajectories), len(keys), key)
    finally:  # an error or Ctrl-C: nothing new starts; the runs in flight end first
        pool.shutdown(wait=True, cancel_futures=True)
    return {key: trajectories[key] for key in keys}


def start_worker(cache: Path | None, parent: int) -> None:
    """A worker's set-up, before it imports torch or JAX: see the module's docstring."""
    for signum in lifeline.TERMINAL_SIGNALS:  # the parent alone handles Ctrl-C and a hangup
        signal.signal(signum, signal.SIG_IGN)
    if cache is not None:
        os.environ.update(compile_cache.settings(cache))
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # workers may share one GPU
    # OpenMP threads that spin while they wait starve the other worker: torch's CPU time grew
    # tenfold with 2 workers. How they wait changes no result.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    lifeline.die_with_parent(parent)
    for framework in RUNNERS:
        if framework_available(framework):
            load_adapter(framework)
