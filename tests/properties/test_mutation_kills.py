"""Tests written to kill mutants that survived ``make mutate`` (docs/mutation.md): the
verdict's words, and the comparison's error figures, side naming and mismatched shapes."""

import dataclasses

import numpy as np
import pytest

from tests.helpers import TRAJECTORY, perturbed
from xbench.run.check import entry_verdict
from xbench.run.equivalence import EXACT, FLOAT64_TOLERANCE, Agreement, Tolerance, compare
from xbench.workloads.catalogue import Entry, Setup, case_for

SIDE = Setup("reference", case_for("mlp", "sgd", "none", "float64"))
EQUAL = Agreement(True, 0.0, 0.0, None, None)
DIFFERENT = Agreement(False, 1.0, 1e9, 3, "out/kernel")
DIVERGED = Agreement(False, 0.0, 0.0, None, None, diverged_step=2, diverged_side="jax")


@pytest.mark.parametrize(
    "expect_equal, agreement, verdict",
    [
        (True, EQUAL, (True, "ok: equal")),
        (True, DIFFERENT, (False, "FAIL: differs from step 3 in out/kernel")),
        (True, DIVERGED, (False, "FAIL: diverged at step 2 (jax)")),
        (False, DIFFERENT, (True, "ok: differs from step 3 in out/kernel")),
        (False, EQUAL, (False, "FAIL: expected a difference, found none")),
        (False, DIVERGED, (False, "FAIL: diverged at step 2 (jax)")),
    ],
)
def test_the_verdict_in_words(expect_equal, agreement, verdict):
    assert entry_verdict(Entry("e", SIDE, SIDE, expect_equal, "why"), agreement) == verdict


def test_the_error_figures_are_the_largest_over_every_tensor_and_step():
    bad = perturbed(perturbed(TRAJECTORY, "out/bias", 2, delta=3e-6), "dense1/kernel", 4, 1e-6)
    agreement = compare(bad, TRAJECTORY, Tolerance(atol=1e-6, rtol=0.0))
    assert agreement.max_abs_error == pytest.approx(3e-6)
    assert agreement.max_error_ratio == pytest.approx(3.0)
    assert (agreement.first_divergent_step, agreement.tensor) == (2, "out/bias")
    assert agreement.describe() == "differs from step 2 in out/bias"
    within = compare(perturbed(TRAJECTORY, "out/bias", 2, 5e-7), TRAJECTORY, Tolerance(1e-6, 0))
    assert within.equal and within.max_error_ratio == pytest.approx(0.5)
    assert within.describe() == "equal at every step" and within.tensor is None


def test_the_relative_bound_is_taken_from_the_second_side():
    b = dataclasses.replace(TRAJECTORY, loss=np.full_like(TRAJECTORY.loss, 100.0))
    a = dataclasses.replace(TRAJECTORY, loss=np.full_like(TRAJECTORY.loss, 150.0))
    tol = Tolerance(atol=0.0, rtol=0.4)  # |150 − 100| = 50 > 0.4·100, < 0.4·150
    assert not compare(a, b, tol).equal and compare(b, a, tol).equal
    assert compare(a, b, tol).max_error_ratio == pytest.approx(1.25)


def test_an_error_exactly_at_the_tolerance_is_equal():
    """err/tol ≤ 1 is equal: |150 − 100| = 50 = 0.5 + 0.495·100, exactly so in float64; with
    a hair less tolerance it is a difference."""
    b = dataclasses.replace(TRAJECTORY, loss=np.full_like(TRAJECTORY.loss, 100.0))
    a = dataclasses.replace(TRAJECTORY, loss=np.full_like(TRAJECTORY.loss, 150.0))
    at = compare(a, b, Tolerance(atol=0.5, rtol=0.495))
    assert at.max_error_ratio == 1.0 and at.equal
    assert not compare(a, b, Tolerance(atol=0.5, rtol=0.4949)).equal


def test_the_worst_tensor_is_named_at_the_first_failing_step():
    bad = perturbed(perturbed(TRAJECTORY, "dense0/kernel", 3, 1e-3), "out/kernel", 3, 1e-1)
    agreement = compare(bad, TRAJECTORY, FLOAT64_TOLERANCE)
    assert (agreement.first_divergent_step, agreement.tensor) == (3, "out/kernel")


def test_a_divergence_names_its_side_and_the_finite_steps_before_it_are_compared():
    nan = perturbed(TRAJECTORY, "dense0/bias", 4, value=np.nan)
    other = dataclasses.replace(TRAJECTORY, framework="torch")
    agreement = compare(nan, other, FLOAT64_TOLERANCE)
    assert (agreement.diverged_step, agreement.diverged_side) == (4, "reference")
    agreement = compare(other, nan, FLOAT64_TOLERANCE)
    assert (agreement.diverged_step, agreement.diverged_side) == (4, "reference")
    both = perturbed(other, "loss", 4, value=np.inf)
    assert compare(nan, both, FLOAT64_TOLERANCE).diverged_side == "reference+torch"
    early = perturbed(perturbed(TRAJECTORY, "out/bias", 2, 1.0), "loss", 5, value=np.nan)
    agreement = compare(early, TRAJECTORY, FLOAT64_TOLERANCE)
    assert agreement.first_divergent_step == 2 and agreement.diverged_step == 5
    assert agreement.max_abs_error == pytest.approx(1.0) and not agreement.equal
    late = perturbed(perturbed(TRAJECTORY, "out/bias", 5, 1.0), "loss", 5, value=np.nan)
    assert compare(late, TRAJECTORY, FLOAT64_TOLERANCE).first_divergent_step is None
    first = perturbed(TRAJECTORY, "loss", 1, value=np.nan)
    agreement = compare(first, TRAJECTORY, FLOAT64_TOLERANCE)
    assert agreement.max_error_ratio == 0.0 and agreement.max_abs_error == 0.0


def test_exact_treats_any_difference_as_infinitely_large():
    bad = perturbed(TRAJECTORY, "out/kernel", 1, delta=1e-300)
    bad = perturbed(bad, "out/kernel", 1, value=np.nextafter(TRAJECTORY.params["out/kernel"][1]
                                                             .reshape(-1)[0], np.inf))  # fmt: skip
    agreement = compare(bad, TRAJECTORY, EXACT)
    assert agreement.max_error_ratio == np.inf and agreement.first_divergent_step == 1
    assert compare(TRAJECTORY, TRAJECTORY, EXACT).max_error_ratio == 0.0


@pytest.mark.parametrize("change", ["steps", "names", "evaluation"])
def test_trajectories_that_cannot_be_compared_are_refused(change):
    other = TRAJECTORY
    if change == "steps":
        other = dataclasses.replace(TRAJECTORY, loss=TRAJECTORY.loss[:-1])
    elif change == "names":
        params = dict(TRAJECTORY.params)
        params["extra/kernel"] = params.pop("out/kernel")
        other = dataclasses.replace(TRAJECTORY, params=params)
    else:
        other = dataclasses.replace(TRAJECTORY, evaluation=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not comparable"):
        compare(TRAJECTORY, other, FLOAT64_TOLERANCE)
    with pytest.raises(ValueError, match="not comparable"):
        compare(other, TRAJECTORY, FLOAT64_TOLERANCE)


def test_the_evaluation_output_is_compared_at_the_last_step():
    with_eval = dataclasses.replace(TRAJECTORY, evaluation=np.ones((2, 3)))
    off = dataclasses.replace(TRAJECTORY, evaluation=np.ones((2, 3)) + 1e-3)
    agreement = compare(off, with_eval, FLOAT64_TOLERANCE)
    assert (agreement.first_divergent_step, agreement.tensor) == (6, "evaluation")
    assert agreement.max_abs_error == pytest.approx(1e-3)
    assert compare(with_eval, with_eval, EXACT).equal


def test_among_equally_bad_tensors_the_first_compared_is_named():
    """Under EXACT every difference is infinitely large: a tie, broken by the order compared
    (the loss, then the parameters in their order), so the report is the same every run."""
    names = [n for n in TRAJECTORY.params if n in ("dense0/kernel", "out/kernel")]
    bad = perturbed(perturbed(TRAJECTORY, names[1], 2, 1e-3), names[0], 2, 1e-3)
    assert compare(bad, TRAJECTORY, EXACT).tensor == names[0]
    bad = perturbed(bad, "loss", 2, 1e-3)
    assert compare(bad, TRAJECTORY, EXACT).tensor == "loss"
