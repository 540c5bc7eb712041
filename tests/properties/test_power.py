"""Power: in float64 the check flags a 0.1% error in λ in every mechanism, and a decay one
step late, while the unperturbed run passes. Each test shows both sides."""

import numpy as np
import pytest
from xbench_adapters.reference import ReferenceAdapter

from tests.helpers import adapter_class
from xbench.run.equivalence import FLOAT64_TOLERANCE, compare
from xbench.run.registry import record, run_case
from xbench.run.trajectory import Trajectory
from xbench.workloads.cases import Case
from xbench.workloads.catalogue import case_for
from xbench.workloads.problems import make_problem

MECHANISMS = [
    ("torch", "sgd", "weight_decay", ""),
    ("torch", "momentum", "weight_decay", ""),
    ("torch", "adam", "weight_decay", ""),
    ("torch", "adamw", "weight_decay", ""),
    ("torch", "sgd", "weight_decay", "decoupled"),
    ("jax", "adamw", "weight_decay", ""),
    ("jax", "momentum", "add_decayed_weights", ""),
    ("jax", "adam", "add_decayed_weights", ""),
    ("jax", "sgd", "add_decayed_weights", "after_lr"),
    ("torch", "adam", "l2_loss", ""),
    ("jax", "nesterov", "l2_loss", ""),
    ("torch", "momentum", "l1_loss", ""),
    ("jax", "adam", "l1_loss", ""),
    ("torch", "adamw", "elastic_net_loss", ""),
    ("jax", "sgd", "elastic_net_loss", ""),
    ("torch", "momentum", "l1_prox", ""),
    ("jax", "adam", "l1_prox", ""),
    ("torch", "adam", "weight_decay", "decoupled"),
    ("torch", "rmsprop", "weight_decay", ""),
    ("jax", "rmsprop", "add_decayed_weights", ""),
    ("torch", "adagrad", "l2_loss", ""),
    ("jax", "adagrad", "add_decayed_weights", ""),
]
IDS = [f"{f}-{o}-{r}{'-' + v if v else ''}" for f, o, r, v in MECHANISMS]


def mechanism_case(optimizer, rule, variant, framework="torch") -> Case:
    """The catalogue's case; optax.adagrad's ε is inside the root, so the reference's is too."""
    sqrt = optimizer == "adagrad" and framework == "jax"
    return case_for("mlp", optimizer, rule, "float64", variant=variant, eps_in_sqrt=sqrt)


def reference_run(case: Case, decay_delay: int = 0) -> Trajectory:
    return record(ReferenceAdapter(make_problem(case), case, decay_delay=decay_delay), case)


@pytest.mark.parametrize("framework, optimizer, rule, variant", MECHANISMS, ids=IDS)
def test_lambda_off_by_a_tenth_of_a_percent_is_flagged(framework, optimizer, rule, variant):
    adapter_class(framework)
    case = mechanism_case(optimizer, rule, variant, framework)
    reference = run_case("reference", case)
    assert compare(run_case(framework, case), reference, FLOAT64_TOLERANCE).equal
    off = run_case(framework, case.replace(weight_decay=case.weight_decay * 1.001))
    agreement = compare(off, reference, FLOAT64_TOLERANCE)
    assert not agreement.equal
    assert agreement.first_divergent_step == 1


@pytest.mark.parametrize("framework, optimizer, rule, variant", MECHANISMS, ids=IDS)
def test_decay_one_step_late_is_flagged(framework, optimizer, rule, variant):
    adapter_class(framework)
    case = mechanism_case(optimizer, rule, variant, framework)
    on_time = run_case(framework, case)
    assert compare(on_time, reference_run(case, decay_delay=0), FLOAT64_TOLERANCE).equal
    agreement = compare(on_time, reference_run(case, decay_delay=1), FLOAT64_TOLERANCE)
    assert not agreement.equal
    assert agreement.first_divergent_step == 1


def test_a_decay_started_late_is_no_decay_until_it_starts():
    """The reference's deliberate error (``decay_delay``, which explain's "one step late"
    uses too) decays nothing before its step, bit for bit, and then decays (found by make
    mutate: λ = 1 before it went unnoticed)."""
    case = case_for("mlp", "sgd", "weight_decay", "float64")
    late = reference_run(case, decay_delay=2)
    undecayed = reference_run(case.replace(weight_decay=0.0))
    for name, values in late.params.items():
        assert np.array_equal(values[:3], undecayed.params[name][:3]), name  # w0 and 2 steps
        assert not np.array_equal(values[3], undecayed.params[name][3]), name


def test_every_decaying_rule_and_every_optimizer_has_a_power_test():
    """A new rule or optimizer must join MECHANISMS (docs/extending.md)."""
    from xbench.workloads.cases import DECAYING_RULES, OPTIMIZERS

    assert {rule for _, _, rule, _ in MECHANISMS} == set(DECAYING_RULES)
    assert {optimizer for _, optimizer, _, _ in MECHANISMS} == set(OPTIMIZERS)


# The new hyper-parameters: (framework, case, field). Each run is compared in float64 with the
# reference of the unperturbed case; the field multiplied by 1.001 must be flagged.
CLIPPED = case_for("mlp", "sgd", "weight_decay", "float64", clip_norm=0.5)
TRANSFORMER = case_for("transformer", "adamw", "weight_decay", "float64", mask="hf", lr=1e-3)
BATCH_NORM = case_for("mlp_bn", "sgd", "weight_decay", "float64")
HYPER = [
    ("torch", case_for("mlp", "rmsprop", "none", "float64"), "alpha"),
    ("jax", case_for("mlp", "rmsprop", "none", "float64"), "alpha"),
    ("torch", case_for("mlp", "rmsprop", "none", "float64", momentum=0.9), "momentum"),
    ("jax", case_for("mlp", "rmsprop", "none", "float64", centered=True), "alpha"),
    ("torch", case_for("mlp", "adagrad", "none", "float64", initial_accumulator=0.1),
     "initial_accumulator"),
    ("jax", case_for("mlp", "adagrad", "none", "float64", initial_accumulator=0.1,
                     eps_in_sqrt=True), "initial_accumulator"),
    ("torch", case_for("mlp", "adagrad", "none", "float64", lr_decay=0.01), "lr_decay"),
    ("torch", case_for("mlp", "momentum", "none", "float64", dampening=0.5), "dampening"),
    ("torch", case_for("mlp", "adamw", "weight_decay", "float64", schedule="linear"), "lr"),
    ("torch", case_for("mlp", "sgd", "weight_decay", "float64", schedule="warmup_cosine",
                       warmup_steps=5), "lr"),
    ("jax", case_for("mlp", "adamw", "weight_decay", "float64", schedule="cosine"), "lr"),
    ("torch", TRANSFORMER, "weight_decay"),
    ("jax", TRANSFORMER, "weight_decay"),
    ("torch", TRANSFORMER.replace(optimizer="momentum", rule="l2_loss", lr=0.05), "weight_decay"),
    ("torch", CLIPPED, "clip_norm"),
    ("jax", CLIPPED.replace(rule="add_decayed_weights", clip_eps=0.0), "clip_norm"),
    ("torch", BATCH_NORM, "bn_momentum"),
    ("jax", BATCH_NORM.replace(rule="add_decayed_weights"), "bn_momentum"),
    ("jax", BATCH_NORM.replace(rule="add_decayed_weights", bn_running_var="biased"),
     "bn_momentum"),
    ("torch", BATCH_NORM, "weight_decay"),  # on the norm's scale and bias too (no mask)
]  # fmt: skip


@pytest.mark.parametrize(
    "framework, case, field", HYPER, ids=[f"{f}-{c.label}-{h}" for f, c, h in HYPER]
)
def test_new_hyper_parameter_off_by_a_tenth_of_a_percent_is_flagged(framework, case, field):
    adapter_class(framework)
    reference = run_case("reference", case)
    assert compare(run_case(framework, case), reference, FLOAT64_TOLERANCE).equal
    off = case.replace(**{field: getattr(case, field) * 1.001})
    agreement = compare(run_case(framework, off), reference, FLOAT64_TOLERANCE)
    assert not agreement.equal
    assert agreement.first_divergent_step == first_affected_step(case, field)


def first_affected_step(case: Case, field: str) -> int:
    """Step 1 unless the field cannot act on it: the momentum buffer, dampening (torch's
    first buffer is g itself) and lr_decay (η/(1 + 0·lr_decay)) start acting on step 2, and
    warmup_cosine's η_0 is 0."""
    late = field in ("momentum", "dampening", "lr_decay")
    return 2 if late or (field == "lr" and case.schedule == "warmup_cosine") else 1


def test_every_new_hyper_parameter_has_a_power_test():
    fields = {field for _, _, field in HYPER}
    assert {"alpha", "initial_accumulator", "lr_decay", "dampening", "clip_norm"} <= fields
    assert "bn_momentum" in fields
    schedules = {case.schedule for _, case, field in HYPER if field == "lr"}
    assert schedules == {"linear", "cosine", "warmup_cosine"}
