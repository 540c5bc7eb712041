"""The harness-overhead check asserts under ``make test`` too (benchmarking disabled: a
direct perf_counter timer stands in), so an impossible tolerance fails it."""

from types import SimpleNamespace

import pytest

from xbench.suite import benchmarks
from xbench.workloads.benchmarks import perturbed_overhead_case


def disabled():
    return SimpleNamespace(disabled=True, extra_info={}, group=None, params=None)


@pytest.mark.parametrize("tolerance", [-0.01, 0.5])
def test_the_overhead_check_asserts_with_benchmarking_disabled(monkeypatch, tolerance):
    """Tolerance −1%: impossible, so the check must fail; 50%: it must pass and record."""
    monkeypatch.setattr(benchmarks, "OVERHEAD_TOLERANCE", tolerance)
    monkeypatch.setattr(benchmarks, "DIRECT_SECONDS", 0.2)
    bench = disabled()
    if tolerance < 0:
        with pytest.raises(AssertionError):
            benchmarks.test_overhead(bench, perturbed_overhead_case())
    else:
        benchmarks.test_overhead(bench, perturbed_overhead_case())
        assert bench.extra_info["paired_over_bare"] > 0


def test_the_perturbed_check_fails_when_the_tolerance_exceeds_the_perturbation(monkeypatch):
    monkeypatch.setattr(benchmarks, "OVERHEAD_TOLERANCE", 1.0)  # +10% is within 100%
    monkeypatch.setattr(benchmarks, "DIRECT_SECONDS", 0.2)
    with pytest.raises(AssertionError):
        benchmarks.test_overhead_check_fails_on_a_slower_harness(disabled())
