"""Every timed implementation computes the same update as the reference (fastest *correct*
path): torch for-loop, foreach, fused and compiled (SGD, momentum); JAX jit with and
without donation, and on one flat vector (``jit_flat``, ``optax.flatten``). The
torch.compile'd Adam and AdamW step differ; the tests below show why.

Each runs the catalogue's float64 case (where the maths is proven to 1e-12) and its float32
form (the agreement users get), step by step against the float64 reference. A wrong λ is
caught, so the comparison can fail.
"""

import pytest

from tests.helpers import adapter_class
from xbench.run.equivalence import TOLERANCES, compare
from xbench.run.registry import problem_for, record, run_case
from xbench.workloads.catalogue import case_for

IMPLEMENTATIONS = [
    ("torch", "forloop"), ("torch", "foreach"), ("torch", "fused"), ("torch", "compiled"),
    ("jax", "jit"), ("jax", "jit_donate"), ("jax", "jit_flat"),
]  # fmt: skip
CASES = [("sgd", "none"), ("momentum", "weight_decay"), ("adam", "weight_decay"),
         ("adamw", "weight_decay"), ("adam", "add_decayed_weights")]  # fmt: skip


def implementation_run(framework, implementation, case):
    adapter = adapter_class(framework)(problem_for(framework, case), case, implementation)
    return record(adapter, case)


def cases_for(framework, implementation):
    for optimizer, rule in CASES:
        if framework == "torch" and rule == "add_decayed_weights":
            continue
        if framework == "jax" and rule == "weight_decay" and optimizer != "adamw":
            continue
        if implementation == "compiled" and optimizer in ("adam", "adamw"):
            continue  # differs, for a known reason: see the tests below
        for dtype in ("float64", "float32"):
            yield pytest.param(
                framework, implementation, optimizer, rule, dtype,
                id=f"{framework}-{implementation}-{optimizer}-{rule}-{dtype}",
            )  # fmt: skip


@pytest.mark.parametrize(
    "framework, implementation, optimizer, rule, dtype",
    [p for fw, impl in IMPLEMENTATIONS for p in cases_for(fw, impl)],
)
def test_implementation_matches_the_reference(framework, implementation, optimizer, rule, dtype):
    case = case_for("mlp", optimizer, rule, dtype)
    agreement = compare(
        implementation_run(framework, implementation, case),
        run_case("reference", case),
        TOLERANCES[dtype],
    )
    assert agreement.equal, agreement.describe()


@pytest.mark.parametrize(
    "framework, implementation", [("torch", "fused"), ("jax", "jit_donate"), ("jax", "jit_flat")]
)
def test_a_wrong_decay_is_caught(framework, implementation):
    case = case_for("mlp", "adamw", "weight_decay", "float64")
    wrong = case.replace(weight_decay=case.weight_decay * 1.001)
    agreement = compare(
        implementation_run(framework, implementation, wrong),
        run_case("reference", case),
        TOLERANCES["float64"],
    )
    assert not agreement.equal and agreement.first_divergent_step == 1


def float64_step_counters(adapter):
    """Create torch Adam state by hand with a float64 ``step`` counter (eager reads it as a
    Python float; the compiled step computes 1 − βᵗ from the tensor itself)."""
    import torch

    for param in adapter.named.values():
        adapter.optimizer.state[param].update(
            step=torch.tensor(0.0, dtype=torch.float64),
            exp_avg=torch.zeros_like(param),
            exp_avg_sq=torch.zeros_like(param),
        )
    return adapter


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_adam_computes_bias_correction_from_a_float32_step(optimizer, dtype):
    """torch.compile'd Adam(W) keeps ``step`` as a float32 tensor (torch's scalar dtype while
    the default dtype is float32) and computes 1 − β₂ᵗ from it: at t = 1 that is 1 − 0.999 with
    a 1.3e-5 relative error. It differs from the reference (float64: from step 1; float32:
    beyond the tolerance a few steps later). Given float64 counters, the same compiled step
    agrees, so the counter is the whole difference."""
    torch_adapter = adapter_class("torch")
    case = case_for("mlp", optimizer, "weight_decay", dtype)
    reference = run_case("reference", case)
    compiled = torch_adapter(problem_for("torch", case), case, "compiled")
    agreement = compare(record(compiled, case), reference, TOLERANCES[dtype])
    assert not agreement.equal, agreement.describe()
    if dtype == "float64":
        assert agreement.first_divergent_step == 1
    fixed = float64_step_counters(torch_adapter(problem_for("torch", case), case, "compiled"))
    agreement = compare(record(fixed, case), reference, TOLERANCES[dtype])
    assert agreement.equal, agreement.describe()


MASKED = [("adamw", "weight_decay"), ("sgd", "add_decayed_weights"), ("sgd", "l1_prox")]


@pytest.mark.parametrize("optimizer, rule", MASKED)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_flat_path_keeps_the_mask(optimizer, rule, dtype):
    """``jit_flat`` turns the optax mask into a 0/1 vector over the flattened parameters: with
    biases exempt it still matches the reference, and decaying the biases too (the mask
    ignored) is caught, so the comparison sees the mask."""
    case = case_for("mlp", optimizer, rule, dtype, mask=True)
    reference = run_case("reference", case)
    flat = implementation_run("jax", "jit_flat", case)
    agreement = compare(flat, reference, TOLERANCES[dtype])
    assert agreement.equal, agreement.describe()
    unmasked = implementation_run("jax", "jit_flat", case.replace(mask=False))
    assert not compare(unmasked, reference, TOLERANCES[dtype]).equal
