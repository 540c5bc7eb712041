"""Power: in float64 the check flags a 0.1% error in λ in every mechanism, and a decay one
step late, while the unperturbed run passes. Each test shows both sides."""

import pytest
from conftest import adapter_class
from xbench_adapters.reference import ReferenceAdapter

from xbench.run.equivalence import FLOAT64_TOLERANCE, compare
from xbench.run.registry import record, run_case
from xbench.run.trajectory import Trajectory
from xbench.spec.cases import Case
from xbench.spec.catalogue import case_for
from xbench.spec.problems import make_problem

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
]
IDS = [f"{f}-{o}-{r}{'-' + v if v else ''}" for f, o, r, v in MECHANISMS]


def mechanism_case(optimizer, rule, variant) -> Case:
    return case_for("mlp", optimizer, rule, "float64", variant=variant)


def reference_run(case: Case, decay_delay: int = 0) -> Trajectory:
    return record(ReferenceAdapter(make_problem(case), case, decay_delay=decay_delay), case)


@pytest.mark.parametrize("framework, optimizer, rule, variant", MECHANISMS, ids=IDS)
def test_lambda_off_by_a_tenth_of_a_percent_is_flagged(framework, optimizer, rule, variant):
    adapter_class(framework)
    case = mechanism_case(optimizer, rule, variant)
    reference = run_case("reference", case)
    assert compare(run_case(framework, case), reference, FLOAT64_TOLERANCE).equal
    off = run_case(framework, case.replace(weight_decay=case.weight_decay * 1.001))
    agreement = compare(off, reference, FLOAT64_TOLERANCE)
    assert not agreement.equal
    assert agreement.first_divergent_step == 1


@pytest.mark.parametrize("framework, optimizer, rule, variant", MECHANISMS, ids=IDS)
def test_decay_one_step_late_is_flagged(framework, optimizer, rule, variant):
    adapter_class(framework)
    case = mechanism_case(optimizer, rule, variant)
    on_time = run_case(framework, case)
    assert compare(on_time, reference_run(case, decay_delay=0), FLOAT64_TOLERANCE).equal
    agreement = compare(on_time, reference_run(case, decay_delay=1), FLOAT64_TOLERANCE)
    assert not agreement.equal
    assert agreement.first_divergent_step == 1


def test_every_decaying_rule_and_every_optimizer_has_a_power_test():
    """A new rule or optimizer must join MECHANISMS (docs/extending.md)."""
    from xbench.spec.cases import DECAYING_RULES, OPTIMIZERS

    assert {rule for _, _, rule, _ in MECHANISMS} == set(DECAYING_RULES)
    assert {optimizer for _, optimizer, _, _ in MECHANISMS} == set(OPTIMIZERS)
