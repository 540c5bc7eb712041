"""The published runs in the tools pytest-benchmark users already have: its storage
(``pytest-benchmark --storage file://results/<machine> list`` / ``compare``), its grouping
and CSV; and the file layout that makes that work (numbered runs, checks elsewhere)."""

import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xbench.errors import UsageError
from xbench.records import layout
from xbench.records.bench_run import SELF_TEST, SELF_TEST_KIND
from xbench.records.bench_run import load as load_run

REPO = Path(__file__).resolve().parents[2]
MACHINE = REPO / "results" / "cpu-amd-epyc-2t"
PYTEST_BENCHMARK = [sys.executable, "-c", "from pytest_benchmark.cli import main; main()"]


def pytest_benchmark(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed pytest-benchmark's own command line, in a fresh process."""
    done = subprocess.run([*PYTEST_BENCHMARK, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> Path:
    """A storage folder holding the two newest published runs of the machine, as published,
    and the machine's checks where `xbench check --publish` puts them."""
    root = tmp_path_factory.mktemp("results")
    folder = root / MACHINE.name
    folder.mkdir()
    for path in layout.bench_runs(MACHINE)[-2:]:
        shutil.copyfile(path, folder / path.name)
    shutil.copytree(REPO / "results" / layout.CHECKS, root / layout.CHECKS)
    return folder


def test_every_published_run_is_numbered_and_no_check_sits_beside_them():
    for folder in [MACHINE, *(REPO / "results" / "stability").iterdir()]:
        files = sorted(folder.glob("*.json"))
        assert files and all(layout.is_run(p) for p in files), files
        numbers = [layout.run_number(p) for p in layout.bench_runs(folder)]
        assert numbers == list(range(1, len(files) + 1))
    checks = sorted((REPO / "results" / layout.CHECKS / MACHINE.name).glob("*.json"))
    assert checks and all("_check_" in p.name for p in checks)


def test_list_and_compare_read_the_published_runs_and_label_them_apart(storage):
    names = [p.name for p in layout.bench_runs(storage)]
    listed = pytest_benchmark("--storage", f"file://{storage}", "list", cwd=storage.parent)
    assert [Path(line).name for line in listed.stdout.split()] == names
    assert "Failed to load" not in listed.stderr + listed.stdout

    compared = pytest_benchmark(
        "--storage", f"file://{storage}", "compare", "-k", "update and adamw and 1e6 and one",
        "--columns", "median", cwd=storage.parent,
    )  # fmt: skip
    out = compared.stdout
    assert "Failed to load" not in out + compared.stderr
    # one table per group: every implementation of both frameworks side by side
    assert "benchmark 'update/adamw/decoupled decay/1e6/one':" in out
    assert "benchmark 'update/adamw/none/1e6/one':" in out
    table = out.split("benchmark 'update/adamw/decoupled decay/1e6/one':")[1].split("---\n\n")[0]
    for name in ("torch-fused", "torch-forloop", "jax-jit_donate", "jax-jit-1e6"):
        assert table.count(f"weight_decay-{name}") == 2, name  # once from each run
    labels = {name[:12] for name in names}  # pytest-benchmark's short label: 12 characters
    assert len(labels) == 2 and all(f"({label})" in table for label in labels)

    by_number = pytest_benchmark(
        "--storage", f"file://{storage}", "compare", names[-1][:4], "-k", "reference",
        cwd=storage.parent,
    )  # fmt: skip
    rows = [line for line in by_number.stdout.splitlines() if "reference-copy-1e6-one" in line]
    assert len(rows) == 1  # the one run asked for (alone, pytest-benchmark labels no source)
    assert names[0][:12] not in by_number.stdout


def test_group_by_a_parameter_and_the_csv_have_every_parameter_as_a_value(storage, tmp_path):
    done = pytest_benchmark(
        "--storage", f"file://{storage}", "compare", "--group-by", "param:optimizer,param:size",
        "-k", "update and one", "--csv", str(tmp_path / "table.csv"), cwd=storage.parent,
    )  # fmt: skip
    assert "benchmark 'optimizer=adamw size=1000000':" in done.stdout
    text = (tmp_path / "table.csv").read_text()
    assert "UNSERIALIZABLE" not in text
    header = text.splitlines()[0].split(",")
    assert {"param:optimizer", "param:size", "param:framework", "param:mechanism"} <= set(header)


def test_a_published_run_has_groups_and_json_params_and_no_self_test_among_benchmarks():
    path = layout.bench_runs(MACHINE)[-1]
    doc = json.loads(path.read_text())
    keys = None
    for bench in doc["benchmarks"]:
        assert bench["group"] and bench["extra_info"]["kind"] != SELF_TEST_KIND
        assert isinstance(bench["params"], dict)
        assert all(isinstance(v, (str, int)) for v in bench["params"].values())
        keys = keys or set(bench["params"])
        assert set(bench["params"]) == keys  # --group-by=param:NAME needs NAME everywhere
    (self_test,) = doc[SELF_TEST]
    assert self_test["extra_info"]["kind"] == SELF_TEST_KIND
    run = load_run(path)
    assert len(run.benchmarks) == len(doc["benchmarks"]) == len(run.results) - 1


def test_runs_are_numbered_in_order_and_never_replaced(tmp_path):
    when = datetime.datetime(2026, 11, 21, 12, tzinfo=datetime.timezone.utc)
    commit = {"id": "abcdef0123", "dirty": False}
    first = layout.publish_run(b"{}", tmp_path, "default", commit, when)
    second = layout.publish_run(b"{}", tmp_path, "quick", commit, when)
    assert [first.name, second.name] == [
        "0001_abcdef0_default_20261121T120000Z.json",
        "0002_abcdef0_quick_20261121T120000Z.json",
    ]
    (tmp_path / "0007_abcdef0_default_20261121T120000Z.json").write_text("{}")
    assert layout.publish_run(b"{}", tmp_path, "default", commit, when).name.startswith("0008_")
    assert first.read_bytes() == b"{}"


@pytest.mark.parametrize("label", [layout.CHECKS, "baseline", "study", "ab", "stability"])
def test_a_machine_label_cannot_be_one_of_the_results_own_folders(tmp_path, label):
    with pytest.raises(UsageError, match=f"results/{label}/ holds other files"):
        layout.validate_label(label)
    assert layout.validate_label(f"{label}-box") == f"{label}-box"  # the companion: accepted
