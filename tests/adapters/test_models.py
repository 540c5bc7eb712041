"""Canonical layout round trips, and forward passes and gradients against the reference."""

import numpy as np
import pytest
from xbench_adapters import reference
from xbench_adapters.reference import loss_and_grads

from tests.helpers import (
    FRAMEWORKS,
    adapter_class,
    jax_loss_and_grads,
    numeric_gradient,
    torch_loss_and_grads,
)
from xbench.workloads.cases import Case
from xbench.workloads.models import MODELS, UNUSED_PARAM
from xbench.workloads.problems import make_problem

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
    for name, value in problem.params.items():  # every tensor, three elements of each
        for _ in range(3):
            index = tuple(rng.integers(s) for s in value.shape)
            numeric = numeric_gradient(problem, name, index)
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


# ----------------------------------------------------------------------------- the transformer


def test_torch_native_layout_keeps_embeddings_and_transposes_kernels():
    case = Case(model="transformer")
    problem = make_problem(case)
    native = adapter_class("torch")(problem, case).to_native(problem.params)
    for name in ("embed/token", "embed/position"):  # F.embedding's (rows, dim) already
        np.testing.assert_array_equal(native[name].numpy(), problem.params[name], err_msg=name)
    assert tuple(native["block0_mlp_in/kernel"].shape) == (16, 8)  # (out, in) from (8, 16)
    q = problem.params["block0_attn_q/kernel"]  # square: values, not shapes, show the transpose
    np.testing.assert_array_equal(native["block0_attn_q/kernel"].numpy(), q.T)


def test_transformer_gives_every_parameter_a_gradient():
    problem = make_problem(Case(model="transformer"))
    assert set(np.unique(problem.x)) == set(range(16))  # token ids, every one of the vocabulary
    _, grads = loss_and_grads(problem.model, problem.params, problem.x[0], problem.y[0])
    for name, grad in grads.items():
        assert np.abs(grad).max() > 1e-3, name


def test_a_key_bias_would_get_no_gradient():
    """Why attn_k has no bias: it shifts a whole row of scores, which the softmax ignores."""
    problem = make_problem(Case(model="transformer"))
    problem.params["block0_attn_k/bias"] = np.random.default_rng(2).normal(size=8)
    _, grads = loss_and_grads(problem.model, problem.params, problem.x[0], problem.y[0])
    np.testing.assert_allclose(grads["block0_attn_k/bias"], 0.0, atol=1e-15)
    assert numeric_gradient(problem, "block0_attn_k/bias", (3,)) == pytest.approx(0.0, abs=1e-9)


def transformer_outputs(framework, problem, case, x):
    """(batch, seq, 2): each position's two outputs, from ``framework``'s forward pass."""
    if framework == "reference":
        out = reference.forward(problem.model, problem.params, x)[0]
    elif framework == "torch":
        adapter = adapter_class("torch")(problem, case)
        out = adapter.forward(adapter._tensor(x)).detach().numpy()
    else:
        import jax.numpy as jnp

        adapter = adapter_class("jax")(problem, case)
        from xbench_adapters.jax_adapter import forward

        out = np.asarray(forward(problem.model, adapter.tree, jnp.asarray(x)))
    return out.reshape(x.shape[0], x.shape[1], -1)


def changed_positions(framework, position):
    """Per position, the largest change of the outputs when the token at ``position`` changes."""
    case = Case(model="transformer")
    problem = make_problem(case)
    x = problem.x[0]
    other = x.copy()
    other[:, position] = (other[:, position] + 5) % 16
    before = transformer_outputs(framework, problem, case, x)
    after = transformer_outputs(framework, problem, case, other)
    return np.abs(after - before).max(axis=(0, 2))


@pytest.mark.parametrize("framework", ["reference", *FRAMEWORKS])
def test_attention_is_causal(framework):
    last = changed_positions(framework, 5)
    np.testing.assert_array_equal(last[:5], 0.0)  # earlier positions never see the last token
    assert last[5] > 1e-2
    first = changed_positions(framework, 0)
    assert (first > 1e-3).all(), first  # every later position sees the first token


def test_causal_check_catches_a_missing_mask(monkeypatch):
    monkeypatch.setattr(reference, "causal_mask", lambda seq: np.ones((seq, seq), dtype=bool))
    assert (changed_positions("reference", 5)[:5] > 1e-3).all()


def test_finite_differences_catch_a_backward_without_the_scale(monkeypatch):
    """A backward pass that forgets the 1/√dim of the scores disagrees with the loss itself."""
    problem = make_problem(Case(model="transformer"))
    x, y = problem.x[0], problem.y[0]
    name, index = "block0_attn_q/kernel", (1, 2)
    numeric = numeric_gradient(problem, name, index)
    assert loss_and_grads(problem.model, problem.params, x, y)[1][name][index] == pytest.approx(
        numeric, rel=1e-5
    )
    monkeypatch.setattr(
        reference, "scores_backward", lambda d, q, k, dim: (d @ k, d.swapaxes(-1, -2) @ q)
    )
    wrong = loss_and_grads(problem.model, problem.params, x, y)[1][name][index]
    assert wrong != pytest.approx(numeric, rel=1e-2)
    assert wrong == pytest.approx(numeric * np.sqrt(8), rel=1e-5)  # off by exactly √dim
