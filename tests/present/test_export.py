"""``xbench export`` and ``BenchRun.to_frame``: a run for github-action-benchmark, CSV
readers and pandas, with the numbers xbench reports."""

import csv
import io
import json
import math
from pathlib import Path

import pytest

from tests.helpers import run_cli
from xbench.present.export import UNIT, github_action_benchmark, to_text
from xbench.records import layout
from xbench.records.bench_run import load as load_run

REPO = Path(__file__).resolve().parents[2]
MACHINE = REPO / "results" / "cpu-amd-epyc-2t"
RUN = layout.bench_runs(MACHINE)[-1]


def benchmark_result_errors(entries) -> list[str]:
    """What makes ``entries`` invalid input for github-action-benchmark's custom tools
    (``tool: customSmallerIsBetter``): its documented BenchmarkResult, a non-empty JSON array
    of objects with ``name`` (string), ``unit`` (string), ``value`` (number), and optional
    ``range`` and ``extra`` (strings)."""
    if not isinstance(entries, list) or not entries:
        return ["not a non-empty array"]
    errors = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            errors.append(f"#{i}: not an object")
            continue
        for key in ("name", "unit"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                errors.append(f"#{i}: {key} must be a non-empty string")
        value = entry.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"#{i}: value must be a number")
        elif not math.isfinite(value):
            errors.append(f"#{i}: value must be finite")
        for key in ("range", "extra"):
            if key in entry and not isinstance(entry[key], str):
                errors.append(f"#{i}: {key} must be a string")
        if set(entry) - {"name", "unit", "value", "range", "extra"}:
            errors.append(f"#{i}: unknown keys {sorted(set(entry) - {'name', 'unit', 'value'})}")
    return errors


def test_the_export_is_valid_github_action_benchmark_input_with_xbench_medians():
    run = load_run(RUN)
    entries = json.loads(to_text(run, "github-action-benchmark"))
    assert benchmark_result_errors(entries) == []
    assert len(entries) == len(run.benchmarks)
    by_name = {e["name"]: e for e in entries}
    assert len(by_name) == len(entries)  # one chart per benchmark
    for result in run.benchmarks:
        entry = by_name[result.id]
        assert entry["unit"] == UNIT == "ms"
        assert entry["value"] == result.median * 1e3  # the median, not 1/mean
        assert entry["range"] == f"IQR {result.iqr * 1e3:.4g}"
        if result.achieved_GBps is not None:
            assert f"{result.achieved_GBps:.3g} GB/s" in entry["extra"]
    assert all(len(name) <= 60 and "::" not in name for name in by_name)
    assert not any(name.endswith("-perturbed") for name in by_name)  # the self-test is not one


@pytest.mark.parametrize("break_it", [
    lambda e: e[0].update(value="1.5"),
    lambda e: e[0].pop("unit"),
    lambda e: e[0].update(range=0.1),
    lambda e: e[0].update(value=float("nan")),
    lambda e: e.clear(),
])  # fmt: skip
def test_the_schema_check_rejects_a_perturbed_export(break_it):
    entries = github_action_benchmark(load_run(RUN))
    assert benchmark_result_errors(entries) == []
    break_it(entries)
    assert benchmark_result_errors(entries)


def test_the_csv_has_one_typed_row_per_benchmark():
    run = load_run(RUN)
    rows = list(csv.DictReader(io.StringIO(to_text(run, "csv"))))
    assert len(rows) == len(run.benchmarks)
    by_name = {row["name"]: row for row in rows}
    for result in run.benchmarks:
        row = by_name[result.id]
        assert float(row["median_s"]) == result.median and float(row["iqr_s"]) == result.iqr
        assert row["group"] == result.group and int(row["params"]) == result.params
        assert row["compile_seconds"] == ("" if result.compile_seconds is None else
                                          repr(result.compile_seconds))  # fmt: skip
    assert {"achieved_GBps", "bandwidth_pct", "adjacent_reference.median", "run"} <= set(rows[0])


def test_to_frame_is_a_dataframe_with_one_row_per_benchmark():
    pandas = pytest.importorskip("pandas")
    run = load_run(RUN)
    frame = load_run(str(RUN)).to_frame()  # a path as text works too
    assert isinstance(frame, pandas.DataFrame) and len(frame) == len(run.benchmarks)
    assert frame["name"].is_unique
    assert (frame["size"] == frame["params"]).all()
    assert set(frame.loc[frame["kind"] == "update", "mechanism"]) == {
        "none",
        "coupled decay",
        "decoupled decay",
    }
    fastest = frame.loc[frame["median_s"].idxmin()]
    assert fastest["median_s"] == min(r.median for r in run.benchmarks)
    csv_frame = pandas.read_csv(io.StringIO(to_text(run, "csv")))
    assert csv_frame["median_s"].dtype.kind == "f" and csv_frame["params"].dtype.kind == "i"
    assert list(csv_frame["median_s"]) == list(frame["median_s"])


def test_export_writes_the_newest_run_of_a_folder_and_never_overwrites(capsys, tmp_path):
    out = tmp_path / "bench.json"
    code, _, err = run_cli(capsys, "export", str(MACHINE), "--format",
                           "github-action-benchmark", "--out", str(out))  # fmt: skip
    assert code == 0 and RUN.name in err
    assert json.loads(out.read_text()) == github_action_benchmark(load_run(RUN))
    code, _, err = run_cli(capsys, "export", str(RUN), "--format", "csv", "--out", str(out))
    assert code == 2 and "refusing to overwrite" in err
    assert json.loads(out.read_text())  # untouched
    code, text, _ = run_cli(capsys, "export", str(RUN), "--format", "csv")
    assert code == 0 and text.startswith("run,machine,commit,")


@pytest.mark.parametrize("argv, named", [
    (["--format", "xml"], "--format"),
    (["--format", "csv", "--out", "/no/such/dir/x.csv"], "/no/such/dir"),
])  # fmt: skip
def test_bad_export_options_are_one_line_and_exit_2(capsys, argv, named):
    code, _, err = run_cli(capsys, "export", str(RUN), *argv)
    assert code == 2 and named in err and err.count("\n") <= 2
