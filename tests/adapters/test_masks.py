"""Both frameworks decay exactly the same tensors, read back from torch and optax themselves."""

import dataclasses

import numpy as np
import pytest

from tests.helpers import adapter_class
from xbench.workloads.cases import (
    DECAYING_RULES,
    LOSS_RULES,
    Case,
    decayed_names,
    not_applicable_reason,
)
from xbench.workloads.problems import make_problem

CASES = [
    Case(model=m, optimizer=o, rule=r, weight_decay=0.1, mask=mask)
    for m in ("mlp_norm", "cnn")
    for o in ("momentum", "adamw")
    for r in DECAYING_RULES
    for mask in (False, True)
] + [
    Case(model="transformer", optimizer=o, rule=r, weight_decay=0.1, mask=mask)
    for o in ("momentum", "adamw", "rmsprop")
    for r in ("weight_decay", "l2_loss", "add_decayed_weights")
    for mask in ("hf", "ndim2")
]


def decayed_by(framework, case):
    return adapter_class(framework)(make_problem(case), case).decayed_names()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.label}")
def test_both_frameworks_decay_the_same_set(case):
    expected = decayed_names(make_problem(case).params, case)
    for framework in ("torch", "jax", "reference"):
        if not_applicable_reason(framework, case) is None:
            assert decayed_by(framework, case) == expected, framework


def test_mask_exempts_biases_and_norm_parameters():
    case = Case(
        model="mlp_norm", optimizer="adamw", rule="weight_decay", weight_decay=0.1, mask=True
    )
    decayed = decayed_by("torch", case)
    assert decayed == {"dense0/kernel", "dense1/kernel", "out/kernel"}
    assert decayed_by("jax", case) == decayed


def test_an_inverted_mask_is_caught():
    case = Case(
        model="mlp_norm", optimizer="adamw", rule="weight_decay", weight_decay=0.1, mask=True
    )
    adapter = adapter_class("jax")(make_problem(case), case)
    adapter.mask = {
        layer: {k: not v for k, v in leaves.items()} for layer, leaves in adapter.mask.items()
    }
    assert adapter.decayed_names() != decayed_by("torch", case)


def test_mask_on_the_transformer_exempts_embeddings_biases_and_norms():
    case = Case(
        model="transformer", optimizer="adamw", rule="weight_decay", weight_decay=0.1, mask=True
    )
    kernels = {f"block0_{p}/kernel" for p in ("attn_q", "attn_k", "attn_v", "attn_o")}
    kernels |= {"block0_mlp_in/kernel", "block0_mlp_out/kernel", "head/kernel"}
    for framework in ("torch", "jax", "reference"):
        assert decayed_by(framework, case) == kernels, framework


def test_hf_and_ndim2_conventions_on_the_transformer():
    case = Case(
        model="transformer", optimizer="adamw", rule="weight_decay", weight_decay=0.1, mask="hf"
    )
    params = make_problem(case).params
    hf = decayed_names(params, case)
    assert {"embed/token", "embed/position", "head/kernel"} <= hf
    assert not any(n.endswith(("/bias", "/scale")) for n in hf)
    assert decayed_names(params, case.replace(mask="ndim2")) == hf  # they coincide here
    assert decayed_names(params, case.replace(mask="kernels")) == hf - {
        "embed/token",
        "embed/position",
    }
    for framework in ("torch", "jax", "reference"):
        assert decayed_by(framework, case) == hf, framework


def test_hf_and_ndim2_part_on_a_one_dimensional_weight_that_is_not_a_bias():
    params = {"d/kernel": (3, 3), "d/bias": (3,), "n/scale": (3,), "v/kernel": (5,)}
    case = Case(rule="weight_decay", weight_decay=0.1)
    assert decayed_names(params, case.replace(mask="hf")) == {"d/kernel", "v/kernel"}
    assert decayed_names(params, case.replace(mask="ndim2")) == {"d/kernel"}
    assert decayed_names(params, case) == set(params)
    assert decayed_names(params, case.replace(rule="none", weight_decay=0.0)) == set()


def moved_by_a_zero_gradient_update(framework, case):
    """The tensors one update with zero gradients and λ > 0 changes: what the framework itself
    decays. A penalty in the loss acts through the gradient: JAX differentiates its penalty
    alone (the gradient the loss adds); the reference adds its term inside ``update``."""
    problem = make_problem(case)  # biases start at 0, where decay does nothing: shift them
    shifted = {n: np.asarray(v) + 0.5 for n, v in problem.params.items()}
    adapter = adapter_class(framework)(dataclasses.replace(problem, params=shifted), case)
    before = adapter.params()
    if framework == "jax" and case.rule in LOSS_RULES:
        import jax
        from xbench_adapters.jax_adapter import flatten, penalty

        grads = jax.grad(lambda p: penalty(case, p, adapter.mask))(adapter.tree)
        return {n for n, g in flatten(grads).items() if np.any(np.asarray(g) != 0)}
    zeros = {n: np.zeros_like(v) for n, v in before.items()}
    adapter.update(adapter.to_native(zeros))
    return {n for n, v in adapter.params().items() if not np.array_equal(v, before[n])}


READBACK = [
    Case(model=m, optimizer=o, rule=r, weight_decay=0.1, mask=mask)
    for m, mask in (("mlp_norm", True), ("mlp_norm", False), ("transformer", "hf"))
    for o, r in (("adamw", "weight_decay"), ("momentum", "add_decayed_weights"),
                 ("sgd", "l1_prox"), ("adam", "l2_loss"))
]  # fmt: skip


@pytest.mark.parametrize("case", READBACK, ids=lambda c: c.label)
@pytest.mark.parametrize("framework", ["jax", "reference"])
def test_the_decayed_set_read_back_from_what_moves(framework, case):
    if not_applicable_reason(framework, case) is not None:
        pytest.skip(not_applicable_reason(framework, case))
    expected = decayed_names(make_problem(case).params, case)
    assert moved_by_a_zero_gradient_update(framework, case) == expected
    assert moved_by_a_zero_gradient_update(framework, case.replace(weight_decay=0.0)) == set()
