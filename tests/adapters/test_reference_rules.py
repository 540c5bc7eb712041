"""The reference's update rules, each against torch (JAX where torch cannot run it) on a
small model: one catalogue entry (float64, the reference on one side) per distinct optimizer,
rule and option set, so a changed rule in adapters/reference.py fails here in seconds (the
mutation test's fast set; the whole catalogue runs in test_catalogue.py)."""

import numpy as np
import pytest

from xbench.workloads.catalogue import default_catalogue

SMALL = ("linear", "mlp", "mlp_bn")


def signature(entry):
    side = entry.right if entry.left.framework == "reference" else entry.left  # torch
    case = {k: v for k, v in vars(side.case).items() if k not in ("model", "dtype", "seed")}
    return entry.expect_equal, tuple(sorted(case.items(), key=str))


def entries():
    """Torch first (eager: no compile time); JAX only for RMSprop and Adagrad options torch
    cannot run (e.g. ε inside the square root)."""
    seen, chosen = set(), []
    candidates = [
        e
        for e in default_catalogue()
        if "reference" in (e.left.framework, e.right.framework)
        and e.left.case.dtype == "float64"
        and e.left.case.model in SMALL
    ]
    for framework in ("torch", "jax"):
        for e in candidates:
            if framework == "jax" and (
                e.left.case.optimizer not in ("rmsprop", "adagrad") or e.left.case.rule != "none"
            ):
                continue  # torch covers the other rules; JAX compiles cost seconds each
            if framework in (e.left.framework, e.right.framework) and signature(e) not in seen:
                seen.add(signature(e))
                chosen.append(e)
    return chosen


ENTRIES = entries()


@pytest.fixture(scope="module")
def outcomes(catalogue_runs):
    """Taken from the session's catalogue run when test_catalogue.py ran them already; run
    here alone (seconds) when this file runs by itself (make mutate's fast set)."""
    return catalogue_runs(ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_the_reference_rule_holds(entry, outcomes):
    outcome = outcomes[entry.name]
    assert outcome.held, f"{outcome.verdict}: {entry.reason}"


def test_adagrad_leaves_a_parameter_with_no_gradient_where_it_is_even_with_no_eps():
    """optax's Adagrad divides by √(Σg² + ε) only where Σg² > 0: with no initial
    accumulator and ε = 0, a parameter whose gradient is always 0 stays put (0/0 elsewhere);
    the reference does the same, and matches optax (found by make mutate: the guard could be
    moved to RMSprop unnoticed)."""
    pytest.importorskip("jax")
    from xbench.run.equivalence import FLOAT64_TOLERANCE, compare
    from xbench.run.registry import run_case
    from xbench.workloads.cases import Case

    case = Case(model="mlp", optimizer="adagrad", rule="none", eps=0.0, eps_in_sqrt=True,
                initial_accumulator=0.0, unused_param=True, dtype="float64", steps=5)  # fmt: skip
    with np.errstate(invalid="ignore"):
        reference = run_case("reference", case)
    unused = reference.params["unused/kernel"]
    assert np.isfinite(unused).all() and (unused == unused[0]).all()
    assert compare(reference, run_case("jax", case), FLOAT64_TOLERANCE).equal
