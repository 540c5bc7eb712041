"""The reference's update rules, each against torch on a small model: one catalogue
entry (float64, the reference on one side) per distinct optimizer, rule and option set, so a
changed rule in adapters/reference.py fails here in seconds (the mutation test's fast set;
the whole catalogue runs in test_catalogue.py)."""

import pytest

from xbench.run.check import run_catalogue
from xbench.spec.catalogue import default_catalogue

SMALL = ("linear", "mlp", "mlp_bn")


def signature(entry):
    side = entry.right if entry.left.framework == "reference" else entry.left  # torch
    case = {k: v for k, v in vars(side.case).items() if k not in ("model", "dtype", "seed")}
    return entry.expect_equal, tuple(sorted(case.items(), key=str))


def entries():
    seen, chosen = set(), []
    for e in default_catalogue():
        if "reference" not in (e.left.framework, e.right.framework):
            continue
        if e.left.case.dtype != "float64" or e.left.case.model not in SMALL:
            continue
        if "jax" in (e.left.framework, e.right.framework):  # torch is eager: no compile time
            continue
        if (key := signature(e)) not in seen:
            seen.add(key)
            chosen.append(e)
    return chosen


ENTRIES = entries()


@pytest.fixture(scope="module")
def outcomes():
    return {o.entry.name: o for o in run_catalogue(ENTRIES)}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_the_reference_rule_holds(entry, outcomes):
    outcome = outcomes[entry.name]
    assert outcome.held, f"{outcome.verdict}: {entry.reason}"
