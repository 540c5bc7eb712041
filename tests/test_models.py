"""Canonical layout round trips, and forward passes and gradients against the reference."""

import numpy as np
import pytest
from adapters_under_test import jax_loss_and_grads, torch_loss_and_grads
from conftest import FRAMEWORKS, adapter_class
from xbench_adapters.reference import loss_and_grads

from xbench.spec.cases import Case
from xbench.spec.models import MODELS, UNUSED_PARAM
from xbench.spec.problems import make_problem

MODEL_NAMES = list(MODELS)


@pytest.mark.parametrize("model", MODEL_NAMES)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_layout_round_trip(framework, model):
    case = Case(model=model)
    problem = make_problem(case)
    adapter = adapter_class(framework)(problem, case)
    native = adapter.to_native(problem.params)
    back = adapter.to_canonical(native)
    assert list(back) == list(problem.params)
    for name, value in problem.params.items():
        np.testing.assert_array_equal(back[name], value, err_msg=name)


def test_torch_native_layout_is_torch_convention():
    case = Case(model="cnn")
    adapter = adapter_class("torch")(make_problem(case), case)
    native = adapter.to_native(make_problem(case).params)
    assert tuple(native["conv0/kernel"].shape) == (4, 1, 3, 3)  # OIHW from HWIO (3, 3, 1, 4)
    assert tuple(native["out/kernel"].shape) == (4, 64)  # (out, in) from (in, out)
    assert tuple(adapter.x.shape[-3:]) == (1, 8, 8)  # NCHW images


def test_round_trip_check_catches_a_swapped_layout():
    case = Case(model="mlp")
    adapter = adapter_class("torch")(make_problem(case), case)
    kernel = make_problem(case).params["dense1/kernel"]  # square (16, 16): shape can't tell
    wrong = adapter.to_native({"dense1/kernel": kernel.T})  # as if the transpose were skipped
    assert not np.array_equal(adapter.to_canonical(wrong)["dense1/kernel"], kernel)


@pytest.mark.parametrize("model", MODEL_NAMES)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_forward_and_gradients_match_reference(framework, model):
    case = Case(model=model, unused_param=True)
    problem = make_problem(case)
    adapter_class(framework)
    x, y = problem.x[0], problem.y[0]
    ref_loss, ref_grads = loss_and_grads(problem.model, problem.params, x, y)
    compute = torch_loss_and_grads if framework == "torch" else jax_loss_and_grads
    loss, grads = compute(problem, case, x, y)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
    # torch leaves .grad None on a parameter outside the graph; JAX returns zeros, as the reference
    no_grad = {UNUSED_PARAM} if framework == "torch" else set()
    assert set(grads) == set(ref_grads) - no_grad
    np.testing.assert_array_equal(ref_grads[UNUSED_PARAM], 0.0)
    for name in grads:
        np.testing.assert_allclose(
            grads[name], ref_grads[name], rtol=1e-10, atol=1e-14, err_msg=name
        )


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_reference_gradients_match_finite_differences(model):
    problem = make_problem(Case(model=model))
    x, y = problem.x[0], problem.y[0]
    _, grads = loss_and_grads(problem.model, problem.params, x, y)
    rng = np.random.default_rng(1)
    h = 1e-6
    for name, value in problem.params.items():
        for _ in range(3):
            index = tuple(rng.integers(s) for s in value.shape)
            plus = {k: v.copy() for k, v in problem.params.items()}
            minus = {k: v.copy() for k, v in problem.params.items()}
            plus[name][index] += h
            minus[name][index] -= h
            numeric = (loss_and_grads(problem.model, plus, x, y)[0]
                       - loss_and_grads(problem.model, minus, x, y)[0]) / (2 * h)  # fmt: skip
            assert grads[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-9), (name, index)


def test_finite_difference_check_catches_a_wrong_gradient():
    problem = make_problem(Case(model="linear"))
    x, y = problem.x[0], problem.y[0]
    _, grads = loss_and_grads(problem.model, problem.params, x, y)
    plus = {k: v.copy() for k, v in problem.params.items()}
    plus["dense0/bias"][0] += 1e-6
    numeric = (
        loss_and_grads(problem.model, plus, x, y)[0]
        - loss_and_grads(problem.model, problem.params, x, y)[0]
    ) / 1e-6
    assert 1.5 * grads["dense0/bias"][0] != pytest.approx(numeric, rel=1e-4)
