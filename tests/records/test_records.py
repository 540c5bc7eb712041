"""Each JSON document has one typed record, written and read by one module: what is written
reads back the same, old files (before the ``format`` field) still read, and a newer format
or another kind of document is refused in one line."""

import json
from pathlib import Path

import pytest

from tests.helpers import check_entry, write_check, write_run
from xbench.errors import UsageError
from xbench.records import bench_run, check_run, layout, study_run
from xbench.run.check import Outcome
from xbench.run.equivalence import Agreement
from xbench.workloads.catalogue import default_catalogue

REPO = Path(__file__).resolve().parents[2]
MACHINE = REPO / "results" / "cpu-amd-epyc-2t"
CHECKS = REPO / "results" / "checks" / MACHINE.name
OLD_RUN = MACHINE / "0002_e3b2d06_default_20261121T140700Z.json"  # before the format field
OLD_CHECK = CHECKS / "20261121T160343Z_check_0f3bedf.json"
PUBLISHED_RUN = [p for p in layout.bench_runs(MACHINE) if "_default_" in p.name][-1]
PUBLISHED_CHECK = sorted(CHECKS.glob("*_check_*.json"))[-1]
PUBLISHED_STUDY = sorted((REPO / "results" / "study" / "runs").glob("*_full_*.json"))[-1]


def test_a_check_record_reads_back_as_written(tmp_path):
    entries = default_catalogue()[:3]
    agreement = Agreement(False, 1e-3, float("inf"), 2, "dense0/kernel")
    outcomes = [
        Outcome(entries[0], agreement, True, "ok: differs from step 2 in dense0/kernel"),
        Outcome(entries[1], None, True, "skipped: jax not installed"),
        Outcome(entries[2], Agreement(True, 0.0, 0.0, None, None), True, "ok: equal"),
    ]
    record = check_run.from_outcomes(outcomes, 1.5, "cpu", {"id": "abc", "dirty": False})
    path = tmp_path / "check.json"
    path.write_bytes(check_run.to_bytes(record))
    assert json.loads(path.read_text())["format"] == "xbench-check/1"
    loaded = check_run.load(path)
    assert loaded.entries == record.entries  # sides, cases and agreements, inf included
    assert loaded.tolerances == record.tolerances and loaded.seconds == 1.5
    assert loaded.format_version == 1 and loaded.commit == {"id": "abc", "dirty": False}


def test_published_files_from_before_the_format_field_still_read():
    run = bench_run.load(OLD_RUN)
    check = check_run.load(OLD_CHECK)
    assert run.format_version == 0 and len(run.results) == 438
    assert check.format_version == 0 and len(check.entries) == 292
    assert check.steps == (20,) and check.tolerances["float32"].rtol == 5e-6


def test_the_newest_published_files_carry_their_format():
    assert bench_run.load(PUBLISHED_RUN).format_version == 1
    assert check_run.load(PUBLISHED_CHECK).format_version == 1


def test_the_published_study_reads_back_without_losing_a_field():
    doc = json.loads(PUBLISHED_STUDY.read_text())
    record = study_run.load(PUBLISHED_STUDY)
    # bench_run is written since: a record from before reads back with None
    assert study_run.to_document(record) == doc | {"bench_run": doc.get("bench_run")}


def test_a_bench_record_gets_its_format_when_finished(tmp_path):
    path = write_run(tmp_path, "20261121T100000Z_default_abcdef0.json", [])
    document = bench_run.finish(json.loads(path.read_text()))
    assert document["format"] == "xbench-bench/1"


@pytest.mark.parametrize(
    "kind, change, message",
    [
        ("check", {"format": "xbench-check/2"}, "a newer xbench (format xbench-check/2)"),
        ("check", {"format": "xbench-bench/1"}, "is not xbench-check/1"),
        ("bench", {"format": "xbench-bench/7"}, "this one reads up to xbench-bench/1"),
        ("bench", {"format": 3}, "format 3 is not xbench-bench/1"),
        ("study", {"format": "xbench-study/2"}, "newer xbench"),
    ],
)
def test_a_newer_or_foreign_format_is_refused_in_one_line(tmp_path, kind, change, message):
    if kind == "check":
        path = write_check(tmp_path / "c.json", [check_entry("x", "torch", "jax", "float64")])
        load = check_run.load
    elif kind == "bench":
        path = tmp_path / "b.json"
        path.write_text(PUBLISHED_RUN.read_text())
        load = bench_run.load
    else:
        path = tmp_path / "s.json"
        path.write_text(PUBLISHED_STUDY.read_text())
        load = study_run.load
    doc = json.loads(path.read_text()) | change
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError) as raised:
        load(path)
    assert message in str(raised.value) and str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_check_entry_with_an_unreadable_case_names_the_side(tmp_path):
    entry = check_entry("x", "torch", "jax", "float64")
    entry["right"]["case"]["optimizer"] = "lamb"
    path = write_check(tmp_path / "c.json", [entry])
    with pytest.raises(UsageError, match=r"entry x-float64 has an unreadable right\.case"):
        check_run.load(path)
