"""`xbench report`: tables from runs, byte-identical output, bad input, merged-run warnings,
and the committed RESULTS.md and README headline regenerated from the committed JSON."""

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import check_entry, report_run, run_cli, write_check
from xbench.jobs.report import HEADLINE_END, HEADLINE_START, load_inputs
from xbench.present.results_md import (
    GENERATED,
    framework_ratio_rows,
    headline,
    readme_headline,
)
from xbench.present.units import format_seconds
from xbench.records.bench_run import Result
from xbench.records.bench_run import load as load_run
from xbench.records.layout import newest_inputs

REPO = Path(__file__).resolve().parents[2]


def report(capsys, *argv):
    return run_cli(capsys, "report", "--no-plots", *map(str, argv))


# ----------------------------------------------------------------------------- tables


def test_time_table_flags_noisy_cells_and_keeps_rows_in_order(capsys, tmp_path):
    run = report_run(tmp_path / "box")
    out = tmp_path / "R.md"
    code, _, err = report(capsys, run, "--out", out)
    assert code == 0, err
    text = out.read_text()
    assert text.startswith(GENERATED + "\n")
    rows = [line for line in text.splitlines() if line.startswith("| adamw ")]
    assert "4.00 ms (15%) ⚠" in rows[0]  # forloop, IQR 15%: flagged
    assert "1.00 ms (5%) " in rows[1] and "⚠" not in rows[1]  # fused, IQR 5%: not flagged
    order = [r.split("|")[3].strip() + " " + r.split("|")[4].strip() for r in rows[:4]]
    assert order == ["torch forloop", "torch fused", "jax jit", "jax jit_donate"]
    assert "⚠ marks the 1 of 5 cells" in text


def test_noise_flag_boundary():
    def result(iqr):
        return Result("x", "update", "torch", "fused", "sgd", "none", "vectors1", 10, 1, "cpu",
                      1.0, iqr, 5, None, None, None, {}, {})  # fmt: skip

    assert not result(0.10).noisy and result(0.1001).noisy


def test_ratios_and_headline_use_the_fastest_of_each_framework(tmp_path):
    (machine,) = load_inputs([report_run(tmp_path / "box")], [])
    updates = [r for r in machine.results if r.kind == "update"]
    rows, headers = framework_ratio_rows(updates)
    assert headers[-2:] == ["1e5", "1e6"]
    (row,) = rows  # adamw, weight_decay in both frameworks
    assert row[-1] == "0.50 unpaired (fused / jit_donate)"  # 1 ms / 2 ms, timed apart
    assert row[-2] == "2.00 unpaired (fused / jit)"  # 100 µs / 50 µs
    title, table, _ = headline(machine)
    assert "1e6" in title
    assert [r[:3] for r in table] == [
        ["torch", "`fused`", "1.00 ms"],
        ["jax", "`jit_donate`", "2.00 ms"],
    ]


def test_relative_table_marks_the_fastest(capsys, tmp_path):
    out = tmp_path / "R.md"
    report(capsys, report_run(tmp_path / "box"), "--out", out)
    text = out.read_text()
    section = text[text.index("Each implementation over the fastest") :]
    fused = next(line for line in section.splitlines() if "| fused " in line)
    forloop = next(line for line in section.splitlines() if "| forloop " in line)
    assert fused.rstrip(" |").endswith("**1.00**") and forloop.rstrip(" |").endswith("4.00")


def test_time_format_keeps_three_significant_digits():
    assert [format_seconds(s) for s in (5.4812e-3, 2.1e-4, 6.8e-5, 3.04e-8, 12.3)] == [
        "5.48 ms", "210 µs", "68.0 µs", "30.4 ns", "12.3 s",
    ]  # fmt: skip


# ----------------------------------------------------------------------------- reproducible


def test_same_input_gives_byte_identical_markdown_whatever_the_order(capsys, tmp_path):
    first = report_run(tmp_path / "box")
    second = report_run(tmp_path / "other", device_name="Other CPU", cpu_model="Other CPU")
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    assert report(capsys, first, second, "--out", a)[0] == 0
    assert report(capsys, second, first, "--out", b)[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert report(capsys, first, second, "--out", a)[0] == 0  # regenerated in place
    assert a.read_bytes() == b.read_bytes()


def test_default_input_is_the_newest_full_run_and_check_per_machine(tmp_path):
    results = tmp_path / "results"
    box = results / "box"
    report_run(box, "0001_aaaaaaa_default_20261121T100000Z.json")
    newest = report_run(box, "0002_bbbbbbb_default_20261121T110000Z.json")
    report_run(box, "0003_ccccccc_quick_20261121T120000Z.json")  # newer, but quick
    checks = results / "checks" / "box"
    checks.mkdir(parents=True)
    (checks / "20261121T090000Z_check_aaaaaaa.json").write_text("{}")
    (checks / "20261121T100000Z_check_bbbbbbb.json").write_text("{}")
    (box / "20261121T130000Z_check_zzzzzzz.json").write_text("{}")  # not where checks go
    only_quick = report_run(results / "ci", "0001_ddddddd_quick_20261121T130000Z.json")
    # The gate's baseline and the stability repeats sit one level deeper: never report inputs.
    report_run(results / "baseline" / "box", "quick.json")
    report_run(results / "stability" / "box", "0001_eeeeeee_quick_20261121T140000Z.json")
    runs, found = newest_inputs(results)
    assert runs == [newest, only_quick]
    assert found == [checks / "20261121T100000Z_check_bbbbbbb.json"]


# ----------------------------------------------------------------------------- bad input


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = report_run(tmp_path / "box").read_text()
    files = {
        "empty": "",
        "truncated": good[: len(good) // 2],
        "a list": "[1, 2]",
        "not pytest-benchmark": json.dumps({"results": []}),
        "no benchmarks": json.dumps({"benchmarks": [], "machine_info": {}}),
        "no extra_info": json.dumps(
            {"benchmarks": [{"name": "t", "stats": {}}], "machine_info": {}}
        ),
        "a check file": json.dumps({"entries": [], "tolerances": {}}),
        "NaN median": good.replace('"median": 0.001', '"median": NaN', 1),
    }
    paths = {}
    for what, text in files.items():
        paths[what] = tmp_path / f"{what.replace(' ', '_')}.json"
        paths[what].write_text(text)
    paths["missing"] = tmp_path / "nowhere.json"
    return paths


@pytest.mark.parametrize(
    "what",
    ["missing", "empty", "truncated", "a list", "not pytest-benchmark", "no benchmarks",
     "no extra_info", "a check file", "NaN median"],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line_naming_the_file(capsys, tmp_path, what):
    path = _bad_files(tmp_path)[what]
    good = report_run(tmp_path / "box2")
    out = tmp_path / "R.md"
    code, stdout, err = report(capsys, good, path, "--out", out)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err
    assert what != "truncated" or "truncated" in err
    assert not out.exists()  # nothing written from a bad set of inputs


def test_a_good_file_passes_the_same_validation(capsys, tmp_path):
    """The companion of the bad-input test: the unperturbed file is accepted."""
    assert report(capsys, report_run(tmp_path / "box"), "--out", tmp_path / "R.md")[0] == 0


def test_bad_check_file_and_check_from_another_machine_exit_2(capsys, tmp_path):
    run = report_run(tmp_path / "box")
    bad = tmp_path / "check.json"
    bad.write_text(json.dumps({"benchmarks": []}))
    code, _, err = report(capsys, run, "--check", bad, "--out", tmp_path / "R.md")
    assert code == 2 and str(bad) in err and "check" in err
    other = tmp_path / "other_check.json"
    info = {"device": "cpu", "device_name": "Else", "threads": 2}
    other.write_text(json.dumps({"entries": [], "tolerances": {}, "machine_info": info}))
    code, _, err = report(capsys, run, "--check", other, "--out", tmp_path / "R.md")
    assert code == 2 and "cpu-else-2t" in err and len(err.strip().splitlines()) == 1


def test_a_file_given_as_a_folder_is_named_as_a_file(capsys, tmp_path):
    a_file = tmp_path / "README.md"
    a_file.write_text("x")
    code, _, err = report(capsys, "--results", a_file)
    assert code == 2 and "is a file; give the results folder" in err
    code, _, err = report(capsys, report_run(tmp_path / "box"), "--out", tmp_path / "R.md",
                          "--docs", a_file)  # fmt: skip
    assert code == 2 and "--docs" in err and "is a file" in err
    assert not (tmp_path / "R.md").exists()  # checked before anything is written


def test_no_runs_under_results_exits_2(capsys, tmp_path):
    (tmp_path / "results").mkdir()
    code, _, err = report(capsys, "--results", tmp_path / "results")
    assert code == 2 and "make bench" in err


def test_refuses_to_replace_a_file_it_did_not_write(capsys, tmp_path):
    out = tmp_path / "notes.md"
    out.write_text("my own notes\n")
    code, _, err = report(capsys, report_run(tmp_path / "box"), "--out", out)
    assert code == 2 and "not written by `xbench report`" in err
    assert out.read_text() == "my own notes\n"
    assert report(capsys, report_run(tmp_path / "box2"), "--out", out, "--overwrite")[0] == 0
    assert out.read_text().startswith(GENERATED)


# ----------------------------------------------------------------------------- merged runs


def test_merged_runs_with_different_settings_are_warned_about(capsys, tmp_path):
    first = report_run(tmp_path / "a", "20261121T100000Z_default_abcdef0.json")
    same = report_run(tmp_path / "b", "20261121T110000Z_default_abcdef0.json")
    out = tmp_path / "R.md"
    code, _, err = report(capsys, first, same, "--out", out)
    assert code == 0
    assert "differ in" not in err and "differ in" not in out.read_text()
    assert "6 benchmark(s) are in more than one run" in err  # the same benchmarks twice
    assert len(err.strip().splitlines()) == 1

    changed = report_run(
        tmp_path / "c", "20261121T120000Z_default_abcdef0.json",
        versions={"torch": "2.12.0+cpu", "jax": "0.10.2"},
    )  # fmt: skip
    code, _, err = report(capsys, first, changed, "--out", out)
    assert code == 0
    assert "warning" in err and "differ in versions" in err and "2.12.0+cpu" in err
    assert "Merged runs differ" in out.read_text() and "differ in versions" in out.read_text()


def test_different_thread_counts_are_different_machines_not_merged(tmp_path):
    two = report_run(tmp_path / "a")
    one = report_run(tmp_path / "b", threads={"requested": 1})
    found = load_inputs([two, one], [])
    assert [m.label for m in found] == ["cpu-test-1t", "cpu-test-2t"]
    assert all(not m.warnings for m in found)


# ----------------------------------------------------------------------------- plots


def test_plots_are_written_beside_the_markdown_and_linked(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "site" / "RESULTS.md"
    out.parent.mkdir()
    code, _, err = run_cli(capsys, "report", str(report_run(tmp_path / "box")), "--out", str(out))
    assert code == 0, err
    png = out.parent / "cpu-test-2t-vectors1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](cpu-test-2t-vectors1.png)" in out.read_text()


# ----------------------------------------------------------------------------- published


def _published_inputs() -> tuple[list[Path], list[Path]]:
    text = (REPO / "results" / "RESULTS.md").read_text()
    links = re.findall(r"^- (Run|Check) \[`[^`]+`\]\(([^)]+)\)", text, flags=re.M)
    runs = [REPO / "results" / p for kind, p in links if kind == "Run"]
    checks = [REPO / "results" / p for kind, p in links if kind == "Check"]
    return runs, checks


def test_committed_results_md_and_plots_regenerate_byte_identical(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    runs, checks = _published_inputs()
    assert runs and checks, "RESULTS.md must list the runs it was made from"
    # Same layout as the repository, so the relative links in the footer come out the same.
    out = tmp_path / "results" / "RESULTS.md"
    versions = sorted((REPO / "results" / "ab" / "versions").glob("*.json"))
    for path in [*runs, *checks, *versions]:
        copy = tmp_path / path.relative_to(REPO)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    argv = [tmp_path / p.relative_to(REPO) for p in runs]
    for c in checks:
        argv += ["--check", tmp_path / c.relative_to(REPO)]
    code, _, err = run_cli(capsys, "report", *map(str, argv), "--out", str(out))
    assert code == 0, err
    assert out.read_bytes() == (REPO / "results" / "RESULTS.md").read_bytes()
    plots = sorted(out.parent.glob("*.png"))
    assert [p.name for p in plots] == sorted(p.name for p in (REPO / "results").glob("*.png"))
    for png in plots:
        assert png.read_bytes() == (REPO / "results" / png.name).read_bytes(), png.name


def test_readme_headline_is_regenerated_from_the_committed_json():
    runs, checks = _published_inputs()
    found = load_inputs(runs, checks)
    expected = readme_headline(found, REPO / "results" / "RESULTS.md", REPO / "README.md")
    readme = (REPO / "README.md").read_text()
    block = readme[
        readme.index(HEADLINE_START) + len(HEADLINE_START) + 1 : readme.index(HEADLINE_END)
    ]
    assert block == expected
    # Every figure of the headline is in RESULTS.md and comes from the committed JSON.
    results_md = (REPO / "results" / "RESULTS.md").read_text()
    rows = [
        line
        for line in block.splitlines()
        if line.startswith("| torch") or line.startswith("| jax")
    ]
    assert len(rows) == 2
    for row in rows:
        assert row in results_md
        framework, impl, median, iqr, gbps, pct = (c.strip() for c in row.strip("|").split("|"))
        run = load_run(runs[0])
        match = [
            r for r in run.results
            if r.kind == "update" and r.framework == framework and f"`{r.implementation}`" == impl
            and r.optimizer == "adamw" and r.rule == "weight_decay" and r.tensors == 1
            and format_seconds(r.median) == median
        ]  # fmt: skip
        assert len(match) == 1
        (r,) = match
        assert f"{r.spread:.0%}" == iqr and f"{r.achieved_GBps:.1f}" == gbps
        assert f"{r.bandwidth_pct:.0f}%" == pct


# ----------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize("held", [True, False])
def test_equivalence_matrix_shows_each_pair_and_dtype_and_any_failure(capsys, tmp_path, held):
    entries = [
        check_entry("mlp-adamw-weight_decay-torch-vs-jax", "torch", "jax", "float64"),
        check_entry(
            "mlp-adamw-weight_decay-torch-vs-jax", "torch", "jax", "float32", held=held, error=3e-7
        ),  # fmt: skip
        check_entry("mlp-sgd-none-torch-vs-reference", "torch", "reference", "float64"),
        check_entry("mlp-sgd-none-jax-vs-reference", "jax", "reference", "float32"),
    ]
    check = write_check(tmp_path / "check.json", entries)
    out = tmp_path / "R.md"
    code, _, err = report(capsys, report_run(tmp_path / "box"), "--check", check, "--out", out)
    assert code == 0, err
    text = out.read_text()
    pair = next(
        line for line in text.splitlines() if "`mlp-adamw-weight_decay-torch-vs-jax`" in line
    )
    assert "equal, 1.0e-16" in pair
    assert ("equal, 3.0e-07" in pair) is held
    assert ("**FAIL**: differs from step 3 in dense0/kernel" in pair) is not held
    assert f"{3 + held} of 4 expectations held" in text
    row = next(line for line in text.splitlines() if line.startswith("| `mlp-sgd-none`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["equal, 1.0e-16", "-", "-", "equal, 1.0e-16"]


def test_a_check_without_machine_info_goes_with_a_single_machine_only(capsys, tmp_path):
    entries = [check_entry("mlp-sgd-none-torch-vs-reference", "torch", "reference", "float64")]
    old = tmp_path / "old_check.json"
    old.write_text(json.dumps({"entries": entries, "tolerances": {}}))  # before machine_info
    out = tmp_path / "R.md"
    code, _, err = report(capsys, report_run(tmp_path / "box"), "--check", old, "--out", out)
    assert code == 0, err
    assert "1 of 1 expectations held" in out.read_text()
    other = report_run(tmp_path / "other", device_name="Other CPU")
    code, _, err = report(capsys, report_run(tmp_path / "box"), other, "--check", old, "--out", out)
    assert code == 2 and "records no machine" in err and str(old) in err


def test_default_inputs_take_the_machine_from_their_folder(capsys, tmp_path):
    """A run made with --label sits in results/<label>/: that folder is its machine, and the
    check beside it goes with it."""
    results = tmp_path / "results"
    report_run(results / "pinned", "0001_abcdef0_default_20261121T100000Z.json")
    entries = [check_entry("mlp-sgd-none-torch-vs-reference", "torch", "reference", "float64")]
    (results / "checks" / "pinned").mkdir(parents=True)
    write_check(results / "checks" / "pinned" / "20261121T100000Z_check_abcdef0.json", entries)
    report_run(results / "cpu-test-2t", "0001_abcdef0_default_20261121T110000Z.json")  # same CPU
    code, _, err = report(capsys, "--results", results)
    assert code == 0, err
    text = (results / "RESULTS.md").read_text()
    assert "## `pinned`" in text and "## `cpu-test-2t`" in text
    pinned = text[text.index("## `pinned`") :]
    assert "1 of 1 expectations held" in pinned


def test_skipped_check_entries_are_not_counted_as_held(capsys, tmp_path):
    entry = check_entry("mlp-sgd-none-jax-vs-reference", "jax", "reference", "float64")
    entry.update(agreement=None, verdict="skipped: jax not installed")
    check = write_check(tmp_path / "check.json", [entry])
    out = tmp_path / "R.md"
    assert report(capsys, report_run(tmp_path / "box"), "--check", check, "--out", out)[0] == 0
    assert "0 of 0 expectations held, 1 entries skipped" in out.read_text()


def test_a_readme_without_markers_exits_2_before_anything_is_written(capsys, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n")
    out = tmp_path / "R.md"
    code, _, err = report(capsys, report_run(tmp_path / "box"), "--out", out, "--readme", readme)
    assert code == 2 and "headline start" in err and not out.exists()
    readme.write_text(f"# x\n{HEADLINE_START}\nold\n{HEADLINE_END}\n")
    code, _, err = report(capsys, report_run(tmp_path / "box"), "--out", out, "--readme", readme)
    assert code == 0, err
    assert "old" not in readme.read_text() and "| torch " in readme.read_text()


def test_a_cell_at_the_noise_boundary_shows_a_decimal():
    from xbench.present.units import spread_text

    def result(iqr):
        return Result("x", "update", "torch", "fused", "sgd", "none", "vectors1", 10, 1, "cpu",
                      1.0, iqr, 5, None, None, None, {}, {})  # fmt: skip

    assert [spread_text(result(q)) for q in (0.104, 0.096, 0.07, 0.15)] == [
        "10.4%", "9.6%", "7%", "15%",
    ]  # fmt: skip
