"""`xbench bench`: bad input exits 2 in one line; results never overwrite, never half-written."""

import datetime
import json
import os

import pytest

from tests.helpers import run_cli
from xbench.errors import UsageError
from xbench.jobs.bench import publish
from xbench.present.bench_text import summary
from xbench.records.bench_run import BenchRun, Result
from xbench.records.layout import removed_if_left_empty, result_name
from xbench.records.storage import write_atomically
from xbench.workloads.benchmarks import benchmark_count, overhead_cases, sweep


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--threads", "0"], ["--threads 0", "1 to"]),
        (["--threads", "999"], ["--threads 999", "1 to"]),
        (["--quick", "--profile", "default"], ["--quick", "default"]),
        (["--profile", "huge"], ["'huge'", "quick"]),
        (["--device", "tpu"], ["'tpu'", "cuda"]),
        (["--label", "a/b"], ["'a/b'", "folder name"]),
    ],
)
def test_bad_bench_input_exits_2_in_one_line(capsys, tmp_path, argv, named):
    code, out, err = run_cli(capsys, "bench", "--results", str(tmp_path), *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for part in named:
        assert part in err


def test_a_selection_pytest_rejects_exits_2_in_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "bench", "--quick", "--results", str(tmp_path), "-k", "and (")
    assert code == 2
    assert err.strip().splitlines() == [
        "xbench bench: error: pytest could not collect the suite (-k 'and ('?): "
        + err.strip().split("?): ", 1)[1]
    ]
    assert not any(tmp_path.iterdir())  # refused before anything was created


def test_a_selection_matching_nothing_is_one_line_and_creates_nothing(capsys, tmp_path):
    results = tmp_path / "results"
    code, out, err = run_cli(capsys, "bench", "--quick", "--results", str(results), "-k", "nope")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["xbench bench: error: no benchmark matches -k 'nope'"]
    assert not results.exists()


def test_a_results_folder_a_run_created_is_removed_when_nothing_lands_in_it(tmp_path):
    new = tmp_path / "results" / "checks" / "m"
    with pytest.raises(KeyboardInterrupt), removed_if_left_empty(new) as folder:
        assert folder == new and new.is_dir()  # created up front
        raise KeyboardInterrupt
    assert not (tmp_path / "results").exists()
    with removed_if_left_empty(new):  # published: kept
        (new / "run.json").write_text("{}")
    assert (new / "run.json").exists()
    other = tmp_path / "results" / "checks" / "other"
    with removed_if_left_empty(other):  # only what this created goes
        assert other.is_dir()
    assert not other.exists() and new.exists()


def test_bench_refuses_an_unwritable_results_folder(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run_cli(capsys, "bench", "--quick", "--results", str(blocker))
    assert code == 2 and "cannot create" in err and str(blocker) in err


def test_bench_list_prints_what_would_run(capsys):
    pytest.importorskip("pytest_benchmark")
    code, out, _ = run_cli(capsys, "bench", "--quick", "--list")
    assert code == 0
    listed = out.split()
    assert len(listed) == len(set(listed)) == benchmark_count("quick")
    expected = {c.id for c in sweep("quick")} | {c.id for c in overhead_cases()}
    assert set(listed) == expected | {"test_overhead_check_fails_on_a_slower_harness"}
    code, out, _ = run_cli(capsys, "bench", "--quick", "--list", "-k", "adamw and 1e6")
    assert code == 0 and out.split() and all("1e6" in i and "adamw" in i for i in out.split())
    code, out, err = run_cli(capsys, "bench", "--quick", "--list", "-k", "no_such_thing")
    assert code == 2 and "no benchmark matches" in err


def test_result_names_carry_time_profile_and_commit():
    now = datetime.datetime(2026, 11, 21, 12, 0, 5, tzinfo=datetime.timezone.utc)
    commit = {"id": "05bfec23997228a65b2fb67e906146eaef770f1b", "dirty": True}
    assert result_name("quick", commit, now) == "20261121T120005Z_quick_05bfec2-dirty.json"
    assert result_name("default", {"id": None, "dirty": None}, now).endswith("_nocommit.json")


def fake_run(tmp_path, name="run.json", benchmarks=({"name": "b"},)):
    raw = tmp_path / name
    raw.write_text(json.dumps({"benchmarks": list(benchmarks), "machine_info": {}}))
    return raw


def test_publish_never_overwrites_an_earlier_run(tmp_path, monkeypatch):
    folder = tmp_path / "results"
    folder.mkdir()
    monkeypatch.setattr(
        "xbench.records.layout.run_name",
        lambda number, *a: f"{min(number, 2):04d}_abcdef0_quick_20261121T120000Z.json",
    )  # a second writer took number 2 meanwhile: the third run must take the next one
    first = publish(fake_run(tmp_path, benchmarks=[{"name": "first"}]), folder, "quick")
    second = publish(fake_run(tmp_path, benchmarks=[{"name": "second"}]), folder, "quick")
    monkeypatch.undo()
    third = publish(fake_run(tmp_path, benchmarks=[{"name": "third"}]), folder, "quick")
    assert len({first, second, third}) == 3
    assert json.loads(first.read_text())["benchmarks"] == [{"name": "first"}]
    assert json.loads(second.read_text())["benchmarks"] == [{"name": "second"}]
    assert third.name.startswith("0003_")
    assert len(os.listdir(folder)) == 3  # no temporary files


def test_published_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_atomically(tmp_path / "run.json", lambda f: f.write(b"{}"), exclusive=True)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_publish_refuses_a_run_without_results(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    with pytest.raises(UsageError, match="no benchmark results"):
        publish(fake_run(tmp_path, benchmarks=[]), folder, "quick")
    assert os.listdir(folder) == []


def test_exclusive_write_fails_on_an_existing_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "kept.json"
    path.write_text("earlier")
    with pytest.raises(FileExistsError):
        write_atomically(path, lambda f: f.write(b"new"), exclusive=True)
    assert path.read_text() == "earlier"
    assert os.listdir(tmp_path) == ["kept.json"]


def test_interrupted_write_leaves_nothing(tmp_path):
    path = tmp_path / "run.json"

    def interrupted(f):
        f.write(b'{"benchmarks": [')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, interrupted, exclusive=True)
    assert os.listdir(tmp_path) == []


def test_summary_lists_adamw_at_the_largest_size_fastest_first():
    def bench(impl, params, median, rule="weight_decay"):
        return Result(
            f"{impl}-{params}-{rule}", "update", "torch", impl, "adamw", rule, "vectors1",
            params, 1, "cpu", median, 0.0, 5, 1.0, 50.0, None, {}, {},
        )  # fmt: skip

    results = (
        bench("forloop", 10**6, 2e-3), bench("fused", 10**6, 1e-3), bench("fused", 10**4, 1e-5),
        bench("fused", 10**6, 1e-4, "none"),
    )  # fmt: skip
    text = summary(BenchRun(None, {}, {}, "", results))
    lines = text.splitlines()
    assert "1e6" in lines[0]
    assert [line.split()[1] for line in lines[3:]] == ["fused", "forloop"]


def test_a_name_taken_in_the_same_second_sorts_after_the_first(tmp_path):
    from xbench.records.layout import name_order

    folder = tmp_path / "box"
    folder.mkdir()
    for name in ("20261121T120000Z_check_abc.json", "20261121T120000Z_check_abc-1.json",
                 "20261121T120000Z_check_abc-2.json"):  # fmt: skip
        (folder / name).write_text("{}")
    ordered = sorted(folder.iterdir(), key=name_order)
    assert [p.name for p in ordered][-1] == "20261121T120000Z_check_abc-2.json"
    assert sorted(p.name for p in folder.iterdir())[-1] != ordered[-1].name  # plain sort is wrong


def test_the_newest_run_is_the_highest_number_not_the_latest_name(tmp_path):
    from xbench.records.layout import newest_inputs

    folder = tmp_path / "box"
    folder.mkdir()
    for name in ("0009_abc_default_20261121T120000Z.json", "0010_abc_default_20261120T120000Z.json",
                 "0011_abc_quick_20261122T120000Z.json"):  # fmt: skip
        (folder / name).write_text("{}")
    runs, _ = newest_inputs(tmp_path)
    assert runs == [folder / "0010_abc_default_20261120T120000Z.json"]  # 11 is quick
