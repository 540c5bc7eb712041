"""``xbench ab``: time two versions interleaved on one machine, in the same minutes.

Each side, BASE and NEW, is a git revision of this repository or a Python interpreter
(``xbench.run.sides``); both are timed by the interleaved engine (``xbench.run.interleave``:
the method), and the benchmarks it flags are measured again with fresh process pairs.
``xbench.analysis.paired`` turns the rounds into NEW/BASE with a 95% interval and a verdict.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from xbench.analysis.paired import benchmark_ratio, flagged, summaries, verdict
from xbench.errors import UsageError
from xbench.present.progress import Progress
from xbench.records.ab_run import AbBenchmark, AbRun, Version, now
from xbench.records.scratch import scratch
from xbench.run import interleave, machine, worker
from xbench.run.interleave import ROUND_SECONDS, WARMUP_SECONDS, Measured, Rules, check_pairs
from xbench.run.sides import Prepared, prepare
from xbench.workloads.benchmarks import BenchCase, gate_cases, sweep

RULES = Rules()  # at least 10 timed calls after 2 untimed per round, 10 round pairs per pair
DEFAULT_PAIRS = 6
DEFAULT_THRESHOLD = 0.005  # what it catches and what it flags by chance: docs/ab.md's proof
DEFAULT_BUDGET = 300.0
GATE_PAIRS, GATE_BUDGET = 8, 180.0  # the CI gate (--gate): measured in docs/ab.md
CONFIRM_PAIRS = 2  # × --pairs: the confirmation's fresh process pairs
CONFIRM_SHARE = 0.5  # of the time budget for the confirmation (it overruns rather than run
# fewer rounds per pair than the first measurement did)


@dataclass(frozen=True)
class AbRequest:
    base: str
    new: str
    quick: bool = False
    gate: bool = False
    select: str | None = None  # a pytest -k expression
    threshold: float = DEFAULT_THRESHOLD
    json: Path | None = None
    time_budget: float = DEFAULT_BUDGET
    pairs: int = DEFAULT_PAIRS
    threads: int = 2
    device: str = "cpu"
    seed: int | None = None
    confirm: bool = True

    def __post_init__(self) -> None:
        check_pairs(self.pairs)
        if self.time_budget <= 0:
            raise UsageError(f"--time-budget {self.time_budget}: must be positive")


# ----------------------------------------------------------------------------- selection


def keyword_matches(expression: str, names: list[str]) -> bool:
    """pytest's -k semantics (and/or/not over case-insensitive substrings of the names)."""
    from _pytest.mark.expression import Expression

    try:
        compiled = Expression.compile(expression)
    except SyntaxError as exc:  # pytest raises SyntaxError (ParseError in older releases)
        raise UsageError(f"-k {expression!r}: {exc}") from None
    lowered = [n.lower() for n in names]
    return compiled.evaluate(lambda word, **_: any(word.lower() in n for n in lowered))


def selected(request: AbRequest) -> list[BenchCase]:
    """The update and training steps ``request`` selects, as ``xbench bench`` would."""
    if request.gate and request.quick:
        raise UsageError("--gate and --quick are two selections; give one")
    if request.gate:
        cases = gate_cases(request.device)
    else:
        profile = "quick" if request.quick else "default"
        cases = [c for c in sweep(profile, request.device) if c.kind in ("update", "train")]
    if request.select:
        cases = [
            c for c in cases
            if keyword_matches(request.select, [f"test_{c.kind}[{c.id}]", "benchmarks.py"])
        ]  # fmt: skip
    if not cases:
        raise UsageError(f"no benchmark selected (-k {request.select!r})")
    return cases


def stderr_log(message: str) -> None:
    print(f"xbench ab: {message}", file=sys.stderr, flush=True)


def run_ab(request: AbRequest, log: Callable[[str], None] = stderr_log) -> AbRun:
    """Run ``request``; the record (saved to ``request.json`` only once complete).

    Benchmarks that the first measurement flags (regressed or improved) are measured again
    (``request.confirm``) in CONFIRM_PAIRS times as many fresh process pairs, with at least
    as many rounds each as the first measurement and CONFIRM_SHARE of its budget; the verdict
    stands only when the confirmation finds a difference in the same direction
    (``analysis.paired.benchmark_verdict``)."""
    cases = selected(request)
    started, wall = now(), time.perf_counter()
    rng = random.Random(request.seed)
    with scratch("ab") as work:
        sides = {
            "base": prepare(request.base, "BASE", work, log),
            "new": prepare(request.new, "NEW", work, log),
        }
        first = measure(request, cases, sides, request.time_budget, rng, work, log)
        run = record(request, sides, first, started)
        run.benchmarks = [AbBenchmark(c.id, asdict(c), first.rounds[i])
                          for i, c in enumerate(cases)]  # fmt: skip
        threshold = request.threshold
        again = [b for b in run.benchmarks if flagged(verdict(benchmark_ratio(b), threshold))]
        if request.confirm and again:
            log(f"confirming {len(again)} flagged benchmark(s) with fresh process pairs: "
                + ", ".join(b.id for b in again))  # fmt: skip
            chosen = [c for c in cases if c.id in {b.id for b in again}]
            second = measure(request, chosen, sides, request.time_budget * CONFIRM_SHARE, rng,
                             work, log, pairs=request.pairs * CONFIRM_PAIRS,
                             at_least=min(first.per_pair), what="confirmation")  # fmt: skip
            by_id = {b.id: b for b in again}
            for case, rounds in zip(chosen, second.rounds, strict=True):
                by_id[case.id].confirmation.extend(rounds)
            run.settings["confirmation"] = {
                "pairs": request.pairs * CONFIRM_PAIRS,
                "rounds": second.per_pair,
                "benchmarks": [b.id for b in again],
            }
    run.seconds = round(time.perf_counter() - wall, 1)
    if request.json:
        run.save(request.json, summaries(run))
    return run


def measure(
    request: AbRequest,
    cases: list[BenchCase],
    sides: dict[str, Prepared],
    budget: float,
    rng: random.Random,
    work: Path,
    log: Callable[[str], None],
    pairs: int | None = None,
    at_least: int | None = None,
    what: str = "measurement",
    stream=None,
) -> Measured:
    """``cases`` timed on both sides by the interleaved engine in ``pairs`` (default
    ``request.pairs``) fresh process pairs within ``budget`` (or ``at_least`` that many round
    pairs each, past it); progress of ``what`` goes to ``stream`` (default standard error)."""
    pairs = pairs or request.pairs
    with Progress(pairs, f"xbench ab: {what}, process pairs", stream=stream) as progress:
        return interleave.measure(
            sides, [dict.fromkeys(sides, c) for c in cases], pairs, budget, progress, log,
            threads=request.threads, rng=rng, logs=work, rules=RULES, at_least=at_least,
            check=lambda workers: worker.require_frameworks(workers, cases),
        )  # fmt: skip


def record(request: AbRequest, sides: dict, first: Measured, started: str) -> AbRun:
    """The record of a finished run, its benchmarks still to add."""
    settles = first.settles
    versions = {
        name: Version(p.spec, p.kind, p.commit, p.python, first.hellos[name]["versions"],
                      p.source)
        for name, p in sides.items()
    }  # fmt: skip
    return AbRun(
        datetime=started,
        seconds=0.0,
        machine={
            "cpu_model": machine.cpu_model(),
            "memory_bytes": machine.memory_bytes(),
            "device": request.device,
        },
        settings={
            "threshold": request.threshold,
            "pairs": request.pairs,
            "rounds": first.per_pair,
            "time_budget": request.time_budget,
            "round_seconds": ROUND_SECONDS,
            "warmup_seconds": WARMUP_SECONDS,
            "threads": request.threads,
            "seed": request.seed,
            "min_calls": RULES.min_calls,
            "settle_median_seconds": sorted(settles)[len(settles) // 2] if settles else None,
            "selection": {"quick": request.quick, "gate": request.gate, "k": request.select},
        },
        base=versions["base"],
        new=versions["new"],
        benchmarks=[],
    )
