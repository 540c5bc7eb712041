"""`xbench compare` on synthetic pairs of runs: what fails the gate and what must not."""

import json

import pytest

from tests.helpers import GATED, REFERENCE, check_entry, gate_run, run_cli, write_check
from xbench.analysis.compare import (
    IMPROVED,
    REGRESSED,
    UNCHANGED,
    UNGATED,
    WITHIN_NOISE,
    compare_checks,
    compare_runs,
    parse_threshold,
)
from xbench.errors import UsageError
from xbench.records.bench_run import load as load_run
from xbench.records.check_run import load as load_check


def verdicts(gate):
    return {c.name.split("-")[4]: c.verdict for c in gate.compared if c.verdict != UNGATED}


def gate_of(tmp_path, base, new, **kw):
    return compare_runs(load_run(base), load_run(new), **kw)


def test_one_benchmark_30_percent_slower_fails(capsys, tmp_path):
    base = gate_run(tmp_path, "base")
    new = gate_run(tmp_path, "new", times={"forloop": 4e-3 * 1.3})
    gate = gate_of(tmp_path, base, new)
    assert verdicts(gate) == {"fused": UNCHANGED, "forloop": REGRESSED, "foreach": UNCHANGED}
    (regression,) = gate.regressions
    assert regression.ratio == pytest.approx(1.3) and regression.raw_ratio == pytest.approx(1.3)
    code, out, _ = run_cli(capsys, "compare", str(base), str(new))
    assert code == 1 and "REGRESSED update-adamw-weight_decay-torch-forloop" in out
    assert out.rstrip().endswith("FAIL")


def test_the_whole_machine_30_percent_slower_passes(capsys, tmp_path):
    base = gate_run(tmp_path, "base")
    slower = {impl: t * 1.3 for impl, t in GATED}
    new = gate_run(tmp_path, "new", times=slower, reference=REFERENCE * 1.3)
    gate = gate_of(tmp_path, base, new)
    assert set(verdicts(gate).values()) == {UNCHANGED}
    assert all(c.raw_ratio == pytest.approx(1.3) for c in gate.compared)  # raw shown too
    assert all(c.ratio == pytest.approx(1.0) for c in gate.compared if c.ratio is not None)
    code, out, _ = run_cli(capsys, "compare", str(base), str(new))
    assert code == 0 and "1.300" in out and out.rstrip().endswith("pass")


def test_the_machine_slower_but_not_the_reference_is_a_regression(tmp_path):
    """The companion of the test above: normalisation does not hide a real slowdown."""
    base = gate_run(tmp_path, "base")
    new = gate_run(tmp_path, "new", times={impl: t * 1.3 for impl, t in GATED})
    assert set(verdicts(gate_of(tmp_path, base, new)).values()) == {REGRESSED}


def test_a_3_percent_change_passes(tmp_path):
    base = gate_run(tmp_path, "base")
    new = gate_run(tmp_path, "new", times={"fused": 1.03e-3, "forloop": 4e-3 * 0.97})
    gate = gate_of(tmp_path, base, new)
    assert set(verdicts(gate).values()) == {UNCHANGED} and not gate.regressions


def test_an_improvement_passes_and_is_reported(capsys, tmp_path):
    base = gate_run(tmp_path, "base")
    new = gate_run(tmp_path, "new", times={"fused": 0.7e-3})
    gate = gate_of(tmp_path, base, new)
    assert verdicts(gate)["fused"] == IMPROVED and not gate.regressions
    code, out, _ = run_cli(capsys, "compare", str(base), str(new))
    assert code == 0 and "improved update-adamw-weight_decay-torch-fused" in out


def test_a_slowdown_within_the_noise_is_not_a_regression(tmp_path):
    base = gate_run(tmp_path, "base", spread=0.5)
    new = gate_run(tmp_path, "new", times={"forloop": 4e-3 * 1.3}, spread=0.5)
    assert verdicts(gate_of(tmp_path, base, new))["forloop"] == WITHIN_NOISE


def test_the_noise_is_the_mean_of_the_two_runs_spreads(tmp_path):
    """Spreads (IQR/median) 0.1 and 0.3: noise 0.2, so 1.3× is a regression; a noise of
    twice their sum (0.8) would have called it within noise."""
    base = gate_run(tmp_path, "base", spread=0.1)
    new = gate_run(tmp_path, "new", times={"forloop": 4e-3 * 1.3}, spread=0.3)
    gate = gate_of(tmp_path, base, new)
    assert all(c.noise == pytest.approx(0.2) for c in gate.compared)
    assert verdicts(gate)["forloop"] == REGRESSED


def test_the_threshold_is_a_boundary(tmp_path):
    base = gate_run(tmp_path, "base")
    new = gate_run(tmp_path, "new", times={"forloop": 4e-3 * 1.25})
    assert verdicts(gate_of(tmp_path, base, new, threshold=0.26))["forloop"] == UNCHANGED
    assert verdicts(gate_of(tmp_path, base, new, threshold=0.24))["forloop"] == REGRESSED


def test_benchmarks_on_one_side_only_are_listed(capsys, tmp_path):
    base = gate_run(tmp_path, "base", drop=("foreach",))
    new = gate_run(tmp_path, "new", drop=("forloop",))
    gate = gate_of(tmp_path, base, new)
    assert gate.only_in_baseline == ("update-adamw-weight_decay-torch-forloop-1e6-one",)
    assert gate.only_in_new == ("update-adamw-weight_decay-torch-foreach-1e6-one",)
    code, out, _ = run_cli(capsys, "compare", str(base), str(new))
    assert code == 0
    assert "only in the baseline (1): update-adamw-weight_decay-torch-forloop-1e6-one" in out
    assert "only in the new run (1): update-adamw-weight_decay-torch-foreach-1e6-one" in out


def test_the_chosen_statistic_is_the_one_compared(tmp_path):
    """Medians equal, minima 30% apart, means 3% apart: each --stat sees its own figure."""
    base = gate_run(tmp_path, "base")
    new = gate_run(tmp_path, "new")
    doc = json.loads(new.read_text())
    for b in doc["benchmarks"]:
        if b["extra_info"]["implementation"] == "forloop":
            b["stats"].update(min=b["stats"]["min"] * 1.3, mean=b["stats"]["mean"] * 1.03)
    new.write_text(json.dumps(doc))
    assert verdicts(gate_of(tmp_path, base, new, stat="median"))["forloop"] == UNCHANGED
    assert verdicts(gate_of(tmp_path, base, new, stat="min"))["forloop"] == REGRESSED
    assert verdicts(gate_of(tmp_path, base, new, stat="mean"))["forloop"] == UNCHANGED
    with pytest.raises(UsageError, match="unknown --stat 'p99'"):
        gate_of(tmp_path, base, new, stat="p99")


def test_runs_that_differ_in_settings_are_warned_about(capsys, tmp_path):
    base = gate_run(tmp_path, "base")
    new = gate_run(tmp_path, "new")
    doc = json.loads(new.read_text())
    doc["machine_info"]["versions"]["torch"] = "2.12.0+cpu"
    new.write_text(json.dumps(doc))
    code, _, err = run_cli(capsys, "compare", str(base), str(new))
    assert code == 0 and "warning: versions differs" in err and "2.12.0+cpu" in err
    code, _, err = run_cli(capsys, "compare", str(base), str(base))
    assert code == 0 and "warning" not in err


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--threshold", "ten%"], "'ten%'"),
        (["--threshold=-5%"], "'-5%'"),
        (["--threshold", "0"], "'0'"),
        (["--threshold", "nan"], "'nan'"),
        (["--stat", "p99"], "'p99'"),
        (["--baseline-check", "x.json"], "both --baseline-check and --new-check"),
        (["--threshold", "0.1"], "ambiguous --threshold '0.1'"),
        (["--threads", "1"], "--threads go(es) with --against"),
        (["--label", "x"], "--label go(es) with --against"),
        (["--device", "tpu"], "--device go(es) with --against"),
    ],
)
def test_bad_options_exit_2_in_one_line(capsys, tmp_path, argv, named):
    base, new = gate_run(tmp_path, "base"), gate_run(tmp_path, "new")
    code, out, err = run_cli(capsys, "compare", str(base), str(new), *argv)
    assert code == 2 and out == "" and named in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [None, "", '{"benchmarks": [', '{"results": 1}'])
def test_bad_run_files_exit_2_naming_the_file(capsys, tmp_path, content):
    base = gate_run(tmp_path, "base")
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    code, _, err = run_cli(capsys, "compare", str(base), str(bad))
    assert code == 2 and str(bad) in err and len(err.strip().splitlines()) == 1


def test_thresholds_parse_as_percentages():
    assert parse_threshold("10%") == pytest.approx(0.10)
    assert parse_threshold("2.5") == pytest.approx(0.025)
    assert parse_threshold("0.5%") == pytest.approx(0.005)


def rewrite(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def test_a_run_without_reference_kernels_cannot_be_gated(capsys, tmp_path):
    base = gate_run(tmp_path, "base")

    def strip(doc):
        doc["benchmarks"] = [b for b in doc["benchmarks"] if b["extra_info"]["kind"] != "reference"]
        for b in doc["benchmarks"]:
            del b["extra_info"]["adjacent_reference"]

    new = rewrite(gate_run(tmp_path, "new"), strip)
    code, out, err = run_cli(capsys, "compare", str(base), str(new))
    assert code == 2 and out == "" and "no reference kernel" in err and str(new) in err


def test_runs_with_nothing_in_common_exit_2(capsys, tmp_path):
    base = gate_run(tmp_path, "base", drop=("fused", "foreach", "forloop"))
    other = rewrite(gate_run(tmp_path, "new"), lambda d: d.update(benchmarks=d["benchmarks"][:3]))
    code, _, err = run_cli(capsys, "compare", str(base), str(other))
    assert code == 2 and "no benchmark is in both" in err
    code, _, err = run_cli(capsys, "compare", "--spread", str(base), str(other))
    assert code == 2 and "no benchmark in common" in err


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda b: b["extra_info"].update(adjacent_reference={"median": 0}), "positive median"),
        (lambda b: b["extra_info"].update(adjacent_reference=[1]), "positive median"),
        (lambda b: b["extra_info"].update(param_count=0), "param_count 0"),
    ],
)
def test_malformed_benchmarks_exit_2(capsys, tmp_path, change, named):
    base = gate_run(tmp_path, "base")
    new = rewrite(gate_run(tmp_path, "new"), lambda d: change(d["benchmarks"][0]))
    code, _, err = run_cli(capsys, "compare", str(base), str(new))
    assert code == 2 and named in err and str(new) in err


# ----------------------------------------------------------------------------- equivalence


def two_checks(tmp_path, new_entry):
    base = [check_entry("mlp-adamw-weight_decay-torch-vs-jax", "torch", "jax", "float64",
                        error=1e-13)]  # fmt: skip
    return (
        load_check(write_check(tmp_path / "base_check.json", base)),
        load_check(write_check(tmp_path / "new_check.json", [new_entry])),
    )


@pytest.mark.parametrize(
    "error, held, regressed",
    [
        (1e-13, True, False),  # unchanged
        (9e-13, True, False),  # grew ×9
        (1.1e-12, True, True),  # grew ×11
        (5e-13, False, True),  # was equal, now differs
    ],
)
def test_equivalence_regressions(tmp_path, error, held, regressed):
    new = check_entry("mlp-adamw-weight_decay-torch-vs-jax", "torch", "jax", "float64",
                      held=held, error=error)  # fmt: skip
    gate = compare_checks(*two_checks(tmp_path, new))
    assert bool(gate.regressions) is regressed and gate.compared == 1


def test_a_pair_that_is_no_longer_checked_regresses(tmp_path):
    new = check_entry("mlp-adamw-weight_decay-torch-vs-jax", "torch", "jax", "float64")
    new.update(agreement=None, verdict="skipped: jax not installed")
    gate = compare_checks(*two_checks(tmp_path, new))
    assert [r.why for r in gate.regressions] == ["no longer checked"]


@pytest.mark.parametrize(
    "entry, named",
    [
        ([1], "is not an object"),
        ({"name": "x"}, "lacks"),
        (dict(check_entry("x", "torch", "jax", "float64"), held=None), "'held'"),
        (dict(check_entry("x", "torch", "jax", "float64"), left={}), "left.case"),
    ],
)
def test_malformed_check_entries_exit_2(capsys, tmp_path, entry, named):
    base, new = gate_run(tmp_path, "base"), gate_run(tmp_path, "new")
    good = write_check(tmp_path / "good.json", [check_entry("x", "torch", "jax", "float64")])
    bad = write_check(tmp_path / "bad.json", entry if isinstance(entry, list) else [entry])
    argv = ["compare", str(base), str(new), "--baseline-check", str(good), "--new-check", str(bad)]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == "" and named in err and str(bad) in err


def test_rounding_level_errors_may_grow_without_failing(tmp_path):
    base = [check_entry("x", "torch", "jax", "float64", error=0.0)]
    new = [check_entry("x", "torch", "jax", "float64", error=2e-16)]  # 0 → 2e-16: rounding
    gate = compare_checks(
        load_check(write_check(tmp_path / "a.json", base)),
        load_check(write_check(tmp_path / "b.json", new)),
    )
    assert not gate.regressions
    new = [check_entry("x", "torch", "jax", "float64", error=2e-13)]  # above the floor ×10
    gate = compare_checks(
        load_check(write_check(tmp_path / "a.json", base)),
        load_check(write_check(tmp_path / "c.json", new)),
    )
    assert gate.regressions[0].why == "max error ×20"


def test_an_equivalence_regression_fails_the_gate_even_with_warn_only(capsys, tmp_path):
    base, new = gate_run(tmp_path, "base"), gate_run(tmp_path, "new")
    entry = check_entry("mlp-adamw-weight_decay-torch-vs-jax", "torch", "jax", "float64")
    broken = check_entry("mlp-adamw-weight_decay-torch-vs-jax", "torch", "jax", "float64",
                         held=False, error=1e-3)  # fmt: skip
    a = write_check(tmp_path / "a.json", [entry])
    b = write_check(tmp_path / "b.json", [broken])
    argv = ["compare", str(base), str(new), "--baseline-check", str(a), "--new-check", str(b)]
    code, out, _ = run_cli(capsys, *argv, "--warn-only")
    assert code == 1 and "REGRESSED mlp-adamw-weight_decay-torch-vs-jax-float64: was equal" in out
    code, _, _ = run_cli(capsys, *argv[:-1], str(a))  # the same check on both sides passes
    assert code == 0


def test_warn_only_reports_a_timing_regression_without_failing(capsys, tmp_path):
    base = gate_run(tmp_path, "base")
    new = gate_run(tmp_path, "new", times={"forloop": 4e-3 * 1.3})
    code, out, _ = run_cli(capsys, "compare", str(base), str(new), "--warn-only")
    assert code == 0 and "REGRESSED" in out and "--warn-only" in out


# ----------------------------------------------------------------------------- spread


def test_spread_shows_normalisation_removing_machine_drift(capsys, tmp_path):
    runs = [
        gate_run(tmp_path, name, times={i: t * s for i, t in GATED}, reference=REFERENCE * s)
        for name, s in (("a", 1.0), ("bb", 1.3), ("ccc", 0.8))
    ]
    code, out, _ = run_cli(capsys, "compare", "--spread", *map(str, runs))
    assert code == 0
    assert "raw:        median 62.5%" in out  # 1.3 / 0.8 − 1
    assert "normalised: median 0.0%" in out
    assert "0 false regression(s)" in out


def test_the_committed_baseline_names_a_commit_and_has_a_check():
    """results/baseline/revision.json names a commit of this repository, with a reason; each
    machine's folder holds its check."""
    from pathlib import Path

    from xbench.jobs.compare import read_revision

    folder = Path(__file__).resolve().parents[2] / "results" / "baseline"
    revision = read_revision(folder)
    assert len(revision.commit) == 40 and revision.reason.strip()
    checks = sorted(folder.glob("*/check.json"))
    assert checks, "results/baseline/<machine>/check.json must be committed"
    for path in checks:
        assert json.loads(path.read_text())["entries"]
    assert not list(folder.glob("*/quick.json")), "timing baselines are revisions now"


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--against", "{tmp}/nothing"], "make baseline"),
        (["--against", "{tmp}", "--update-baseline"], "needs a reason"),
        (["--update-baseline", "{base}", "{base}"], "--update-baseline go(es) with --against"),
        (["--spread", "{base}"], "two or more runs"),
        (["{base}"], "give BASELINE and NEW"),
        (["--against", "{tmp}", "{base}", "{base}"], "not both"),
        (["--against", "{tmp}", "--threads", "0"], "--threads 0"),
        (["{base}", "{base}", "--baseline-check", "{base}", "--new-check", "{base}"], "check"),
    ],
)
def test_bad_gate_usage_exits_2_before_running_anything(capsys, tmp_path, argv, named):
    base = gate_run(tmp_path, "base")
    argv = [a.format(tmp=tmp_path, base=base) for a in argv]
    code, out, err = run_cli(capsys, "compare", *argv)
    assert code == 2 and out == "" and named in err
    assert len(err.strip().splitlines()) == 1


def test_entries_missing_from_the_new_check_regress_in_a_short_report(capsys, tmp_path):
    names = [f"mlp-sgd-rule{i}-torch-vs-jax" for i in range(30)]
    full = write_check(tmp_path / "full.json", [check_entry(n, "torch", "jax", "float64")
                                                for n in names])  # fmt: skip
    part = write_check(tmp_path / "part.json", [check_entry(names[0], "torch", "jax", "float64")])
    gate = compare_checks(load_check(full), load_check(part))
    assert len(gate.regressions) == 29 and gate.regressions[0].why == "not in the check"
    base, new = gate_run(tmp_path, "base"), gate_run(tmp_path, "new")
    argv = ["compare", str(base), str(new), "--baseline-check", str(full), "--new-check", str(part)]
    code, out, _ = run_cli(capsys, *argv, "--warn-only")
    assert code == 1 and "29 entries of the baseline are not in the new check" in out
    assert "and 19 more" in out and max(map(len, out.splitlines())) < 1000
    code, _, _ = run_cli(capsys, *argv[:-1], str(full))  # the whole check again: passes
    assert code == 0


@pytest.mark.parametrize("label", ["../x", "a\nb", "a\u202eb", ".hidden"])
def test_a_baseline_label_must_be_a_plain_folder_name(capsys, tmp_path, label):
    code, out, err = run_cli(capsys, "compare", "--against", str(tmp_path), "--label", label)
    assert code == 2 and f"invalid --label {label!r}" in err and out == ""
    assert len(err.strip().splitlines()) == 1
