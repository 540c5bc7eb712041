"""torch against JAX inside ``xbench bench``: each cross-framework comparison timed interleaved.

The sweep times every implementation on its own, minutes apart from the one it is compared
with, and on a shared machine a benchmark's speed moves by tens of percent between minutes:
a ratio of two such medians cannot resolve a 10% difference. So after the sweep, for every
model × optimizer × decay mechanism × size timed in both frameworks, the fastest
implementation of each (by the sweep's medians) is timed again, torch and JAX interleaved
round by round with ``xbench ab``'s method (``xbench.jobs.ab``; docs/ab.md): one worker
process builds the torch steps, the other the JAX steps, the two alternate rounds, and the
run starts ``pairs`` fresh process pairs because one process carries a bias of its own.
``analysis.paired.framework_ratio`` turns a cell's rounds into torch/JAX with a 95% interval.

torch.compile'd steps are left out of the choice: compiling one takes up to minutes, in
every process pair. Where one was the fastest torch step, the ratio compares the fastest of
the others.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from xbench.analysis.grouping import by_model, framework_ratios
from xbench.errors import UsageError
from xbench.jobs.ab import (
    ROUND_SECONDS,
    WARMUP_SECONDS,
    Plan,
    build_concurrently,
    build_sides,
    closing,
    plan_rounds,
    prepare,
    start_pair,
    time_sides,
)
from xbench.present.progress import Progress
from xbench.records.bench_run import Result, case_of
from xbench.records.scratch import scratch
from xbench.spec.benchmarks import PAIRED_FROM, BenchCase
from xbench.spec.cases import mechanism

DEFAULT_PAIRS = 9  # the 20%-trimmed mean keeps 7 of 9 (6 degrees of freedom; 4 of 6: 3)
MIN_PAIRED_ROUNDS = 5  # round pairs per process pair at least (xbench ab: 10)
SLOW_TO_BUILD = {("torch", "compiled")}
LONGEST_STEP = 0.05  # seconds: a comparison with a slower step stays unpaired (see ``cells``)
MIN_CALLS, MIN_WARMUP = 5, 1  # per round (xbench ab: 10 and 2; see ``run_pairs``)
FRAMEWORK_SIDES = ("torch", "jax")
PLAN_ARGS = dict(at_least=MIN_PAIRED_ROUNDS, runs_per_key=1, min_calls=MIN_CALLS,
                 min_warmup=MIN_WARMUP, min_rounds=MIN_PAIRED_ROUNDS)  # fmt: skip


@dataclass(frozen=True)
class Cell:
    """One comparison: the fastest torch and the fastest JAX step of one table cell."""

    model: str
    kind: str
    optimizer: str
    mechanism: str
    params: int
    torch: BenchCase
    jax: BenchCase


def cells(results: list[Result]) -> list[Cell]:
    """Every model × optimizer × mechanism × size timed in both frameworks, with the fastest
    implementation of each (torch.compile'd steps left out: SLOW_TO_BUILD). Comparisons
    whose slower step took over LONGEST_STEP in the sweep are left out too: the training
    steps at 10⁷ parameters take 0.1–0.2 s, and a dozen of them would cost more than all
    other comparisons together (their ratio stays the unpaired one). So are those below
    PAIRED_FROM parameters, whose few-microsecond steps compare the frameworks' call overhead:
    they would take a fifth of the stage."""
    eligible = [r for r in results if (r.framework, r.implementation) not in SLOW_TO_BUILD]
    found = []
    for kind in ("update", "train"):
        for model, group in by_model(eligible, kind).items():
            for row in framework_ratios(group):
                for params, (torch, jax) in row.pairs.items():
                    if params < PAIRED_FROM or max(torch.median, jax.median) > LONGEST_STEP:
                        continue
                    found.append(
                        Cell(
                            model,
                            kind,
                            row.optimizer,
                            mechanism(row.optimizer, torch.rule),
                            params,
                            case_of(torch.extra),
                            case_of(jax.extra),
                        )  # fmt: skip
                    )
    return found


def compile_cache(work: Path) -> dict[str, str]:
    """Environment that lets every process pair after the first load JAX's compiled steps
    from a cache in ``work`` instead of compiling them again (the same executables: the
    timing is the same; the startup of a pair, most of it XLA compiles, is not)."""
    return {
        "JAX_COMPILATION_CACHE_DIR": str(work / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def run_pairs(
    found: list[Cell],
    budget: float,
    pairs: int = DEFAULT_PAIRS,
    threads: int = 2,
    seed: int | None = None,
    log: Callable[[str], None] = print,
    stream=None,
) -> dict:
    """Time ``found`` interleaved in ``pairs`` fresh process pairs within about ``budget``
    seconds (at least MIN_PAIRED_ROUNDS round pairs each, past the budget if it is too
    short: the sweep before it is not thrown away); the run JSON's ``paired`` section
    (``records.bench_run`` documents it), with progress on ``stream`` (``build_pair`` says
    how the rounds are planned). A round is at least MIN_CALLS timed calls after MIN_WARMUP
    untimed ones, fewer than ``xbench ab``'s 10 and 2: those catch an injected cost paid
    every few calls of one side, while here both steps' periodic costs are part of what is
    compared, and the 10⁷-parameter steps (5–20 ms) would otherwise take most of the budget."""
    if pairs < 2:
        raise UsageError(f"--pairs {pairs}: at least 2 (the interval needs a spread)")
    if not found:
        raise UsageError("no optimizer × rule × size was timed in both frameworks")
    rng = random.Random(seed)
    wall = time.perf_counter()
    rounds: list[list[dict]] = [[] for _ in found]
    plan: Plan | None = None
    per_call: dict[str, float] = {}
    per_pair: list[int] = []  # round pairs of each process pair
    cases = {f: [getattr(c, f) for c in found] for f in FRAMEWORK_SIDES}
    with (
        scratch("paired") as work,
        Progress(pairs, "xbench bench: torch vs JAX, process pairs", stream=stream) as progress,
    ):
        side = prepare(sys.executable, "THIS", work, lambda _: None)
        sides = dict.fromkeys(FRAMEWORK_SIDES, side)
        for pair in range(pairs):
            item = f"pair {pair + 1}/{pairs}"
            progress.start(f"{item}: starting and building")
            pair_start = time.perf_counter()
            workers = start_pair(sides, threads, work, rng, env=compile_cache(work))
            with closing(workers):
                plan, per_call = build_pair(
                    workers, cases, pair, pair_start, plan, per_call,
                    budget - (pair_start - wall), pairs - pair, log,
                )  # fmt: skip
                for index in rng.sample(range(len(found)), len(found)):
                    keys = {f: getattr(found[index], f).id for f in sides}
                    progress.start(f"{item}: {keys['torch']} / {keys['jax']}")
                    times, first, _ = time_sides(workers, keys, plan, rng)
                    rounds[index].append({**times, "first": first})
                per_pair.append(plan.rounds)
            progress.done(item, f"{plan.rounds} round pairs of {len(found)} comparisons")
    settings = {"pairs": pairs, "rounds": per_pair, "time_budget": budget, "threads": threads,
                "seed": seed, "seconds": round(time.perf_counter() - wall, 1)}  # fmt: skip
    return section(found, plan, rounds, settings)


def build_pair(
    workers: dict,
    cases: dict[str, list[BenchCase]],
    pair: int,
    pair_start: float,
    plan: Plan | None,
    per_call: dict[str, float],
    budget_left: float,
    pairs_left: int,
    log: Callable[[str], None],
) -> tuple[Plan, dict[str, float]]:
    """Build the steps of process pair number ``pair`` (from 0), started at ``pair_start``;
    the plan of its rounds, and each step's seconds per call. The first pair measures each
    step and plans every pair's rounds; the second, whose JAX steps load from the cache the
    first compiled into, plans the rounds of the rest from how fast it started."""
    if pair == 0:
        per_call = {k: v for c in build_sides(workers, cases).values() for k, v in c.items()}
        startup = time.perf_counter() - pair_start
        plan = plan_rounds(per_call, startup, budget_left, pairs_left, **PLAN_ARGS)
        log(f"torch vs JAX: {len(cases['torch'])} comparisons × {pairs_left} process pairs × "
            f"{plan.rounds} round pairs (the first pair started in {startup:.0f} s, "
            "compiling)")  # fmt: skip
        return plan, per_call
    build_concurrently(workers, cases)
    if pair == 1:
        startup = time.perf_counter() - pair_start
        plan = plan_rounds(per_call, startup, budget_left, pairs_left, **PLAN_ARGS)
        log(f"torch vs JAX: later pairs start in {startup:.0f} s; {plan.rounds} round pairs "
            "each")  # fmt: skip
    return plan, per_call


def section(found: list[Cell], plan: Plan, rounds: list[list[dict]], settings: dict) -> dict:
    """The run JSON's ``paired`` section: the stage's settings and, per cell, what was
    compared and each process pair's rounds."""
    return {
        "settings": {
            **settings,
            "round_seconds": ROUND_SECONDS,
            "warmup_seconds": WARMUP_SECONDS,
            "min_calls": MIN_CALLS,
            "min_warmup": MIN_WARMUP,
            "longest_step": LONGEST_STEP,
        },
        "cells": [
            {
                "model": cell.model,
                "kind": cell.kind,
                "optimizer": cell.optimizer,
                "mechanism": cell.mechanism,
                "params": cell.params,
                "torch": cell.torch.id,
                "jax": cell.jax.id,
                "cases": {f: asdict(getattr(cell, f)) for f in FRAMEWORK_SIDES},
                "iterations": {f: plan.iterations[getattr(cell, f).id] for f in FRAMEWORK_SIDES},
                "warmup": {f: plan.warmup[getattr(cell, f).id] for f in FRAMEWORK_SIDES},
                "pairs": rounds[index],
            }
            for index, cell in enumerate(found)
        ],
    }
