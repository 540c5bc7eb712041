"""Interleaved timing: two sides' worker processes, their rounds strictly alternating.

The engine under ``xbench ab`` (two versions of xbench: BASE and NEW), and so ``xbench
compare``'s timing, and under ``xbench bench``'s torch-vs-JAX stage (one version, a torch and
a JAX step). docs/ab.md describes the method (process pairs, strictly alternating round
pairs, the settle after each round, rounds planned from the budget after the first pair and
again after the second) and the measurements behind each choice. ``xbench.analysis.paired``
turns the rounds into a ratio with a 95% interval and a verdict.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from xbench.errors import UsageError
from xbench.run.sides import Prepared
from xbench.run.worker import Worker, WorkerFailed, closing, greet, start_pair
from xbench.workloads.benchmarks import BenchCase

ROUND_SECONDS = 0.005  # timed part of a round
WARMUP_SECONDS = 0.002  # untimed calls just before it
PER_CALL_SECONDS = 0.02  # the quiet round that sizes a benchmark's rounds (build_sides)
MAX_ROUNDS = 400
MIN_PAIRS = 2  # the interval needs a spread between process pairs


@dataclass(frozen=True)
class Rules:
    """What each round and each process pair holds at least: ``min_calls`` timed calls
    after ``min_warmup`` untimed ones per round, ``min_rounds`` round pairs per process pair.
    ``runs_per_key``: rounds of each benchmark per round pair, 2 when both sides time the
    same one (``xbench ab``), 1 when each times its own (torch against JAX)."""

    min_calls: int = 10  # a cost paid every few calls shows in each round
    min_warmup: int = 2
    min_rounds: int = 10
    runs_per_key: int = 2


@dataclass(frozen=True)
class Rounds:
    """One process pair's rounds of one comparison: each side's seconds per call, one per
    round, in run order; ``first``: per round pair, the side that ran first; each side's
    timed and untimed calls per round."""

    seconds: dict[str, list[float]]
    first: tuple[str, ...]
    iterations: dict[str, int]
    warmup: dict[str, int]

    def prefix(self, count: int) -> Rounds:
        """The first ``count`` round pairs alone: what a shorter run would have timed."""
        seconds = {name: times[:count] for name, times in self.seconds.items()}
        return Rounds(seconds, self.first[:count], self.iterations, self.warmup)

    @property
    def letters(self) -> str:
        """``first`` as recorded: each side's initial (``bnnb``, ``tjjt``)."""
        return "".join(name[0] for name in self.first)

    @classmethod
    def recorded(cls, seconds: dict[str, list], letters: str, iterations=None, warmup=None):
        """From a record: ``letters`` as ``letters`` writes them (empty: the first side of
        ``seconds`` ran first throughout); a ValueError when they do not match the rounds."""
        seconds = {name: [float(t) for t in times] for name, times in seconds.items()}
        names = {name[0]: name for name in seconds}
        counts = {len(times) for times in seconds.values()}
        letters = letters or next(iter(names)) * min(counts)
        if len(counts) != 1 or len(letters) not in counts or not all(counts):
            raise ValueError(f"a process pair needs as many rounds of each side ({counts}) "
                             f"as round pairs ({len(letters)})")  # fmt: skip
        if set(letters) - set(names) or len(names) != len(seconds):
            raise ValueError(f"round order {letters!r} must be one of {''.join(names)} per "
                             "round pair")  # fmt: skip
        if min(min(times) for times in seconds.values()) <= 0:
            raise ValueError("round times must be positive")
        return cls(seconds, tuple(names[c] for c in letters), iterations or {}, warmup or {})


class Reporter(Protocol):
    """Where the loop says what it does (``xbench.present.progress.Progress`` is one)."""

    def start(self, item: str) -> None: ...
    def done(self, item: str, note: str = "") -> None: ...


def check_pairs(pairs: int) -> None:
    if pairs < MIN_PAIRS:
        raise UsageError(f"--pairs {pairs}: at least {MIN_PAIRS} (the interval needs a spread)")


# ----------------------------------------------------------------------------- plan


@dataclass
class Plan:
    """Rounds per benchmark per pair, and each benchmark's calls per round."""

    rounds: int
    iterations: dict[str, int] = field(default_factory=dict)
    warmup: dict[str, int] = field(default_factory=dict)


def plan_rounds(
    seconds_per_call: dict[str, float],
    startup: float,
    budget: float,
    pairs: int,
    at_least: int | None = None,
    rules: Rules = Rules(),
) -> Plan:
    """Size the rounds so ``pairs`` pairs fit ``budget`` seconds, each pair costing
    ``startup`` (start and build) plus its round pairs. Too short a budget for
    ``rules.min_rounds`` is a UsageError, unless ``at_least`` is given (a pair after the
    first, or a confirmation: neither may fail the run once it has measured): then at least
    that many, past the budget."""
    plan = Plan(rounds=0)
    min_rounds = rules.min_rounds
    cost = 0.0  # seconds of one round pair of every benchmark
    for key, per_call in seconds_per_call.items():
        per_call = max(per_call, 1e-7)
        plan.iterations[key] = max(rules.min_calls, math.ceil(ROUND_SECONDS / per_call))
        plan.warmup[key] = max(rules.min_warmup, math.ceil(WARMUP_SECONDS / per_call))
        calls = plan.iterations[key] + plan.warmup[key]
        cost += rules.runs_per_key * (calls * per_call + 0.006)  # + settle and request: ~6 ms
    per_pair = budget / pairs - startup
    rounds = int(per_pair / cost) if per_pair > 0 else 0
    if at_least is not None:
        rounds = max(rounds, at_least, min_rounds)
    if rounds < min_rounds:
        need = pairs * (startup + min_rounds * cost)
        raise UsageError(
            f"--time-budget {budget:.0f} s is too short for {len(seconds_per_call)} benchmarks "
            f"in {pairs} process pairs (each pair starts in about {startup:.0f} s); give at "
            f"least {math.ceil(need)} s, fewer --pairs, or select fewer benchmarks"
        )
    plan.rounds = min(MAX_ROUNDS, rounds)
    return plan


def build_sides(
    workers: dict[str, Worker], cases: dict[str, list[BenchCase]]
) -> dict[str, dict[str, float]]:
    """Build each side's ``cases`` in its worker, both workers at once (on two cores, half the
    startup); per side, seconds per call per case id. A build's own figure, taken beside the
    other worker's build, is only a first guess: each worker measures every case again in one
    quiet round, the other worker settled first (measured beside its spinning threads, an
    80 µs step read 1 ms and its rounds came out ten times too short)."""
    guess: dict[str, dict[str, float]] = {name: {} for name in workers}
    for step in range(max(len(side_cases) for side_cases in cases.values())):
        asked = {name: cases[name][step] for name in workers if step < len(cases[name])}
        for name, case in asked.items():
            workers[name].build(case)
        for name, case in asked.items():
            try:
                guess[name][case.id] = workers[name].built()
            except WorkerFailed as exc:
                raise WorkerFailed(f"{case.id}: {exc}") from None
    per_call: dict[str, dict[str, float]] = {name: {} for name in workers}
    for step in range(max(len(side_cases) for side_cases in cases.values())):
        asked = {name: cases[name][step] for name in workers if step < len(cases[name])}
        for name in random.sample(list(asked), len(asked)):
            for other in workers.values():
                other.settle()
            key = asked[name].id
            best = min(g[key] for g in guess.values() if key in g)  # the least disturbed
            iterations = max(3, math.ceil(PER_CALL_SECONDS / max(best, 1e-7)))
            per_call[name][key] = workers[name].round(key, 3, iterations)
    return per_call


def build_concurrently(
    workers: dict[str, Worker], cases: dict[str, list[BenchCase]], window: int = 8
) -> None:
    """Build each side's ``cases`` in its worker, each worker at its own pace: up to
    ``window`` requests wait in each, so a side with quick builds never waits for the
    other's slow ones (``build_sides`` goes in step, to measure; a pair whose rounds are
    already planned needs only the builds)."""
    sent = dict.fromkeys(workers, 0)
    done = dict.fromkeys(workers, 0)

    def top_up(name: str) -> None:
        while sent[name] < len(cases[name]) and sent[name] - done[name] < window:
            case = cases[name][sent[name]]
            workers[name].build(case)
            sent[name] += 1

    for name in workers:
        top_up(name)
    while any(done[name] < len(cases[name]) for name in workers):
        for name in workers:
            if done[name] < sent[name]:
                try:
                    workers[name].built()
                except WorkerFailed as exc:
                    raise WorkerFailed(f"{cases[name][done[name]].id}: {exc}") from None
                done[name] += 1
                top_up(name)


def time_sides(
    workers: dict[str, Worker], keys: dict[str, str], plan: Plan, rng: random.Random
) -> tuple[dict[str, list[float]], tuple[str, ...], list[float]]:
    """``plan.rounds`` round pairs, each side timing its own ``keys[side]``, the sides strictly
    alternating (a random one starts; docs/ab.md: why). Per side its seconds per call, one per
    round; which side ran first in each round pair; and the settle waits."""
    times: dict[str, list[float]] = {name: [] for name in workers}
    settles = []
    names = list(workers)
    rng.shuffle(names)
    for _ in range(plan.rounds):
        for name in names:
            key = keys[name]
            times[name].append(workers[name].round(key, plan.warmup[key], plan.iterations[key]))
            settles.append(workers[name].settle())
    return times, (names[0],) * plan.rounds, settles


# ----------------------------------------------------------------------------- the loop


@dataclass
class Measured:
    rounds: list[list[Rounds]]  # per comparison, one per process pair
    plan: Plan  # the first pair's
    per_pair: list[int]  # round pairs of each process pair
    settles: list[float]
    hellos: dict[str, dict]


def measure(
    sides: dict[str, Prepared],
    comparisons: list[dict[str, BenchCase]],
    pairs: int,
    budget: float,
    progress: Reporter,
    log: Callable[[str], None],
    threads: int = 2,
    rng: random.Random | None = None,
    logs: Path = Path("."),
    rules: Rules = Rules(),
    at_least: int | None = None,
    env: dict[str, str] | None = None,
    check: Callable[[dict[str, Worker]], None] | None = None,
) -> Measured:
    """``pairs`` fresh process pairs, each building every comparison (``comparisons[i][side]``
    is the benchmark that ``side`` times) and timing each, in random order, in interleaved
    round pairs sized to fit ``budget`` seconds (``plan``). ``at_least``: that many round pairs
    per process pair, past the budget (a confirmation, which must not fail after the first
    measurement). ``check`` sees the first pair's workers before anything is built; ``env``
    adds to the workers' environment; each worker's standard error is kept under ``logs``."""
    check_pairs(pairs)
    rng = rng or random.Random()
    wall = time.perf_counter()
    rounds: list[list[Rounds]] = [[] for _ in comparisons]
    first = plan = None
    per_call: dict[str, float] = {}
    per_pair, settles, hellos = [], [], {}
    for pair in range(pairs):
        item = f"pair {pair + 1}/{pairs}"
        progress.start(f"{item}: starting and building")
        pair_start = time.perf_counter()
        workers = start_pair(sides, threads, logs, rng, env)
        with closing(workers):
            greet(workers, sides)
            if check and pair == 0:
                check(workers)
            budget_left = (budget - (pair_start - wall), pairs - pair)
            plan = build(workers, comparisons, pair, plan, per_call, budget_left,
                         rules, at_least, log, pair_start)  # fmt: skip
            first = first or plan
            for index in rng.sample(range(len(comparisons)), len(comparisons)):
                keys = {name: comparisons[index][name].id for name in sides}
                progress.start(f"{item}: {' / '.join(dict.fromkeys(keys.values()))}")
                times, order, settled = time_sides(workers, keys, plan, rng)
                calls = ({n: getattr(plan, f)[k] for n, k in keys.items()}
                         for f in ("iterations", "warmup"))  # fmt: skip
                rounds[index].append(Rounds(times, order, *calls))
                settles += settled
            hellos = {name: w.hello for name, w in workers.items()}
        per_pair.append(plan.rounds)
        plural = "s" * (len(comparisons) != 1)
        progress.done(item, f"{plan.rounds} round pairs of {len(comparisons)} comparison{plural}")
    return Measured(rounds, first, per_pair, settles, hellos)


def build(
    workers: dict[str, Worker],
    comparisons: list[dict[str, BenchCase]],
    pair: int,
    plan: Plan | None,
    per_call: dict[str, float],
    budget_left: tuple[float, int],
    rules: Rules,
    at_least: int | None,
    log: Callable[[str], None],
    pair_start: float,
) -> Plan:
    """Build process pair number ``pair`` (from 0), started at ``pair_start``; the plan of
    its rounds. The first pair builds in step and measures each benchmark's seconds per call
    (into ``per_call``), then plans every pair from its startup; later pairs build at their
    own pace, and the second plans the rest again from its own startup and ``budget_left``
    (seconds and process pairs left): more rounds each where later pairs start faster (JAX's
    compile cache), never fewer than the first plan's (what the gate's proof measured)."""
    cases = {name: [c[name] for c in comparisons] for name in workers}
    if pair == 0:
        for found in build_sides(workers, cases).values():
            for key, seconds in found.items():  # the least disturbed side's
                per_call[key] = min(seconds, per_call.get(key, math.inf))
    else:
        build_concurrently(workers, cases)
    if pair > 1:
        return plan
    startup = time.perf_counter() - pair_start
    if pair == 1:  # more rounds where later pairs start faster, never fewer than planned
        at_least = max(at_least or 0, plan.rounds)
    plan = plan_rounds(per_call, startup, *budget_left, at_least, rules)
    if pair == 0:
        log(f"{len(comparisons)} comparisons × {budget_left[1]} process pairs × {plan.rounds} "
            f"round pairs (the first pair started in {startup:.0f} s)")  # fmt: skip
    else:
        log(f"later pairs start in {startup:.0f} s; {plan.rounds} round pairs each")
    return plan
