"""The gate's decision, pinned: which rule fires, the threshold and noise boundaries, and the
committed baseline check compared with itself (entries expected to differ included)."""

import json
from pathlib import Path

import pytest

from tests.helpers import check_entry, write_check
from xbench.analysis.compare import (
    IMPROVED,
    REGRESSED,
    UNCHANGED,
    UNGATED,
    WITHIN_NOISE,
    Comparison,
    compare_checks,
    timing_verdict,
)
from xbench.records.check_run import load as load_check

BASELINE = sorted((Path(__file__).resolve().parents[2] / "results/baseline").glob("*/check.json"))
NAME = "mlp-adamw-weight_decay-torch-vs-jax"


@pytest.mark.parametrize("path", BASELINE, ids=lambda p: p.parent.name)
def test_the_committed_baseline_compared_with_itself_has_no_regression(path):
    """Entry by entry: 0 regressions, among them the entries expected to differ (not equal in
    the baseline, and held): a gate that ignored the baseline's equality would flag them."""
    check = load_check(path)
    different = [e for e in check.entries if e.agreement and not e.agreement.equal]
    assert len(different) >= 19 and all(e.held for e in different)
    for entry in check.entries:
        one = check.__class__(**{**check.__dict__, "entries": (entry,)})
        gate = compare_checks(one, one)
        assert gate.regressions == () and gate.compared == 1, entry.name
    gate = compare_checks(check, check)
    assert gate.regressions == () and gate.compared == len(check.entries)


def gate_of(tmp_path, base, new):
    return compare_checks(
        load_check(write_check(tmp_path / "base.json", base)),
        load_check(write_check(tmp_path / "new.json", new)),
    )


def differ(held=True, error=1e-3, step=3):
    return check_entry(NAME, "torch", "jax", "float64", "different", held, error, step)


@pytest.mark.parametrize(
    "base, new, why",
    [
        (differ(), differ(), None),  # a known difference, unchanged
        (differ(), differ(error=1e-4), None),  # a known difference, smaller
        (differ(), differ(held=False), "expectation no longer holds"),  # it vanished
        (differ(error=1e-5), differ(error=2e-4), "max error ×20"),
        (check_entry(NAME, "torch", "jax", "float64"), differ(), "was equal"),
        (
            check_entry(NAME, "torch", "jax", "float64", error=1e-13),
            check_entry(NAME, "torch", "jax", "float64", error=1e-12),
            None,
        ),  # ×10: not more
        (
            check_entry(NAME, "torch", "jax", "float64", error=1e-13),
            check_entry(NAME, "torch", "jax", "float64", error=1.01e-12),
            "max error ×10",
        ),
        (
            check_entry(NAME, "torch", "jax", "float32", error=1e-9),
            check_entry(NAME, "torch", "jax", "float32", error=4e-8),
            None,
        ),  # under the floor
        (
            check_entry(NAME, "torch", "jax", "float32", error=1e-9),
            check_entry(NAME, "torch", "jax", "float32", error=6e-8),
            "max error ×12",
        ),
    ],
)
def test_which_equivalence_rule_fires(tmp_path, base, new, why):
    gate = gate_of(tmp_path, [base], [new])
    assert [r.why for r in gate.regressions] == ([why] if why else [])
    if why:
        (regression,) = gate.regressions
        assert regression.name == new["name"]
    if why in ("expectation no longer holds", "was equal"):
        assert (regression.was, regression.now) == (base["verdict"], new["verdict"])


def test_a_failing_entry_that_failed_already_is_not_a_new_regression(tmp_path):
    failed = differ(held=False)
    assert gate_of(tmp_path, [failed], [failed]).regressions == ()


def test_an_entry_now_skipped_and_one_absent_are_named(tmp_path):
    skipped = dict(differ(), agreement=None, verdict="skipped: jax not installed")
    other = check_entry("x", "torch", "jax", "float64")
    gate = gate_of(tmp_path, [differ(), other], [skipped])
    assert [(r.name, r.why) for r in gate.regressions] == [
        (f"{NAME}-float64", "no longer checked"),
        ("x-float64", "not in the check"),
    ]
    assert gate.only_in_baseline == ("x-float64",) and gate.compared == 1
    gate = gate_of(tmp_path, [skipped], [differ()])  # checked again: fine
    assert gate.regressions == ()


@pytest.mark.parametrize(
    "ratio, noise, verdict",
    [  # threshold 25%, noise 0 or 50%: binary fractions, so "at" is exactly at
        (1.2499, 0.0, UNCHANGED),  # just below the threshold
        (1.25, 0.0, UNCHANGED),  # at it
        (1.2501, 0.0, REGRESSED),  # just above
        (0.7499, 0.0, IMPROVED),
        (0.75, 0.0, UNCHANGED),
        (1.2501, 0.5, WITHIN_NOISE),  # above the threshold, inside the noise
        (1.5, 0.5, WITHIN_NOISE),  # at the noise
        (1.5001, 0.5, REGRESSED),  # beyond both
        (0.4999, 0.5, IMPROVED),
        (0.5, 0.5, WITHIN_NOISE),
        (1.125, 0.5, UNCHANGED),  # within the threshold: unchanged whatever the noise
        (1.25, 1.0, UNCHANGED),
        (None, 0.0, UNGATED),
    ],
)
def test_the_threshold_and_noise_boundaries(ratio, noise, verdict):
    assert timing_verdict(ratio, noise, 0.25) == verdict


def test_the_ratio_divides_each_side_by_its_own_reference():
    c = Comparison("x", base=2.0, new=3.0, base_reference=1.0, new_reference=2.0, noise=0,
                   verdict="")  # fmt: skip
    assert c.ratio == pytest.approx(0.75) and c.raw_ratio == pytest.approx(1.5)
    assert Comparison("x", 2.0, 3.0, None, 2.0, 0, "").ratio is None
    assert Comparison("x", 2.0, 3.0, 1.0, None, 0, "").ratio is None


def test_the_baseline_checks_are_json():
    assert all(json.loads(p.read_text())["entries"] for p in BASELINE)


def test_a_bare_1_is_one_percent_and_checks_with_nothing_in_common_are_refused(tmp_path):
    from xbench.analysis.compare import parse_threshold
    from xbench.errors import UsageError

    assert parse_threshold("1") == pytest.approx(0.01)  # the smallest bare number accepted
    with pytest.raises(UsageError, match="ambiguous"):
        parse_threshold("0.99")
    # the open interval (0%, 1000%): both ends refused, just inside them accepted
    for outside in ("0%", "0.0%", "1000%", "1000"):
        with pytest.raises(UsageError, match="malformed"):
            parse_threshold(outside)
    assert parse_threshold("0.001%") == pytest.approx(1e-5)
    assert parse_threshold("999.9%") == pytest.approx(9.999)
    with pytest.raises(UsageError, match="no check entry is in both"):
        gate_of(tmp_path, [check_entry("a", "torch", "jax", "float64")],
                [check_entry("b", "torch", "jax", "float64")])  # fmt: skip
