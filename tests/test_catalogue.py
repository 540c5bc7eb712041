"""The default catalogue, one test per entry: every expectation holds, with its reason.

The whole catalogue runs once per session (about a minute on 2 cores); each parametrised test
then asserts its own entry, so a failure names the entry, its step and its tensor.
"""

import dataclasses

import pytest

from xbench.run.check import entry_verdict, run_catalogue
from xbench.run.equivalence import Agreement
from xbench.run.registry import framework_available
from xbench.spec.catalogue import Entry, Side, case_for, default_catalogue

CATALOGUE = default_catalogue()
needs_both = pytest.mark.skipif(
    not (framework_available("torch") and framework_available("jax")), reason="needs torch and jax"
)


@pytest.fixture(scope="session")
def outcomes():
    return {o.entry.name: o for o in run_catalogue(CATALOGUE)}


@needs_both
@pytest.mark.slow
@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e.name)
def test_entry_holds(entry, outcomes):
    outcome = outcomes[entry.name]
    assert outcome.agreement is not None
    assert outcome.held, (
        f"{outcome.verdict}; expected {'equal' if entry.expect_equal else 'different'}: "
        f"{entry.reason}"
    )
    if not entry.expect_equal:
        assert outcome.agreement.first_divergent_step is not None


def test_catalogue_covers_the_spec_non_equivalences():
    reasons = " ".join(e.reason for e in CATALOGUE if not e.expect_equal)
    for phrase in ("before the moments", "after scale_by_learning_rate", "without the ½",
                   ".grad is None", "tiny decay survives", "optax.rmsprop's defaults",
                   "optax.adagrad's defaults", "dampening", "once per epoch", "η_(t+1)",
                   "clipped with g", "in float32 (int32", "1e-6"):  # fmt: skip
        assert phrase in reasons
    tiny_torch = [
        e
        for e in CATALOGUE
        if e.left.framework == "torch" and e.exact and e.left.case.dtype == "float32"
    ]
    assert len(tiny_torch) == 1 and tiny_torch[0].expect_equal  # the decay is lost: equal to none


# Known differences of the optimizers and training-loop pieces, by a phrase of their reason:
# the step each must first differ at (docs/rules.md's "from step" column).
FIRST_STEP = {
    "optax.rmsprop's defaults": 1,
    "s starts at 0": 1,
    "≈ 3e-7 relative": 1,
    "accumulator 0.1 and ε 1e-7": 1,
    "dampening scales g": 2,
    "optax has no dampening": 2,
    "optax's linear schedule": 1,
    "optax's warmup_cosine schedule": 2,
    "once per epoch": 2,
    "uses η_(t+1)": 1,
    "before its momentum trace": 2,
    "L2 in the loss is clipped": 1,
    "divides by ‖g‖ + 1e-6": 1,
}


@needs_both
@pytest.mark.slow
def test_new_known_differences_start_at_the_documented_step(outcomes):
    checked = set()
    for e in CATALOGUE:
        phrases = [p for p in FIRST_STEP if p in e.reason and not e.expect_equal]
        if not phrases or (e.left.case.dtype == "float32" and "resolved" in e.reason):
            continue
        step = FIRST_STEP[phrases[0]]
        if "1e-6" in e.reason and e.left.case.optimizer == "adamw":
            step = 2  # Adam's first step is g/|g|: the clip's scale cancels
        assert outcomes[e.name].agreement.first_divergent_step == step, e.name
        checked.add(phrases[0])
    assert checked == set(FIRST_STEP)


@needs_both
@pytest.mark.slow
def test_the_transformer_mask_differences_start_where_their_reasons_say(outcomes):
    """A port without a mask parts first on a norm weight or a bias; hf against kernels-only
    on an embedding."""
    where = {"decays every leaf": ("/scale", "/bias"), "decays the embeddings": ("embed/",)}
    found = 0
    for e in CATALOGUE:
        for phrase, names in where.items():
            if phrase in e.reason:
                agreement = outcomes[e.name].agreement
                assert agreement.first_divergent_step == 1, e.name
                assert any(n in agreement.tensor for n in names), (e.name, agreement.tensor)
                found += 1
    assert found == 4  # two entries, two dtypes


def test_every_difference_has_a_reason_and_names_are_unique():
    assert all(e.reason for e in CATALOGUE)
    assert len({e.name for e in CATALOGUE}) == len(CATALOGUE)


EQUAL = Agreement(True, 0.0, 0.0, None, None)
DIFFERENT = Agreement(False, 1.0, 1e9, 3, "out/kernel")
DIVERGED = Agreement(False, 0.0, 0.0, None, None, diverged_step=2, diverged_side="jax")


@pytest.mark.parametrize(
    "expect_equal, agreement, held",
    [(True, EQUAL, True), (True, DIFFERENT, False), (True, DIVERGED, False),
     (False, DIFFERENT, True), (False, EQUAL, False), (False, DIVERGED, False)],
)  # fmt: skip
def test_entry_verdict(expect_equal, agreement, held):
    side = Side("reference", case_for("mlp", "sgd", "none", "float64"))
    assert entry_verdict(Entry("e", side, side, expect_equal, "why"), agreement)[0] is held


@needs_both
def test_a_wrong_expectation_fails_the_check():
    sgd = case_for("mlp", "sgd", "weight_decay", "float64")
    right = Entry("ok", Side("torch", sgd), Side("reference", sgd), True, "same")
    off = dataclasses.replace(
        right, name="off", left=Side("torch", sgd.replace(weight_decay=0.1001))
    )
    wrong = dataclasses.replace(right, name="wrong", expect_equal=False)
    held = {o.entry.name: o.held for o in run_catalogue([right, off, wrong])}
    assert held == {"ok": True, "off": False, "wrong": False}
