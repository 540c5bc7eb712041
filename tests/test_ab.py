"""``xbench ab``: the paired estimate and its interval on synthetic rounds, the verdicts, the
calibration summary, the record, and the command line's bad input. The timing itself is
proven by measurement (results/ab/proof, docs/ab.md), never by a timed unit test."""

import dataclasses
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xbench.analysis.ab_calibration import Calibration, calibrate, half_widths
from xbench.analysis.paired import (
    IMPROVED,
    REGRESSED,
    UNCHANGED,
    UNRESOLVED,
    Ratio,
    benchmark_verdict,
    confirmation_ratio,
    pair_log_ratio,
    paired_ratio,
    summaries,
    t_quantile,
    timeline,
    trimmed_interval,
    verdict,
    verdicts,
)
from xbench.cli import main
from xbench.errors import UsageError
from xbench.jobs.ab import AbRequest, keyword_matches, selected
from xbench.records.ab_run import AbBenchmark, AbRun, Version, load
from xbench.run.interleave import Rounds, Rules, plan_rounds
from xbench.run.machine import REPO

MIN_CALLS, MIN_ROUNDS = Rules().min_calls, Rules().min_rounds

SECONDS = 1e-3  # a 1 ms step


def rounds_of(base, new, first, calls=(5, 2)) -> Rounds:
    """Recorded rounds of sides ``base`` and ``new``, ``first`` one side's name per round pair."""
    per_side = [dict.fromkeys(("base", "new"), n) for n in calls]
    return Rounds({"base": base, "new": new}, tuple(first), *per_side)


def synthetic_pair(rng, ratio, rounds=40, noise=0.2, bias=0.0, drift=0.0, order="base"):
    """One process pair's rounds, strictly alternating, ``order`` side first: each round's
    time is the true time × the machine's speed at that moment (shared by adjacent rounds:
    slow drift plus a per-moment factor) × per-round noise; NEW carries a process ``bias``."""
    base, new = [], []
    for k in range(rounds):
        moment = math.exp(drift * k + rng.normal(0, noise))
        b = SECONDS * moment * math.exp(rng.normal(0, noise / 2))
        n = SECONDS * ratio * math.exp(bias) * moment * math.exp(rng.normal(0, noise / 2))
        base.append(b)
        new.append(n)
    return rounds_of(base, new, (order,) * rounds)


def synthetic(rng, ratio, pairs=8, bias_sd=0.03, **kwargs):
    return [
        synthetic_pair(
            rng, ratio, bias=rng.normal(0, bias_sd), order=("base", "new")[p % 2], **kwargs
        )  # fmt: skip
        for p in range(pairs)
    ]


def ratio_of(pairs):
    return paired_ratio(pairs, "base", "new")


# ----------------------------------------------------------------------------- the estimate


def test_t_quantiles():
    assert t_quantile(1) == pytest.approx(12.706)
    assert t_quantile(7) == pytest.approx(2.365)
    assert t_quantile(100) == pytest.approx(1.96)
    with pytest.raises(ValueError):
        t_quantile(0)


def test_a_known_ratio_is_recovered_and_covered():
    rng = np.random.default_rng(0)
    ratio = ratio_of(synthetic(rng, 1.07))
    assert ratio.contains(1.07)
    assert not ratio.contains(1.0)
    assert ratio.estimate == pytest.approx(1.07, rel=0.03)
    assert ratio.pairs == 8 and ratio.rounds == 8 * 40
    assert verdict(ratio, 0.02) == REGRESSED


def test_the_interval_covers_the_truth_about_95_percent_of_the_time():
    """Over many synthetic A/A and ×1.05 experiments with process-pair bias, the 95% interval
    contains the true ratio in about 95% of them: not fewer (overconfident), and not all of
    them (an interval too wide to resolve anything)."""
    rng = np.random.default_rng(1)
    for truth in (1.0, 1.05):
        covered = [ratio_of(synthetic(rng, truth)).contains(truth) for _ in range(300)]
        assert 0.91 <= np.mean(covered) <= 0.99, (truth, np.mean(covered))


def test_a_process_pair_bias_does_not_make_false_regressions():
    """A/A, but every process carries a bias of its own (sd 4%, as seen here: one A/A pair
    read ×0.92) and rounds are quiet. Over 50 experiments of 4 process pairs, the interval
    over process pairs excludes 1 about as often as a 95% interval should, and flags none.
    The perturbed method, pooling every round as if all came from one process, is
    overconfident: its interval excludes 1 in most experiments."""
    rng = np.random.default_rng(2)
    honest, pooled = [], []
    for _ in range(50):
        pairs = synthetic(rng, 1.0, pairs=4, bias_sd=0.04, noise=0.05)
        honest.append(ratio_of(pairs))
        rounds = [
            rounds_of([b], [n], [f])
            for p in pairs
            for b, n, f in zip(p.seconds["base"], p.seconds["new"], p.first, strict=True)
        ]
        pooled.append(ratio_of(rounds))
    assert sum(not r.contains(1.0) for r in honest) <= 5
    assert all(verdict(r, 0.02) == UNCHANGED for r in honest)
    assert sum(not r.contains(1.0) for r in pooled) >= 25


def test_alternation_cancels_drift_and_order():
    """The machine slows by 1% per round: comparing each round with its neighbours on both
    sides cancels it; pairing round k of BASE with round k of NEW alone does not."""
    rng = np.random.default_rng(3)
    pair = synthetic_pair(rng, 1.0, rounds=60, noise=0.0, drift=0.01)
    base, new = pair.seconds["base"], pair.seconds["new"]
    # BASE ran at times 0, 2, 4, ... and NEW at 1, 3, 5 ...: NEW always half a round later.
    new = [t * math.exp(0.005) for t in new]
    naive = np.median([math.log(n / b) for b, n in zip(base, new, strict=True)])
    assert naive == pytest.approx(0.005, abs=1e-9)  # the drift reads as a 0.5% slowdown
    assert pair_log_ratio(rounds_of(base, new, pair.first), "base", "new") == pytest.approx(
        0.0, abs=1e-9
    )


def test_timeline_follows_the_recorded_order():
    recorded = Rounds.recorded({"base": [1.0, 2.0], "new": [3.0, 4.0]}, "bn")
    assert recorded.first == ("base", "new") and recorded.letters == "bn"
    assert timeline(recorded, "base", "new") == [
        ("base", 1.0),
        ("new", 3.0),
        ("new", 4.0),
        ("base", 2.0),
    ]
    for bad in ("bx", "b"):
        with pytest.raises(ValueError):
            Rounds.recorded({"base": [1.0, 2.0], "new": [3.0, 4.0]}, bad)
    with pytest.raises(ValueError):
        Rounds.recorded({"base": [1.0], "new": [1.0, 2.0]}, "")
    with pytest.raises(ValueError):
        Rounds.recorded({"base": [0.0], "new": [1.0]}, "b")


@pytest.mark.parametrize(
    "ratio, expected",
    [
        (Ratio(1.05, 1.03, 1.07, 8, 1), REGRESSED),
        (Ratio(1.05, 0.99, 1.11, 8, 1), UNCHANGED),  # slower, but not resolved
        (Ratio(1.01, 1.005, 1.015, 8, 1), UNCHANGED),  # resolved, but below the threshold
        (Ratio(1.04, 1.015, 1.065, 8, 1), UNCHANGED),  # may be only 1.5% slower
        (Ratio(0.95, 0.93, 0.97, 8, 1), IMPROVED),
        (Ratio(1.05, None, None, 1, 1), UNRESOLVED),
    ],
)
def test_verdicts(ratio, expected):
    assert verdict(ratio, 0.02) == expected


# ----------------------------------------------------------------------------- records


def synthetic_run(rng, ratios: dict[str, float], **kwargs) -> AbRun:
    benchmarks = []
    for impl, truth in ratios.items():
        case = {"kind": "update", "framework": "torch", "implementation": impl,
                "optimizer": "adamw", "rule": "weight_decay", "params": 10_000}  # fmt: skip
        pairs = synthetic(rng, truth, **kwargs)
        benchmarks.append(AbBenchmark(f"update-adamw-torch-{impl}", case, pairs))
    side = Version("HEAD", "revision", "0" * 40, sys.executable)
    settings = {"threshold": 0.02, "pairs": 8, "rounds": 40}
    return AbRun("2026-01-01T00:00:00+00:00", 1.0, {}, settings, side, side, benchmarks)


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


def test_calibration_counts_false_alarms_and_catches():
    rng = np.random.default_rng(5)
    aa = [synthetic_run(rng, {"fused": 1.0, "foreach": 1.0}, bias_sd=0.01) for _ in range(5)]
    injected = [synthetic_run(rng, {"fused": 1.1, "foreach": 1.0}, bias_sd=0.01) for _ in range(5)]
    levels = {"update-adamw-torch-fused": 0.10}
    found = calibrate(aa, injected, levels, threshold=0.02)
    assert found.aa_runs == 5 and found.aa_benchmark_runs == 10
    assert found.aa_flagged == [0] * 5 and found.aa_first_flagged == [0] * 5
    assert found.caught == {"update-adamw-torch-fused": (0.10, 5, 5)}
    assert found.others_flagged == 0 and found.others_total == 5
    assert found.floor() == 0.10
    assert found.floor(select=lambda bench_id: "1e6" in bench_id) is None
    # Perturbed: call the "A/A" runs injected (and vice versa): nothing is caught.
    swapped = calibrate(injected, aa, levels, threshold=0.02)
    assert swapped.caught == {"update-adamw-torch-fused": (0.10, 0, 5)} and swapped.floor() is None
    assert sum(swapped.aa_flagged) == 5
    # Less data, wider intervals.
    assert half_widths(aa, pairs=0.25) > half_widths(aa, rounds=0.5) > half_widths(aa)


def test_the_proof_block_reads_its_runs_at_their_own_threshold(tmp_path):
    """A confirmation measured what the run's threshold flagged, so the proof is reported at
    that threshold; runs made at two thresholds are not one proof."""
    from xbench.jobs.report import ab_proof_block

    rng = np.random.default_rng(5)
    folder = tmp_path / "results" / "ab" / "proof"
    folder.mkdir(parents=True)
    for i in range(2):
        for name, truth in (("aa", 1.0), ("inject", 1.1)):
            run = synthetic_run(rng, {"fused": truth}, bias_sd=0.01)
            run = dataclasses.replace(run, machine={"cpu_model": "Test CPU"},
                                      settings={**run.settings, "time_budget": 60.0})  # fmt: skip
            run.save(folder / f"{name}-{i}.json", summaries(run))
    calibration = {"benchmarks": [{"id": "update-adamw-torch-fused", "injected_work": 0.16,
                                   "slowdown": 0.10, "round_pairs": 800}]}  # fmt: skip
    (folder / "calibration.json").write_text(json.dumps(calibration))
    page = tmp_path / "docs" / "ab.md"
    block = ab_proof_block(tmp_path / "results", page)
    assert "threshold 2%" in block and "2 of 2" in block
    # Perturbed: one run made at another threshold.
    doc = json.loads((folder / "aa-1.json").read_text())
    doc["settings"]["threshold"] = 0.005
    (folder / "aa-1.json").write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="different thresholds"):
        ab_proof_block(tmp_path / "results", page)


def test_the_floor_is_the_level_from_which_every_larger_slowdown_is_caught():
    def floor(caught):
        return Calibration(0.01, 1, 1, [0], [0], 1, caught, 0, 0).floor()

    caught = {"a": (0.03, 2, 10), "b": (0.05, 9, 10), "c": (0.10, 10, 10), "d": (0.15, 10, 10)}
    assert floor(caught) == 0.05
    # Perturbed: a larger slowdown missed twice in ten: the floor is above it.
    assert floor({**caught, "c": (0.10, 8, 10)}) == 0.15
    assert floor({**caught, "d": (0.15, 8, 10)}) is None


# ----------------------------------------------------------------------------- confirmation


def with_confirmation(bench: AbBenchmark, pairs: list) -> AbBenchmark:
    return AbBenchmark(bench.id, bench.case, bench.pairs, pairs)


def test_a_flag_stands_only_when_the_confirmation_agrees(tmp_path):
    rng = np.random.default_rng(6)
    run = synthetic_run(rng, {"fused": 1.1}, bias_sd=0.01)
    bench = run.benchmarks[0]
    assert benchmark_verdict(bench, 0.02) == REGRESSED  # not confirmed: the first stands
    confirmed = with_confirmation(bench, synthetic(rng, 1.1, bias_sd=0.01))
    assert confirmation_ratio(confirmed).contains(1.1)
    assert benchmark_verdict(confirmed, 0.02) == REGRESSED
    # Perturbed: the confirmation finds nothing (the first flag was noise): unchanged.
    refuted = with_confirmation(bench, synthetic(rng, 1.0, bias_sd=0.01))
    assert benchmark_verdict(refuted, 0.02) == UNCHANGED
    # The confirmation asks for the direction only: ×1.015, below the threshold, confirms.
    slight = with_confirmation(bench, synthetic(rng, 1.015, bias_sd=0.001, noise=0.01))
    assert confirmation_ratio(slight).low > 1.0 and benchmark_verdict(slight, 0.02) == REGRESSED
    # An improvement confirmed as a regression is no verdict either.
    faster = AbBenchmark("x", bench.case, synthetic(rng, 0.9))
    assert benchmark_verdict(faster, 0.02) == IMPROVED
    assert benchmark_verdict(with_confirmation(faster, synthetic(rng, 1.1)), 0.02) == UNCHANGED
    # The confirmation is kept in the record and read back.
    run.benchmarks = [refuted]
    doc = json.loads(run.save(tmp_path / "ab.json", summaries(run)).read_text())
    assert doc["benchmarks"][0]["verdict"] == UNCHANGED
    assert doc["benchmarks"][0]["confirmation_ratio"]["pairs"] == 8
    assert load(tmp_path / "ab.json").benchmarks == [refuted]


def test_confirmation_removes_most_noise_flags_and_keeps_real_ones():
    """Synthetic A/A benchmarks whose process-pair bias is large against the threshold (the
    first measurement alone flags several in a hundred): with a confirmation, almost none;
    a real ×1.08 is confirmed nearly every time it was flagged."""
    rng = np.random.default_rng(7)
    first = confirmed = 0
    for _ in range(300):
        bench = AbBenchmark("aa", {}, synthetic(rng, 1.0, rounds=10))
        if benchmark_verdict(bench, 0.0) != UNCHANGED:
            first += 1
            again = with_confirmation(bench, synthetic(rng, 1.0, rounds=10))
            confirmed += benchmark_verdict(again, 0.0) != UNCHANGED
    assert first >= 6 and confirmed <= 1, (first, confirmed)
    real = [AbBenchmark("x", {}, synthetic(rng, 1.08))
            for _ in range(20)]  # fmt: skip
    kept = [benchmark_verdict(with_confirmation(b, synthetic(rng, 1.08)), 0.0) for b in real]
    assert kept.count(REGRESSED) >= 18


# ----------------------------------------------------------------------------- planning


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


def test_selection_follows_pytest_k():
    assert keyword_matches("fused and not 1e6", ["test_update[update-adamw-torch-fused-1e4]"])
    assert not keyword_matches("fused and not 1e4", ["test_update[update-adamw-torch-fused-1e4]"])
    gate = selected(AbRequest("a", "b", gate=True))
    assert len(gate) == 10 and {c.kind for c in gate} == {"update", "train"}
    assert not any(c.implementation == "compiled" for c in gate)
    quick = selected(AbRequest("a", "b", quick=True, select="sgd"))
    assert quick and all("sgd" in c.id for c in quick)


# ----------------------------------------------------------------------------- command line


def run_cli(capsys, *argv):
    try:
        code = main(["ab", *argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


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
    code, _, err = run_cli(capsys, *argv)
    one_line_error(code, err, *named)


def test_an_existing_json_is_never_overwritten(capsys, tmp_path):
    existing = tmp_path / "ab.json"
    existing.write_text("{}")
    code, _, err = run_cli(capsys, "HEAD", "HEAD", "--gate", "--json", str(existing))
    one_line_error(code, err, "refusing to overwrite")
    assert existing.read_text() == "{}"


def test_an_interpreter_without_the_frameworks_is_refused(capsys, tmp_path):
    """A Python that lacks torch and jax: named, exit 2, before any timing."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    code, _, err = run_cli(capsys, "HEAD", str(bare / "bin" / "python"), "--gate")
    one_line_error(code, err, "NEW", "lacks")


def test_list_prints_the_selection(capsys):
    code, out, _ = run_cli(capsys, "HEAD", "HEAD", "--gate", "--list")
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
    from xbench.spec.benchmarks import gate_cases

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


def test_each_worker_gets_an_environment_padding_of_its_own(tmp_path, monkeypatch):
    """The padding is drawn per worker from the run's seed (a layout bias of one side becomes
    spread between process pairs): different between workers, the same for the same seed."""
    import random

    from xbench.run import interleave as ab
    from xbench.run.sides import Prepared

    seen = []

    class Popen:
        def __init__(self, argv, env, **kwargs):
            seen.append(len(env["XBENCH_AB_PADDING"]))

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


# ----------------------------------------------------------------------------- the gate


def test_the_baseline_revision_round_trips_and_names_a_clean_commit(tmp_path, monkeypatch):
    from xbench.jobs import compare as gate
    from xbench.run import machine

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=x", "-c", "user.email=x@x"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "file.txt").write_text("one\n")
    subprocess.run([*git, "add", "file.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    monkeypatch.setattr(machine, "REPO", repo)
    commit = gate.clean_head()
    assert len(commit) == 40
    (repo / "file.txt").write_text("two\n")  # perturbed: an uncommitted change
    with pytest.raises(UsageError, match="uncommitted changes"):
        gate.clean_head()
    against = tmp_path / "baseline"
    gate.write_revision(against, commit, "first baseline")
    found = gate.read_revision(against)
    assert found.commit == commit and found.reason == "first baseline" and found.datetime
    (against / "revision.json").write_text('{"commit": "abc"}')
    with pytest.raises(UsageError, match="not a baseline revision"):
        gate.read_revision(against)
    with pytest.raises(UsageError, match="make baseline"):
        gate.read_revision(tmp_path)


def test_a_revision_with_other_constraints_gets_an_environment_of_its_own(tmp_path, monkeypatch):
    """Same constraints.txt: this interpreter. Different: an environment built once from the
    revision's own constraints (the install itself is recorded here, not run)."""
    from xbench.run import machine
    from xbench.run import sides as ab

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "constraints.txt").write_text("torch==2.13.0\njax==0.10.2\n")
    monkeypatch.setattr(machine, "REPO", repo)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "constraints.txt").write_text("torch==2.13.0\njax==0.10.2\n")
    assert ab.environment_for(tree / "constraints.txt", tree, print) == sys.executable

    (tree / "constraints.txt").write_text("torch==2.13.0\njax==0.10.1\n")
    ran = []

    def fake_run(command, **kwargs):
        ran.append(command)
        if command[1:3] == ["-m", "venv"]:
            Path(command[3], "bin").mkdir(parents=True)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(ab.lifeline, "run", fake_run)
    python = ab.environment_for(tree / "constraints.txt", tree, print)
    env = Path(python).parents[1]
    assert env.parent == repo / ab.ENVIRONMENTS and (env / ".installed").is_file()
    assert ran[0][1:3] == ["-m", "venv"]
    assert ran[1][0] == python and ran[1][-2:] == [
        str(tree / "constraints.txt"),
        f"{tree}[torch,jax]",
    ]
    ran.clear()
    assert ab.environment_for(tree / "constraints.txt", tree, print) == python
    assert ran == []  # built once


def test_the_trimmed_interval():
    """With no trimming it is the mean and Student's t interval; with 20% trimmed from each
    end, one wild process pair among eight moves it little, where it drags the plain mean
    and widens its interval past the real effect."""
    values = [0.05, 0.06, 0.04, 0.07, 0.05, 0.06, 0.05, -0.20]  # one pair in a bad state
    mean, margin = trimmed_interval(values, trim=0.0)
    assert mean == pytest.approx(np.mean(values))
    assert margin == pytest.approx(t_quantile(7) * np.std(values, ddof=1) / math.sqrt(8))
    assert mean - margin < 0  # the outlier hides a resolved 5% slowdown
    trimmed, trimmed_margin = trimmed_interval(values)  # g = 1 of 8 from each end
    assert trimmed == pytest.approx(np.mean(sorted(values)[1:-1]))
    assert trimmed - trimmed_margin > 0.03
    assert trimmed_interval([0.1, 0.2], trim=0.2) == trimmed_interval([0.1, 0.2], trim=0.0)


def test_a_version_change_renders_with_its_intervals(tmp_path):
    from xbench.present.ab_md import version_change_markdown, versions_section

    rng = np.random.default_rng(6)
    run = synthetic_run(rng, {"fused": 1.1, "foreach": 1.0})
    run.machine["cpu_model"] = "Test CPU"
    run.settings.update(threads=2, time_budget=60)
    run.base.versions.update(jax="0.10.1")
    path = run.save(tmp_path / "ab.json", summaries(run))
    text = version_change_markdown(path, run, tmp_path)
    assert "1 regressed, 1 unchanged" in text
    assert "`update-adamw-torch-fused`" in text and "regressed |" in text
    assert "[`ab.json`](ab.json)" in text and "Test CPU" in text
    assert versions_section([], tmp_path) == ""
    assert versions_section([(path, run)], tmp_path).startswith("## Version changes")


@pytest.mark.parametrize("command", ["ab", "compare", "bench", "check", "report", "study", "trace"])
def test_every_command_prints_its_help(capsys, command):
    """argparse %-formats help strings: a bare % in one (``1% with``) crashed --help."""
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "usage: xbench" in capsys.readouterr().out


def test_an_interpreter_side_takes_the_adapters_of_its_own_checkout(tmp_path):
    """xbench run from a second checkout pairs that checkout's xbench with its own adapters,
    not the installed ones; outside a checkout, the installed adapters."""
    from xbench.run import sides as ab

    checkout = tmp_path / "checkout"
    (checkout / "xbench").mkdir(parents=True)
    (checkout / "adapters").mkdir()
    (checkout / "adapters" / "__init__.py").write_text("")
    assert ab.adapters_beside(checkout / "xbench") == checkout / "adapters"
    (tmp_path / "installed" / "xbench").mkdir(parents=True)
    installed = ab.adapters_beside(tmp_path / "installed" / "xbench")
    assert installed != checkout / "adapters" and (installed / "jax_adapter.py").is_file()
