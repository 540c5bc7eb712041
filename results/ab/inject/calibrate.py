"""How much slower the injection (sitecustomize.py) makes each torch AdamW benchmark of the
gate, measured within one process: not part of xbench.

"One extra step in ten calls" is a known amount of *work*, not a known amount of *time*: an
extra step run straight after the step finds its threads awake and its data in cache, so it
costs less than a step does. This script measures the time it adds, so the proof's injected
levels are slowdowns of the timed call and not only of the work. One process builds each
benchmark and alternates rounds with the injection off and on (``sitecustomize.ACTIVE``),
the same rounds as ``xbench ab`` (a few untimed calls, then about 5 ms and at least 10
calls timed); both states
share the process, so no process bias enters the difference. Each round is compared with its
neighbours of the other state by ``xbench ab``'s own ``round_log_ratios``.

Usage (from the checkout, on a quiet machine; about a minute per benchmark):

    XBENCH_INJECT="fused=15,foreach=8,forloop=5" results/ab/inject/python \
        results/ab/inject/calibrate.py [--rounds 400] [--json results/ab/inject/calibration.json]
"""

import argparse
import json
import math
import os
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

import sitecustomize

from xbench.analysis.paired import round_log_ratios
from xbench.jobs.ab import RULES
from xbench.run.interleave import ROUND_SECONDS, WARMUP_SECONDS, Rounds
from xbench.run.threads import available_cpus, set_threads
from xbench.run.timing import bare_seconds_per_call, build, seconds_per_call
from xbench.workloads.benchmarks import gate_cases


def timed_round(call, warmup: int, iterations: int) -> float:
    """A round as a worker times it: ``warmup`` untimed calls, then ``iterations`` timed."""
    for _ in range(warmup):
        call()
    return bare_seconds_per_call(call, iterations)


def calibrate(case, rounds: int) -> dict:
    call = build(case).call
    per_call = seconds_per_call(call)
    iterations = max(RULES.min_calls, math.ceil(ROUND_SECONDS / per_call))
    warmup = max(RULES.min_warmup, math.ceil(WARMUP_SECONDS / per_call))
    off, on = [], []
    for _ in range(rounds):
        sitecustomize.ACTIVE = False
        off.append(timed_round(call, warmup, iterations))
        sitecustomize.ACTIVE = True
        on.append(timed_round(call, warmup, iterations))
    recorded = Rounds({"off": off, "on": on}, ("off",) * rounds, {}, {})  # off ran first
    logs = sorted(round_log_ratios(recorded, "off", "on"))
    quarter = len(logs) // 4
    return {
        "id": case.id,
        "case": asdict(case),
        "injected_work": sitecustomize.levels().get(case.implementation, 0.0),
        "slowdown": math.exp(statistics.median(logs)) - 1,
        "slowdown_iqr": [math.exp(logs[quarter]) - 1, math.exp(logs[-quarter - 1]) - 1],
        "round_pairs": rounds,
        "iterations": iterations,
        "off_median_seconds": statistics.median(off),
        "on_median_seconds": statistics.median(on),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not sitecustomize.levels():
        sys.exit("calibrate.py: run it with results/ab/inject/python (XBENCH_INJECT unset?)")
    if args.json and args.json.exists():
        sys.exit(f"calibrate.py: {args.json} exists; give another path")
    set_threads(int(os.environ.get("XBENCH_THREADS") or 0) or available_cpus())
    levels = sitecustomize.levels()
    cases = [
        c for c in gate_cases()
        if c.framework == "torch" and c.kind == "update" and c.implementation in levels
    ]  # fmt: skip
    found = []
    for case in cases:
        found.append(calibrate(case, args.rounds))
        r = found[-1]
        print(f"{r['id']:50s} work +{r['injected_work']:.0%}  time +{r['slowdown']:.1%} "
              f"(IQR of rounds {r['slowdown_iqr'][0]:+.1%} … {r['slowdown_iqr'][1]:+.1%})",
              flush=True)  # fmt: skip
    if args.json:
        text = json.dumps({"inject": os.environ["XBENCH_INJECT"], "benchmarks": found}, indent=1)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
