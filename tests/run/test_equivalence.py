"""The step-by-step comparison itself, and that it fails on perturbed inputs."""

import numpy as np
import pytest

from tests.helpers import TRAJECTORY, perturbed
from xbench.run.equivalence import EXACT, FLOAT32_TOLERANCE, FLOAT64_TOLERANCE, compare


def test_identical_trajectories_are_equal():
    agreement = compare(TRAJECTORY, TRAJECTORY, EXACT)
    assert (
        agreement.equal and agreement.max_abs_error == 0 and agreement.first_divergent_step is None
    )


@pytest.mark.parametrize("name, step", [("dense1/kernel", 3), ("out/bias", 1), ("loss", 6)])
def test_reports_first_divergent_step_and_tensor(name, step):
    base = TRAJECTORY.params["dense0/kernel"] if name == "loss" else TRAJECTORY.params[name]
    delta = 1e-9 * (1 + np.abs(base).max())
    bad = perturbed(TRAJECTORY, name, step, delta=delta)
    agreement = compare(bad, TRAJECTORY, FLOAT64_TOLERANCE)
    assert not agreement.equal
    assert (agreement.first_divergent_step, agreement.tensor) == (step, name)


def test_difference_within_tolerance_is_equal_and_beyond_is_not():
    b = TRAJECTORY.params["dense1/kernel"][2].reshape(-1)[0]
    bound = FLOAT32_TOLERANCE.atol + FLOAT32_TOLERANCE.rtol * abs(b)
    assert compare(
        perturbed(TRAJECTORY, "dense1/kernel", 2, delta=0.9 * bound), TRAJECTORY, FLOAT32_TOLERANCE
    ).equal
    assert not compare(
        perturbed(TRAJECTORY, "dense1/kernel", 2, delta=1.1 * bound), TRAJECTORY, FLOAT32_TOLERANCE
    ).equal


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("side", ["a", "b"])
def test_nan_or_inf_is_diverged_never_equal(bad_value, side):
    bad = perturbed(TRAJECTORY, "dense0/bias", 4, value=bad_value)
    a, b = (bad, TRAJECTORY) if side == "a" else (TRAJECTORY, bad)
    agreement = compare(a, b, FLOAT64_TOLERANCE)
    assert not agreement.equal
    assert agreement.diverged_step == 4
    assert agreement.describe() == "diverged at step 4 (reference)"


def test_nan_in_both_is_still_diverged():
    bad = perturbed(TRAJECTORY, "loss", 2, value=np.nan)
    agreement = compare(bad, bad, FLOAT64_TOLERANCE)
    assert not agreement.equal and agreement.diverged_step == 2


def test_exact_flags_a_single_ulp():
    value = TRAJECTORY.params["out/kernel"][5].reshape(-1)[0]
    bad = perturbed(TRAJECTORY, "out/kernel", 5, value=np.nextafter(value, np.inf))
    assert not compare(bad, TRAJECTORY, EXACT).equal
    assert compare(bad, TRAJECTORY, FLOAT64_TOLERANCE).equal
