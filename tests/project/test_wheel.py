"""xbench installed from a wheel, outside this checkout, runs ``xbench check`` and
``xbench bench``: the benchmark suite ships inside the package."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xbench.run.registry import framework_available

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "xbench", "adapters")
# A wheel built and installed, then whole xbench processes run from it (~15 s): make test
# leaves these to make robustness, which CI runs.
pytestmark = pytest.mark.long


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources, installed into a fresh target folder."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    if build.returncode != 0 and "setuptools" in build.stderr and "No module" in build.stderr:
        pytest.skip("this interpreter has no setuptools to build a wheel with")
    assert build.returncode == 0, build.stderr
    (wheel,) = (root / "dist").glob("xbench-*.whl")
    target = root / "site"
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return target


def xbench(installed: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m xbench ...`` with the installed copy first on the path, from ``cwd``."""
    env = dict(os.environ, PYTHONPATH=str(installed))
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_wheel_holds_the_package_the_adapters_and_the_suite(installed, tmp_path):
    probe = "import xbench, xbench_adapters; print(xbench.__file__, xbench_adapters.__file__)"
    done = xbench(installed, "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for path in done.stdout.split():
        assert Path(path).is_relative_to(installed), path  # not this checkout
    suite = installed / "xbench" / "suite"
    assert (suite / "benchmarks.py").is_file() and (suite / "pytest.ini").is_file()
    assert not (installed / "tests").exists()


def test_bench_lists_its_benchmarks_from_the_wheel(installed, tmp_path):
    done = xbench(installed, "-m", "xbench", "bench", "--quick", "--list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ids = done.stdout.split()
    assert "update-adamw-weight_decay-torch-fused-1e6-one" in ids and len(ids) > 20


def test_check_runs_from_the_wheel(installed, tmp_path):
    if not (framework_available("torch") and framework_available("jax")):
        pytest.skip("needs torch and jax")
    out = tmp_path / "check.json"
    argv = ("-m", "xbench", "check", "--model", "linear", "--json", str(out))
    done = xbench(installed, *argv, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "0 failed" in done.stdout
    entries = json.loads(out.read_text())["entries"]
    assert len(entries) >= 8 and all(e["held"] for e in entries)


def test_bench_times_the_suite_from_the_wheel(installed, tmp_path):
    """The suite runs from the installed package, with its own configuration, and the run
    is published; the commit is unknown (no checkout), not this repository's."""
    pytest.importorskip("pytest_benchmark")
    if not framework_available("torch"):
        pytest.skip("needs torch")
    results = tmp_path / "results"
    argv = ("-m", "xbench", "bench", "--quick", "-k", "reference and 1e4", "--results",
            str(results), "--label", "wheel")  # fmt: skip
    done = xbench(installed, *argv, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    (run,) = (results / "wheel").glob("0001_nocommit_quick_*.json")
    document = json.loads(run.read_text())
    assert document["format"] == "xbench-bench/1"
    assert {b["extra_info"]["kind"] for b in document["benchmarks"]} == {"reference"}
    assert all(b["fullname"].startswith("benchmarks.py::") for b in document["benchmarks"])
