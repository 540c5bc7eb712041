"""torch against JAX timed interleaved in `xbench bench` (xbench.jobs.bench_interleaved): a known
ratio is recovered with an interval that covers it, an unresolved cell says so, the run's
``paired`` section round-trips and is validated, and a small stage runs end to end."""

import dataclasses
import io
import json
import math
import random
import re

import numpy as np
import pytest

from tests.helpers import SECONDS, bench, run_cli, synthetic_pair, write_run
from xbench.analysis.grouping import machines
from xbench.analysis.paired import framework_ratio
from xbench.errors import UsageError
from xbench.jobs.bench_interleaved import LONGEST_STEP, SLOW_TO_BUILD, cells, run_pairs
from xbench.present.results_md import framework_ratio_rows, precision_note
from xbench.present.units import ratio_resolved
from xbench.records.bench_run import PairedCell
from xbench.records.bench_run import load as load_run
from xbench.run.interleave import Rounds
from xbench.run.worker import Worker
from xbench.workloads.benchmarks import PAIRED_FROM

TORCH_ID = "update-adamw-weight_decay-torch-fused-1e6-one"
JAX_ID = "update-adamw-weight_decay-jax-jit_donate-1e6-one"


def synthetic_cell(rng, ratio, pairs=8, bias=0.0):
    """A cell whose torch step takes ``ratio`` × JAX's (torch plays NEW), each process pair
    with a process bias drawn around ``bias``."""
    found = []
    for k in range(pairs):
        pair = synthetic_pair(rng, ratio, bias=rng.normal(0, bias) if bias else 0.0,
                              order=("base", "new")[k % 2])  # fmt: skip
        names = {"base": "jax", "new": "torch"}
        seconds = {names[side]: times for side, times in pair.seconds.items()}
        found.append(Rounds(seconds, tuple(names[f] for f in pair.first), {}, {}))
    return PairedCell("vectors1", "update", "adamw", "decoupled decay", 10**6, TORCH_ID, JAX_ID,
                      tuple(found))  # fmt: skip


@pytest.mark.parametrize("truth", [0.62, 1.0, 1.3])
def test_a_known_ratio_is_recovered_and_covered(truth):
    ratio = framework_ratio(synthetic_cell(np.random.default_rng(7), truth))
    assert ratio.contains(truth), ratio
    assert abs(math.log(ratio.estimate / truth)) < 0.03


def test_the_interval_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    covered = sum(framework_ratio(synthetic_cell(rng, 0.7, bias=0.03)).contains(0.7)
                  for _ in range(200))  # fmt: skip
    assert 0.90 <= covered / 200 <= 0.99


def test_which_side_ran_first_is_read_right():
    """The machine slows by 1% per round, torch's rounds running first in every pair: read in
    that order, each round sits between two of the other side and the drift cancels; read
    with the first letters swapped, every round is compared with neighbours that ran earlier
    or later than it, and the ratio is biased by about 2%."""
    rng = np.random.default_rng(2)
    drifting = []
    for _ in range(8):
        torch, jax = [], []
        for k in range(40):
            torch.append(0.8 * SECONDS * math.exp(0.01 * 2 * k + rng.normal(0, 0.002)))
            jax.append(SECONDS * math.exp(0.01 * (2 * k + 1) + rng.normal(0, 0.002)))
        drifting.append(Rounds({"torch": torch, "jax": jax}, ("torch",) * 40, {}, {}))
    right = framework_ratio(with_pairs(synthetic_cell(rng, 0.8), drifting))
    assert right.contains(0.8) and right.high / right.low < 1.01
    swapped = [dataclasses.replace(p, first=("jax",) * 40) for p in drifting]
    wrong = framework_ratio(with_pairs(synthetic_cell(rng, 0.8), swapped))
    assert not wrong.contains(0.8)
    assert abs(math.log(wrong.estimate / 0.8)) == pytest.approx(0.02, rel=0.2)


def with_pairs(cell: PairedCell, pairs: list) -> PairedCell:
    return dataclasses.replace(cell, pairs=tuple(pairs))


def test_a_cell_whose_interval_contains_1_reads_unresolved():
    rng = np.random.default_rng(3)
    same = framework_ratio(synthetic_cell(rng, 1.0, bias=0.05))
    assert same.contains(1.0) and ratio_resolved(same).startswith("no difference resolved: ")
    faster = framework_ratio(synthetic_cell(rng, 0.6))
    assert not faster.contains(1.0)
    assert ratio_resolved(faster) == f"{faster.estimate:.2f} [{faster.low:.2f}, {faster.high:.2f}]"


def two_framework_run(folder, paired=None):
    path = write_run(folder, "20261121T100000Z_default_abcdef0.json", [
        bench(impl="fused", median=1e-3), bench(impl="compiled", median=5e-4),
        bench(framework="jax", impl="jit_donate", median=2e-3),
        bench(framework="jax", impl="jit", median=3e-3),
    ])  # fmt: skip
    if paired is not None:
        doc = json.loads(path.read_text())
        doc["paired"] = paired
        path.write_text(json.dumps(doc))
    return path


def section(cell: PairedCell, **changes) -> dict:
    entry = {
        "model": cell.model, "kind": cell.kind, "optimizer": cell.optimizer,
        "mechanism": cell.mechanism, "params": cell.params, "torch": cell.torch,
        "jax": cell.jax,
        "pairs": [{**p.seconds, "first": p.letters} for p in cell.pairs],
    }  # fmt: skip
    entry.update(changes)
    settings = {"pairs": len(cell.pairs), "rounds": [40] * len(cell.pairs), "longest_step": 0.05}
    return {"settings": settings, "cells": [entry]}


def test_the_comparison_takes_the_fastest_of_each_framework_but_never_a_compiled_step(tmp_path):
    run = load_run(two_framework_run(tmp_path / "box"))
    (cell,) = cells(list(run.results))
    assert cell.torch.implementation == "fused"  # compiled is faster but takes minutes to build
    assert cell.jax.implementation == "jit_donate"
    assert ("torch", "compiled") in SLOW_TO_BUILD
    assert cell.mechanism == "decoupled decay" and cell.params == 10**6


def test_tiny_and_slow_steps_stay_unpaired(tmp_path):
    """Below PAIRED_FROM parameters, or over LONGEST_STEP a step, a comparison is not timed
    again; at the edges it is."""
    path = write_run(tmp_path / "box", "20261121T100000Z_default_abcdef0.json", [
        bench(params=10**3, median=2e-5), bench(framework="jax", impl="jit", params=10**3),
        bench(params=10**4, median=1e-4), bench(framework="jax", impl="jit", params=10**4),
        bench(params=10**5, median=LONGEST_STEP),
        bench(framework="jax", impl="jit", params=10**5, median=LONGEST_STEP),
        bench(params=10**6, median=1.01 * LONGEST_STEP),
        bench(framework="jax", impl="jit", params=10**6, median=1e-3),
    ])  # fmt: skip
    assert PAIRED_FROM == 10**4
    assert [c.params for c in cells(list(load_run(path).results))] == [10**4, 10**5]


def test_the_paired_section_round_trips_and_fills_the_ratio_table(tmp_path):
    cell = synthetic_cell(np.random.default_rng(5), 0.5)
    run = load_run(two_framework_run(tmp_path / "box", section(cell)))
    assert run.paired == (cell,) and run.paired_settings["rounds"] == [40] * len(cell.pairs)
    (machine,) = machines([run], [])
    rows, _ = framework_ratio_rows(list(machine.results), machine.paired)
    ratio = framework_ratio(cell)
    assert rows[0][-1] == (
        f"{ratio.estimate:.2f} [{ratio.low:.2f}, {ratio.high:.2f}] (fused / jit_donate)"
    )
    rows, _ = framework_ratio_rows(list(machine.results))  # without the stage: marked
    assert rows[0][-1] == "0.25 unpaired (compiled / jit_donate)"  # the sweep's fastest
    ratio_of = framework_ratio(cell)
    precise = ratio_of.half_width <= 0.05
    note = precision_note(list(machine.results), machine.paired)
    assert note == (f" At 1e4 parameters and above, {int(precise)} of the 1 paired intervals "
                    "are within ±5% and 1 exclude 1.")  # fmt: skip
    # Perturbed: a noisier cell, whose interval is wider than ±5% and contains 1.
    noisy = synthetic_cell(np.random.default_rng(5), 1.0, pairs=3, bias=0.2)
    run = load_run(two_framework_run(tmp_path / "noisy", section(noisy)))
    (machine,) = machines([run], [])
    assert precision_note(list(machine.results), machine.paired) == (
        " At 1e4 parameters and above, 0 of the 1 paired intervals are within ±5% and 0 exclude 1."
    )


@pytest.mark.parametrize("change, named", [
    ({"torch": "update-sgd-none-torch-fused-1e6-one"}, "is not a torch benchmark of this run"),
    ({"torch": JAX_ID}, "is not a torch benchmark of this run"),
    ({"pairs": []}, "no process pair"),
    ({"pairs": [{"torch": [1e-3, 1e-3], "jax": [1e-3], "first": "tt"}]}, "as many rounds"),
    ({"pairs": [{"torch": [1e-3], "jax": [-1e-3], "first": "t"}]}, "must be positive"),
    ({"pairs": [{"torch": [1e-3], "jax": [1e-3], "first": "x"}]}, "must be one of tj"),
    ({"params": "many"}, "malformed"),
])  # fmt: skip
def test_a_malformed_paired_section_is_one_line_naming_the_file(tmp_path, change, named):
    cell = synthetic_cell(np.random.default_rng(5), 0.5, pairs=2)
    path = two_framework_run(tmp_path / "box", section(cell, **change))
    with pytest.raises(UsageError, match=named) as error:
        load_run(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.long  # worker processes timed for real: make robustness, CI
def test_a_small_stage_runs_end_to_end(tmp_path):
    """Two cheap comparisons (SGD and AdamW at 10⁴) in 2 process pairs: the section records
    every round of each, reads back with each comparison's own two benchmarks, and each
    gives a ratio with an interval."""
    path = write_run(tmp_path / "box", "20261121T100000Z_quick_abcdef0.json", [
        bench(optimizer="sgd", rule="none", impl="forloop", params=10**4, median=6e-5),
        bench(optimizer="sgd", rule="none", framework="jax", impl="jit", params=10**4,
              median=6e-5),
        bench(impl="fused", params=10**4, median=9e-5),
        bench(framework="jax", impl="jit_donate", params=10**4, median=8e-5),
    ])  # fmt: skip
    found = cells(list(load_run(path).results))
    assert len(found) == 2
    messages, progress = [], io.StringIO()
    paired = run_pairs(
        found, budget=12, pairs=2, threads=1, seed=1, log=messages.append, stream=progress
    )
    doc = json.loads(path.read_text())
    doc["paired"] = paired
    path.write_text(json.dumps(doc))
    loaded = {cell.optimizer: cell for cell in load_run(path).paired}
    assert loaded["sgd"].torch.endswith("torch-forloop-1e4-one")
    assert loaded["adamw"].jax.endswith("jax-jit_donate-1e4-one")
    for cell in loaded.values():
        assert len(cell.pairs) == 2
        assert [len(p.first) for p in cell.pairs] == paired["settings"]["rounds"]
        assert framework_ratio(cell).low is not None
    assert any("later pairs start in" in m for m in messages)
    lines = progress.getvalue().splitlines()  # not a terminal: one plain line per pair
    items = [re.search(r"elapsed(?:, ~[\d:]+ left)?: (pair \d/\d)  ", line) for line in lines]
    assert [m and m.group(1) for m in items] == ["pair 1/2", "pair 2/2"]
    assert lines[0].startswith("xbench bench: torch vs JAX, process pairs [1/2] 0:")


@pytest.mark.parametrize("argv, named", [
    (["--paired-budget", "-1"], "--paired-budget"),
    (["--paired-budget", "nan"], "--paired-budget"),
    (["--paired-budget", "inf"], "--paired-budget"),
    (["--pairs", "1"], "--pairs 1"),
])  # fmt: skip
def test_bad_stage_options_are_one_line_and_exit_2(capsys, tmp_path, argv, named):
    code, _, err = run_cli(capsys, "bench", "--quick", "--results", str(tmp_path), *argv)
    assert code == 2 and named in err and len(err.strip().splitlines()) == 1


class FakeWorker(Worker):
    """Answers the worker protocol from a table of seconds per call, and logs requests (the
    client's own build, built and round methods speak to it)."""

    def __init__(self, seconds: dict[str, float]):  # no process
        self.seconds, self.requests, self.pending = seconds, [], []

    def send(self, request):
        self.requests.append(request)
        self.pending.append(request)

    def reply(self):
        request = self.pending.pop(0)
        if request["op"] == "build":
            return {"key": request["key"], "seconds_per_call": self.seconds[request["key"]]}
        return {"seconds": self.seconds[request["key"]]}

    def ask(self, request):
        self.send(request)
        return self.reply()

    def settle(self):
        return 0.0


def test_each_side_builds_and_times_only_its_own_steps():
    from xbench.run.interleave import Plan, build_sides, time_sides
    from xbench.workloads.benchmarks import BenchCase

    a, b = (
        BenchCase("update", "torch", "fused", "adamw", "weight_decay", n) for n in (10**3, 10**4)
    )
    c = BenchCase("update", "jax", "jit_donate", "adamw", "weight_decay", 10**3)
    workers = {"torch": FakeWorker({a.id: 1e-4, b.id: 2e-4}), "jax": FakeWorker({c.id: 3e-4})}
    found = build_sides(workers, {"torch": [a, b], "jax": [c]})
    assert found == {"torch": {a.id: 1e-4, b.id: 2e-4}, "jax": {c.id: 3e-4}}
    plan = Plan(rounds=4, iterations={a.id: 10, c.id: 12}, warmup={a.id: 2, c.id: 1})
    times, first, _ = time_sides(workers, {"torch": a.id, "jax": c.id}, plan, random.Random(0))
    assert times == {"torch": [1e-4] * 4, "jax": [3e-4] * 4}
    assert first in (("torch",) * 4, ("jax",) * 4)
    rounds = {name: [r for r in w.requests if r["op"] == "round"] for name, w in workers.items()}
    # each side's quiet sizing rounds (torch: a and b; JAX: c), then its four timed rounds
    assert [r["key"] for r in rounds["torch"]] == [a.id, b.id] + [a.id] * 4
    assert [r["key"] for r in rounds["jax"]] == [c.id] * 5
    assert [r["iterations"] for r in rounds["jax"][1:]] == [12] * 4
    assert [r["iterations"] for r in rounds["torch"][2:]] == [10] * 4


@pytest.mark.long  # worker processes timed for real: make robustness, CI
def test_a_failed_stage_still_publishes_the_sweep_and_says_so(capsys, tmp_path, monkeypatch):
    """The torch-vs-JAX stage comes after minutes of sweep: when it fails (a worker died),
    the sweep is published without a ``paired`` section and the failure is named; when it
    works, the same selection publishes the section."""
    import xbench.jobs.bench as bench_job

    def dies(*args, **kwargs):
        raise RuntimeError("the JAX worker exited")

    monkeypatch.setattr(bench_job, "run_pairs", dies)
    argv = ("bench", "--quick", "-k", "update and sgd and 1e4 and (forloop or jit_donate)",
            "--results", str(tmp_path), "--label", "box", "--paired-budget", "5",
            "--pairs", "2")  # fmt: skip
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert "torch-vs-JAX stage failed (RuntimeError: the JAX worker exited)" in err
    (published,) = (tmp_path / "box").glob("*_quick_*.json")
    doc = json.loads(published.read_text())
    assert "paired" not in doc and len(doc["benchmarks"]) == 2
    # Perturbed: the stage works (the real one, 2 process pairs), and the section is there.
    monkeypatch.undo()
    assert run_cli(capsys, *argv)[0] == 0
    newest = max((tmp_path / "box").glob("*_quick_*.json"))  # numbered: 0002 after 0001
    assert newest != published
    (cell,) = load_run(newest).paired
    assert (cell.optimizer, cell.params, len(cell.pairs)) == ("sgd", 10**4, 2)
