"""Paired ratios from interleaved rounds (xbench.analysis.paired): the estimate and its interval
on synthetic rounds, the verdicts, the confirmation, and the calibration summary of A/A and
injected runs (xbench.analysis.ab_calibration)."""

import json
import math

import numpy as np
import pytest

from tests.helpers import ratio_of, rounds_of, synthetic, synthetic_pair, synthetic_run
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
    summaries,
    t_quantile,
    timeline,
    trimmed_interval,
    verdict,
)
from xbench.records.ab_run import AbBenchmark, load
from xbench.run.interleave import Rounds


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


def test_the_floor_is_the_level_from_which_every_larger_slowdown_is_caught():
    def floor(caught):
        return Calibration(0.01, 1, 1, [0], [0], 1, caught, 0, 0).floor()

    caught = {"a": (0.03, 2, 10), "b": (0.05, 9, 10), "c": (0.10, 10, 10), "d": (0.15, 10, 10)}
    assert floor(caught) == 0.05
    # Perturbed: a larger slowdown missed twice in ten: the floor is above it.
    assert floor({**caught, "c": (0.10, 8, 10)}) == 0.15
    assert floor({**caught, "d": (0.15, 8, 10)}) is None


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
