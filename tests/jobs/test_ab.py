"""``xbench ab``: the paired estimate and its interval on synthetic rounds, the verdicts, the
calibration summary, the record, and the command line's bad input. The timing itself is
proven by measurement (results/ab/proof, docs/ab.md), never by a timed unit test."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import run_cli, synthetic, synthetic_run
from xbench.analysis.paired import (
    REGRESSED,
    UNCHANGED,
    summaries,
    verdicts,
)
from xbench.errors import UsageError
from xbench.jobs.ab import AbRequest, keyword_matches, selected
from xbench.records.ab_run import load
from xbench.run.interleave import Rules
from xbench.run.machine import REPO

MIN_CALLS, MIN_ROUNDS = Rules().min_calls, Rules().min_rounds


# ----------------------------------------------------------------------------- the estimate


# ----------------------------------------------------------------------------- records


def test_record_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    run = synthetic_run(rng, {"fused": 1.1, "foreach": 1.0})
    path = run.save(tmp_path / "ab.json", summaries(run))
    doc = json.loads(path.read_text())
    assert doc["format"] == "xbench-ab/1"
    assert [b["verdict"] for b in doc["benchmarks"]] == [REGRESSED, UNCHANGED]
    again = load(path)
    assert again.benchmarks == run.benchmarks
    assert summaries(again) == summaries(run)
    doc["format"] = "xbench-ab/9"
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="newer xbench"):
        load(path)
    path.write_text(json.dumps({"format": "xbench-ab/1"}))
    with pytest.raises(UsageError, match="not a complete"):
        load(path)


# ----------------------------------------------------------------------------- confirmation


# ----------------------------------------------------------------------------- planning


def test_selection_follows_pytest_k():
    assert keyword_matches("fused and not 1e6", ["test_update[update-adamw-torch-fused-1e4]"])
    assert not keyword_matches("fused and not 1e4", ["test_update[update-adamw-torch-fused-1e4]"])
    gate = selected(AbRequest("a", "b", gate=True))
    assert len(gate) == 10 and {c.kind for c in gate} == {"update", "train"}
    assert not any(c.implementation == "compiled" for c in gate)
    quick = selected(AbRequest("a", "b", quick=True, select="sgd"))
    assert quick and all("sgd" in c.id for c in quick)


# ----------------------------------------------------------------------------- command line


def one_line_error(code, err, *named):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in named:
        assert word in lines[0], (word, lines[0])


NOT_PYTHON = shutil.which("true")


@pytest.mark.parametrize(
    "argv, named",
    [
        (["no-such-revision-xyz", "HEAD", "--gate"], ["no-such-revision-xyz", "unknown revision"]),
        (["HEAD", NOT_PYTHON, "--gate"], [NOT_PYTHON, "not a Python 3 interpreter"]),
        (["HEAD", "/no/such/python", "--gate"], ["/no/such/python", "not an executable"]),
        (["HEAD", "HEAD", "-k", "no_such_benchmark"], ["no benchmark selected"]),
        (["HEAD", "HEAD", "-k", "fused and (", "--gate"], ["-k"]),
        (["HEAD", "HEAD", "--gate", "--threshold", "ten"], ["malformed --threshold", "'ten'"]),
        (["HEAD", "HEAD", "--gate", "--threshold", "0.05"], ["ambiguous --threshold"]),
        (["HEAD", "HEAD", "--gate", "--time-budget", "5 hours"], ["malformed --time-budget"]),
        (["HEAD", "HEAD", "--gate", "--pairs", "1"], ["--pairs 1"]),
        (["HEAD", "HEAD", "--gate", "--quick"], ["--gate and --quick"]),
        (["HEAD", "HEAD", "--gate", "--threads", "99"], ["--threads 99"]),
        (["HEAD", "HEAD", "--gate", "--device", "tpu"], ["tpu"]),
        (["d627a45", "HEAD", "--gate"], ["d627a45", "predates xbench ab"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, named):
    if NOT_PYTHON is None and NOT_PYTHON in argv:
        pytest.skip("no `true` executable here")
    code, _, err = run_cli(capsys, "ab", *argv)
    one_line_error(code, err, *named)


def test_an_existing_json_is_never_overwritten(capsys, tmp_path):
    existing = tmp_path / "ab.json"
    existing.write_text("{}")
    code, _, err = run_cli(capsys, "ab", "HEAD", "HEAD", "--gate", "--json", str(existing))
    one_line_error(code, err, "refusing to overwrite")
    assert existing.read_text() == "{}"


def test_an_interpreter_without_the_frameworks_is_refused(capsys, tmp_path):
    """A Python that lacks torch and jax: named, exit 2, before any timing."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    code, _, err = run_cli(capsys, "ab", "HEAD", str(bare / "bin" / "python"), "--gate")
    one_line_error(code, err, "NEW", "lacks")


def test_list_prints_the_selection(capsys):
    code, out, _ = run_cli(capsys, "ab", "HEAD", "HEAD", "--gate", "--list")
    assert code == 0
    assert len(out.split()) == 10


@pytest.mark.long  # CI's make compare runs xbench ab --gate in full, too
@pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs a git checkout of xbench")
def test_a_small_run_end_to_end(tmp_path):
    """HEAD (a revision, extracted) against this checkout's interpreter: two process pairs of
    one benchmark. Whether it is flagged is up to the noise; the record must be complete."""
    out = tmp_path / "ab.json"
    done = subprocess.run(
        [sys.executable, "-m", "xbench", "ab", "HEAD", sys.executable, "--gate", "-k",
         "torch-fused-1e4", "--pairs", "2", "--time-budget", "20",
         "--json", str(out), "--seed", "1"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-2000:]
    progress = [line for line in done.stderr.splitlines() if "process pairs [" in line]
    assert [line.split("[")[1].split("]")[0] for line in progress] == ["1/2", "2/2"], progress
    assert progress[0].startswith("xbench ab: measurement, process pairs [1/2] 0:")
    run = load(out)
    assert run.base.kind == "revision" and len(run.base.commit) == 40
    assert run.new.kind == "interpreter" and run.new.python == sys.executable
    assert run.new.versions["torch"] and run.base.versions["jax"]
    (bench,) = run.benchmarks
    assert len(bench.pairs) == 2
    for pair in bench.pairs:
        assert len(pair.seconds["base"]) == len(pair.seconds["new"]) >= MIN_ROUNDS
        assert set(pair.first) <= {"base", "new"} and len(set(pair.first)) == 1
        assert min(pair.seconds["base"] + pair.seconds["new"]) > 0
    assert "NEW/BASE" in done.stdout


def test_only_the_flagged_benchmarks_are_measured_again(tmp_path, monkeypatch):
    """run_ab with the measuring stubbed by synthetic rounds: the first measurement flags
    the ×1.10 benchmark and not the ×1.0 one; only the flagged one is measured again (twice
    the process pairs, half the budget, at least as many rounds), and its confirmation is in the
    record. Perturbed: with --no-confirm nothing is measured again."""
    from xbench.jobs import ab
    from xbench.run import interleave
    from xbench.run.sides import Prepared
    from xbench.workloads.benchmarks import gate_cases

    cases = [c for c in gate_cases() if c.kind == "update" and c.framework == "torch"][:2]
    truth = {cases[0].id: 1.10, cases[1].id: 1.0}
    rng = np.random.default_rng(8)
    calls = []

    def measure(request, chosen, sides, budget, rng_, work, log, pairs=None, at_least=None, **_):
        calls.append(([c.id for c in chosen], budget, pairs, at_least))
        rounds = [synthetic(rng, truth[c.id], bias_sd=0.005) for c in chosen]
        hello = {"versions": {"torch": "x", "jax": "y"}}
        plan = interleave.Plan(rounds=40)
        return ab.Measured(rounds, plan, [40] * 8, [0.002], {"base": hello, "new": hello})

    side = Prepared("HEAD", "revision", "0" * 40, sys.executable, tmp_path)
    monkeypatch.setattr(ab, "measure", measure)
    monkeypatch.setattr(ab, "selected", lambda request: cases)
    monkeypatch.setattr(ab, "prepare", lambda *a: side)
    request = AbRequest("a", "b", time_budget=100.0)
    run = ab.run_ab(request, log=lambda message: None)
    assert calls == [
        ([cases[0].id, cases[1].id], 100.0, None, None),
        # twice the pairs, half the budget, at least the first measurement's rounds
        ([cases[0].id], 50.0, 2 * request.pairs, 40),
    ]
    flagged, quiet = run.benchmarks
    assert len(flagged.confirmation) == 8 and quiet.confirmation == []  # (the stub's 8)
    assert run.settings["confirmation"]["benchmarks"] == [cases[0].id]
    assert verdicts(run) == {cases[0].id: REGRESSED, cases[1].id: UNCHANGED}
    calls.clear()
    run = ab.run_ab(AbRequest("a", "b", time_budget=100.0, confirm=False), log=print)
    assert len(calls) == 1 and "confirmation" not in run.settings


# ----------------------------------------------------------------------------- the gate
