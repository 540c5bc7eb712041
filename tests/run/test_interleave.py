"""The interleaved engine (xbench.run.interleave): rounds planned to fit the budget, and an
environment padding drawn per worker. The timing itself is proven by measurement
(results/ab/proof, docs/ab.md), never by a timed unit test."""

import time

import pytest

from xbench.errors import UsageError
from xbench.run.interleave import Rules, plan_rounds
from xbench.run.worker import Worker

MIN_CALLS, MIN_ROUNDS = Rules().min_calls, Rules().min_rounds


def test_rounds_fill_the_budget_or_the_budget_is_refused():
    plan = plan_rounds({"a": 1e-4, "b": 2e-3}, startup=10.0, budget=200.0, pairs=8)
    assert plan.rounds >= MIN_ROUNDS
    # ~5 ms per round, and at least MIN_CALLS calls: a cost paid every few calls shows in each
    assert plan.iterations == {"a": 50, "b": MIN_CALLS}
    assert plan.warmup["a"] == 20 and plan.warmup["b"] >= 2
    with pytest.raises(UsageError, match="too short"):
        plan_rounds({"a": 1e-4}, startup=30.0, budget=100.0, pairs=8)
    # a confirmation never fails the run: it overruns the budget with as many rounds as asked
    assert plan_rounds({"a": 1e-4}, 30.0, 100.0, 8, at_least=25).rounds == 25
    assert plan_rounds({"a": 1e-4}, 30.0, 100.0, 8, at_least=1).rounds == MIN_ROUNDS
    assert plan_rounds({"a": 1e-4}, 1.0, 100.0, 8, at_least=25).rounds > 25  # budget allows


def test_each_worker_gets_an_environment_padding_of_its_own(tmp_path, monkeypatch):
    """The padding is drawn per worker from the run's seed (a layout bias of one side becomes
    spread between process pairs): different between workers, the same for the same seed."""
    import random

    from xbench.run import worker as ab
    from xbench.run.sides import Prepared

    seen = []

    class Popen:
        def __init__(self, argv, env, **kwargs):
            seen.append(len(env["XBENCH_PADDING"]))

    monkeypatch.setattr(ab.subprocess, "Popen", Popen)
    monkeypatch.setattr(ab, "greet", lambda workers, sides: None)
    side = Prepared("HEAD", "revision", "0" * 40, "python", tmp_path)
    for seed in (1, 1, 2):
        rng = random.Random(seed)
        for _ in range(3):
            ab.start_pair({"base": side, "new": side}, 2, tmp_path, rng)
    first, again, other = seen[:6], seen[6:12], seen[12:]
    assert first == again and first != other
    assert len(set(first)) == 6 and all(0 <= n < ab.PAD_MAX for n in seen)


class Builds(Worker):
    """A worker that answers builds at once (no process)."""

    def __init__(self):  # no process
        self.pending = []

    def send(self, request):
        self.pending.append(request)

    def reply(self):
        return {"key": self.pending.pop(0)["key"], "seconds_per_call": 1e-4}


def test_the_second_pair_plans_more_rounds_but_never_fewer():
    """The second pair's startup plans the rest again: a quick start and budget left give
    more round pairs; a budget already spent keeps the first plan's, not the minimum."""
    from xbench.run.interleave import Plan, build
    from xbench.workloads.benchmarks import gate_cases

    case = gate_cases()[0]
    first = Plan(rounds=40, iterations={case.id: 50}, warmup={case.id: 20})
    per_call = {case.id: 1e-4}

    def second(budget_left):
        workers = {"base": Builds(), "new": Builds()}
        comparisons = [dict.fromkeys(workers, case)]
        return build(workers, comparisons, 1, first, per_call, budget_left, Rules(), None,
                     lambda _: None, time.perf_counter())  # fmt: skip

    assert second((1000.0, 7)).rounds > 40  # time left: more rounds each
    assert second((0.0, 7)).rounds == 40  # none left: the first plan's, not MIN_ROUNDS (10)
