"""The default catalogue, one test per entry: every expectation holds, with its reason.

The whole catalogue runs once per session (about a minute on 2 cores); each parametrised test
then asserts its own entry, so a failure names the entry, its step and its tensor.
"""

import dataclasses
from collections import Counter

import pytest

from xbench.errors import NotApplicable
from xbench.run.check import Filters, entry_verdict, run_catalogue
from xbench.run.equivalence import Agreement
from xbench.run.parallel import model_size, run_many, run_order
from xbench.run.registry import framework_available
from xbench.workloads.catalogue import Entry, Setup, case_for, default_catalogue

CATALOGUE = default_catalogue()
needs_both = pytest.mark.skipif(
    not (framework_available("torch") and framework_available("jax")), reason="needs torch and jax"
)


@pytest.fixture(scope="session")
def outcomes(catalogue_runs):
    """The whole catalogue, once per session (``catalogue_runs``), in worker processes as
    `xbench check` runs it (the sequential path is compared with it on the linear entries)."""
    return catalogue_runs(CATALOGUE)


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
                   "clipped with g", "in float32 (int32", "1e-6", "Flax's 0.9",
                   "biased batch variance", "decayed in JAX only"):  # fmt: skip
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
    "≤ 2e-7 relative": 1,
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
            if phrase in e.reason and e.left.case.model == "transformer":
                agreement = outcomes[e.name].agreement
                assert agreement.first_divergent_step == 1, e.name
                assert any(n in agreement.tensor for n in names), (e.name, agreement.tensor)
                found += 1
    assert found == 4  # two entries, two dtypes


@needs_both
@pytest.mark.slow
def test_the_batch_norm_port_mistakes_part_at_step_1_on_the_tensor_their_reasons_name(outcomes):
    """The momentum word: the running mean (it moves 9× too far); the variance: only the
    running variance (training never reads it); a missing mask: a norm's scale or bias."""
    where = {
        "Flax's 0.9": "/running_mean",
        "biased batch variance": "/running_var",
        "decayed in JAX only": ("/scale", "/bias"),
    }
    found = 0
    for e in CATALOGUE:
        for phrase, names in where.items():
            if phrase in e.reason and not e.expect_equal:
                agreement = outcomes[e.name].agreement
                assert agreement.first_divergent_step == 1, e.name
                tensor = agreement.tensor
                assert tensor.startswith("bn") and tensor.endswith(names), (e.name, tensor)
                found += 1
    assert found == 6  # three mistakes, two dtypes


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
    side = Setup("reference", case_for("mlp", "sgd", "none", "float64"))
    assert entry_verdict(Entry("e", side, side, expect_equal, "why"), agreement)[0] is held


@needs_both
def test_a_wrong_expectation_fails_the_check():
    sgd = case_for("mlp", "sgd", "weight_decay", "float64")
    right = Entry("ok", Setup("torch", sgd), Setup("reference", sgd), True, "same")
    off = dataclasses.replace(
        right, name="off", left=Setup("torch", sgd.replace(weight_decay=0.1001))
    )
    wrong = dataclasses.replace(right, name="wrong", expect_equal=False)
    held = {o.entry.name: o.held for o in run_catalogue([right, off, wrong])}
    assert held == {"ok": True, "off": False, "wrong": False}


LINEAR = [e for e in CATALOGUE if Filters(model=("linear",)).keep(e)]


def distinct_runs(entries):
    return list(dict.fromkeys((s.framework, s.case) for e in entries for s in (e.left, e.right)))


def bits(t):
    """Everything a trajectory holds, each array as its dtype, shape and bytes."""
    arrays = {"loss": t.loss, "x": t.x, "y": t.y, **t.params}
    return t.framework, t.case, {n: (v.dtype, v.shape, v.tobytes()) for n, v in arrays.items()}


@needs_both
@needs_both
def test_workers_give_the_same_trajectories_and_outcomes_bit_for_bit(outcomes):
    keys = distinct_runs(LINEAR)
    calls = []
    in_workers = run_many(keys, jobs=2, done=lambda *call: calls.append(call))
    here = run_many(keys, jobs=1)
    assert list(in_workers) == keys  # in the order asked, whatever the order they ended in
    assert all(bits(in_workers[k]) == bits(here[k]) for k in keys)
    assert Counter(key for _, _, key in calls) == Counter(keys)  # once per run, as it ends
    assert [(finished, total) for finished, total, _ in calls] == [
        (n, len(keys)) for n in range(1, len(keys) + 1)
    ]
    # the session's catalogue ran in workers: the same outcomes as in this process
    assert [outcomes[e.name] for e in LINEAR] == run_catalogue(LINEAR, jobs=1)


def test_progress_is_called_once_per_run_in_this_process():
    sgd, momentum = (case_for("linear", o, "none", "float64") for o in ("sgd", "momentum"))
    entries = [Entry("e", Setup("reference", sgd), Setup("reference", momentum), False, "why")] * 2
    calls = []
    run_catalogue(entries, progress=lambda *call: calls.append(call))
    assert calls == [(1, 2, ("reference", sgd)), (2, 2, ("reference", momentum))]


@needs_both
def test_an_error_in_a_worker_reaches_the_caller():
    inapplicable = ("jax", case_for("linear", "sgd", "weight_decay", "float64"))
    with pytest.raises(NotApplicable, match="optax.sgd has no weight_decay"):
        run_many([("reference", inapplicable[1]), inapplicable], jobs=2)


def test_workers_take_jax_runs_longest_first_and_eager_runs_spread_among_them():
    keys = distinct_runs(CATALOGUE)
    order = run_order(keys)
    assert Counter(order) == Counter(keys)
    sizes = [model_size(k) for k in order if k[0] == "jax"]
    assert sizes == sorted(sizes, reverse=True)  # JAX compiles every case: the longest runs
    eager = [i for i, k in enumerate(order) if k[0] != "jax"]
    quarters = Counter(4 * i // len(order) for i in eager)
    assert all(abs(quarters[q] - len(eager) / 4) <= 2 for q in range(4)), quarters


def coverage_gaps(catalogue) -> set:
    """(framework, optimizer, rule, dtype) a framework can run on mlp but that no entry checks
    against the reference, and the reverse (optax.adagrad counts with ε inside the root)."""
    from xbench.workloads.cases import DTYPES, OPTIMIZERS, RULES, not_applicable_reason

    covered = {
        (e.left.framework, e.left.case.optimizer, e.left.case.rule, e.left.case.dtype)
        for e in catalogue
        if e.right.framework == "reference"
        and e.left.case.model == "mlp"
        and not e.left.case.variant
        and e.expect_equal
    }
    gaps = set()
    for framework in ("torch", "jax"):
        for optimizer in OPTIMIZERS:
            sqrt_options = (False, True) if optimizer in ("rmsprop", "adagrad") else (False,)
            for rule in RULES:
                for dtype in DTYPES:
                    runnable = any(
                        not_applicable_reason(
                            framework, case_for("mlp", optimizer, rule, dtype, eps_in_sqrt=sqrt)
                        )
                        is None
                        for sqrt in sqrt_options
                    )
                    key = (framework, optimizer, rule, dtype)
                    if (key in covered) != runnable:
                        gaps.add(key)
    return gaps


def test_every_optimizer_and_rule_a_framework_can_run_is_checked_against_the_reference():
    """versus_reference drops a case a framework cannot run without a word: nothing
    expressible may go missing that way."""
    assert coverage_gaps(CATALOGUE) == set()
    dropped = [
        e
        for e in CATALOGUE
        if not (e.left.framework == "jax" and e.left.case.optimizer == "adagrad")
        or e.left.case.rule != "l1_loss"
    ]
    assert ("jax", "adagrad", "l1_loss", "float32") in coverage_gaps(dropped)


def published_differences() -> dict[str, tuple[int, str]]:
    """Each expected difference's first divergent step and tensor, from the committed
    baseline check (results/baseline/<machine>/check.json)."""
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "results" / "baseline"
    table = {}
    for path in sorted(folder.glob("*/check.json")):
        for e in json.loads(path.read_text())["entries"]:
            if e["expected"] != "equal" and e["agreement"]:
                a = e["agreement"]
                table[e["name"]] = (a["first_divergent_step"], a["tensor"])
    return table


DIFFERENCES = published_differences()


@needs_both
@pytest.mark.slow
def test_each_expected_difference_is_held_by_its_own_step_and_tensor(outcomes):
    """Not any difference: the one the reason names (a 3× learning rate on the torch side of
    an unused-parameter entry moves it from unused/kernel to dense1/kernel, and fails here)."""
    expected = [e.name for e in CATALOGUE if not e.expect_equal]
    assert set(expected) <= set(DIFFERENCES) and len(expected) >= 60
    found = {
        n: (outcomes[n].agreement.first_divergent_step, outcomes[n].agreement.tensor)
        for n in expected
    }
    assert found == {n: DIFFERENCES[n] for n in expected}


@needs_both
def test_a_3x_learning_rate_on_the_unused_parameter_entries_is_caught_by_the_table():
    """The must-fail companion: the perturbed entries still differ (so "held"), but not where
    the published record says; the table test above fails on them."""
    unused = [e for e in CATALOGUE if not e.expect_equal and e.left.case.unused_param]
    assert len(unused) == 4 and all(e.left.framework == "torch" for e in unused)
    unused = [e for e in unused if e.right.framework == "reference"]  # no JAX compile: fast
    fast = [
        dataclasses.replace(e, left=Setup("torch", e.left.case.replace(lr=e.left.case.lr * 3)))
        for e in unused
    ]
    for outcome in run_catalogue(fast):
        a = outcome.agreement
        assert outcome.held and DIFFERENCES[outcome.entry.name][1] == "unused/kernel"
        assert (a.first_divergent_step, a.tensor) != DIFFERENCES[outcome.entry.name]
