"""torch against JAX inside ``xbench bench``: each cross-framework comparison timed interleaved.

After the sweep, for every model × optimizer × decay mechanism × size timed in both
frameworks, the fastest implementation of each (by the sweep's medians) is timed again, torch
and JAX interleaved round by round by the engine ``xbench ab`` uses (``xbench.run.interleave``):
one worker process builds the torch steps, the other the JAX steps, in ``pairs`` fresh process
pairs; docs/bench.md says why, and why torch.compile'd steps are left out of the choice.
``analysis.paired.framework_ratio`` turns a cell's rounds into torch/JAX with a 95% interval.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xbench.analysis.grouping import by_model, framework_ratios
from xbench.errors import UsageError
from xbench.present.progress import Progress
from xbench.records.bench_run import Result, case_of, paired_section
from xbench.records.scratch import scratch
from xbench.run import compile_cache, interleave
from xbench.run.interleave import ROUND_SECONDS, WARMUP_SECONDS, Rules
from xbench.run.sides import this_interpreter
from xbench.workloads.benchmarks import PAIRED_FROM, BenchCase
from xbench.workloads.cases import mechanism

DEFAULT_PAIRS = 9  # the 20%-trimmed mean keeps 7 of 9 (6 degrees of freedom; 4 of 6: 3)
SLOW_TO_BUILD = {("torch", "compiled")}
LONGEST_STEP = 0.05  # seconds: a comparison with a slower step stays unpaired (see ``cells``)
# per round at least 5 timed calls after 1 untimed; 5 round pairs per process pair; each
# side times its own step (xbench ab: 10, 2 and 10; see ``run_pairs``)
RULES = Rules(min_calls=5, min_warmup=1, min_rounds=5, runs_per_key=1)
FRAMEWORK_SIDES = ("torch", "jax")


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
    implementation of each (torch.compile'd steps left out: SLOW_TO_BUILD). Left out too,
    their ratio staying the unpaired one (docs/bench.md: why), are comparisons whose slower
    step took over LONGEST_STEP in the sweep (the training steps at 10⁷ parameters take
    0.1–0.2 s) and those below PAIRED_FROM parameters."""
    eligible = [r for r in results if (r.framework, r.implementation) not in SLOW_TO_BUILD]
    found = []
    for kind in ("update", "train"):
        for model, group in by_model(eligible, kind).items():
            for row in framework_ratios(group):
                for params, (torch, jax) in row.fastest.items():
                    if params < PAIRED_FROM or max(torch.median, jax.median) > LONGEST_STEP:
                        continue
                    decay = mechanism(row.optimizer, torch.rule)
                    found.append(Cell(model, kind, row.optimizer, decay, params,
                                      case_of(torch.extra), case_of(jax.extra)))  # fmt: skip
    return found


def jax_cache(work: Path) -> dict[str, str]:
    """Environment that lets every process pair after the first load JAX's compiled steps
    from a cache in ``work`` instead of compiling them again (the same executables: the
    timing is the same; the startup of a pair, most of it XLA compiles, is not)."""
    return compile_cache.settings(work / "jax-cache", locked=compile_cache.lockable())


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
    seconds (at least RULES.min_rounds round pairs each, past the budget if it is too
    short: the sweep before it is not thrown away); the run JSON's ``paired`` section
    (``records.bench_run`` documents it), with progress on ``stream``. A round is at least
    RULES.min_calls timed calls after RULES.min_warmup untimed ones, fewer than ``xbench
    ab``'s 10 and 2: those catch an injected cost paid every few calls of one side, while
    here both steps' periodic costs are part of what is compared, and the 10⁷-parameter
    steps (5–20 ms) would otherwise take most of the budget. Every process pair after the
    first loads JAX's compiled steps from a cache the first fills (``compile_cache``)."""
    interleave.check_pairs(pairs)
    if not found:
        raise UsageError("no optimizer × rule × size was timed in both frameworks")
    wall = time.perf_counter()
    comparisons = [{f: getattr(cell, f) for f in FRAMEWORK_SIDES} for cell in found]
    with (
        scratch("paired") as work,
        Progress(pairs, "xbench bench: torch vs JAX, process pairs", stream=stream) as progress,
    ):
        sides = dict.fromkeys(FRAMEWORK_SIDES, this_interpreter(work))
        measured = interleave.measure(
            sides, comparisons, pairs, budget, progress, lambda m: log(f"torch vs JAX: {m}"),
            threads=threads, rng=random.Random(seed), logs=work, rules=RULES,
            at_least=RULES.min_rounds, env=jax_cache(work),
        )  # fmt: skip
    settings = {"pairs": pairs, "rounds": measured.per_pair, "time_budget": budget,
                "threads": threads, "seed": seed,
                "seconds": round(time.perf_counter() - wall, 1)}  # fmt: skip
    settings |= {"round_seconds": ROUND_SECONDS, "warmup_seconds": WARMUP_SECONDS,
                 "min_calls": RULES.min_calls, "min_warmup": RULES.min_warmup,
                 "longest_step": LONGEST_STEP}  # fmt: skip
    return paired_section(found, measured.rounds, settings)
