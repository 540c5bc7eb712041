"""Run the timed suite (``xbench.suite``) under pytest-benchmark; publish its JSON.

pytest-benchmark writes its JSON into a temporary folder; only a run that finished and
passed is linked into ``results/<label>/`` under a new name (the next run number, commit,
profile, time: ``records.layout``), so an earlier run is never overwritten and an
interrupted one leaves nothing half-written there.
torch.compile's cache also lives in that temporary folder, so compile times are cold. The
suite runs in a fresh process from the installed package, with its own pytest
configuration: a checkout is not needed.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from xbench import suite
from xbench.errors import UsageError, interrupt_code, say_interrupted
from xbench.jobs.bench_interleaved import DEFAULT_PAIRS, cells, run_pairs
from xbench.records import layout
from xbench.records.bench_run import BenchRun
from xbench.records.bench_run import load as load_run
from xbench.records.scratch import scratch
from xbench.run import lifeline, machine
from xbench.workloads.benchmarks import (
    SWEEP_PROFILES,
    benchmark_count,
    overhead_cases,
    size_label,
    sweep,
)


@dataclass(frozen=True)
class BenchRequest:
    """What ``xbench bench`` was asked to run."""

    profile: str
    device: str
    threads: int
    results: Path
    label: str | None = None
    select: str | None = None  # a pytest -k expression
    paired_seconds: float = 0.0  # the torch-vs-JAX stage's budget; 0: no such stage
    pairs: int = DEFAULT_PAIRS  # the torch-vs-JAX stage's process pairs


def require_pytest_benchmark() -> None:
    for module, package in (("pytest", "pytest"), ("pytest_benchmark", "pytest-benchmark")):
        if importlib.util.find_spec(module) is None:
            raise UsageError(
                f'xbench bench needs {package}, which is not installed; pip install "xbench[bench]"'
            )


def suite_command(request: BenchRequest, *options: str) -> list[str]:
    """pytest over the suite, with its own configuration, for ``request``, and ``options``."""
    command = [
        sys.executable, "-m", "pytest", str(suite.BENCHMARKS), "-c", str(suite.CONFIG),
        "-p", "no:cacheprovider", *options,
        f"--xbench-profile={request.profile}", f"--xbench-device={request.device}",
        f"--xbench-threads={request.threads}",
    ]  # fmt: skip
    return command + (["-k", request.select] if request.select else [])


def pytest_command(request: BenchRequest, json_path: Path) -> list[str]:
    return suite_command(
        request, "--benchmark-only", "--benchmark-enable", "--benchmark-quiet",
        f"--benchmark-json={json_path}", "-q", "--no-header", "--durations=10",
        "--xbench-progress", f"--xbench-parent={os.getpid()}",
    )  # fmt: skip


PACKAGE_ROOT = Path(suite.__file__).resolve().parents[2]  # the folder holding xbench/


def suite_environment(tmp: Path) -> dict[str, str]:
    """The suite's process imports this very xbench (checkout or installed), and compiles
    into a fresh torch.compile cache."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, TORCHINDUCTOR_CACHE_DIR=str(tmp / "inductor"))


def listed(request: BenchRequest) -> list[str]:
    """The benchmarks ``request`` would run, as pytest collects them (``-k`` applied): each
    one's id, or its test's name when it has no parameters."""
    require_pytest_benchmark()
    command = suite_command(request, "--collect-only", "-q")
    with scratch("list") as tmp:
        env = suite_environment(tmp)
        done = lifeline.run(command, cwd=PACKAGE_ROOT, env=env, capture_output=True, text=True)
    if done.returncode == 5:
        raise UsageError(f"no benchmark matches -k {request.select!r}")
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise UsageError(f"pytest could not collect the suite (-k {request.select!r}?): {last[0]}")
    nodes = [line.split("::", 1)[1] for line in done.stdout.splitlines() if "::" in line]
    return [n[n.index("[") + 1 : -1] if n.endswith("]") else n for n in nodes]


def fits(request: BenchRequest, chosen: list[str] | None = None) -> None:
    """Refuse, before the sweep starts, one whose largest benchmark cannot fit in memory; with
    ``-k``, only the benchmarks it selects (``chosen``, as pytest collects them) count."""
    cases = [*sweep(request.profile, request.device), *overhead_cases(request.device)]
    if request.select and chosen is None:
        chosen = listed(request)
    if chosen is not None:
        chosen = set(chosen)
        cases = [c for c in cases if c.id in chosen]
    if not cases:
        return
    largest = max(cases, key=lambda c: c.resident_bytes)
    size = size_label(largest.params)
    machine.require_memory(
        largest.resident_bytes,
        f"the benchmarks at {size} (the largest, {largest.id}, its arrays alone)",
        ("" if request.profile == "quick" else "run --quick (sizes up to 1e6) or ")
        + f"leave this size out with -k 'not {size}'",
    )


def run_suite(command: list[str], env: dict[str, str]) -> int:
    """Run the suite's pytest to its end (its exit code); on an interrupt stop it, then raise
    KeyboardInterrupt. The child ignores Ctrl-C (pytest would print its own traceback beside
    xbench's one line) and ends with this process however it ends (``run.lifeline``)."""
    # from the folder holding xbench/, so pytest names each benchmark
    # xbench/suite/benchmarks.py::... (its configuration is the suite's own, -c)
    process = lifeline.start(command, cwd=PACKAGE_ROOT, env=env)
    try:
        return process.wait()
    except BaseException:
        lifeline.stop(process)
        raise


def publish(raw: Path, folder: Path, profile: str, commit: dict | None = None, when=None) -> Path:
    """Link the finished JSON into ``folder`` under a name no earlier run holds, named by
    ``when`` the run started (default: now)."""
    data = raw.read_bytes()
    if not json.loads(data).get("benchmarks"):
        raise UsageError("the run produced no benchmark results; nothing published")
    return layout.publish_run(data, folder, profile, commit, when)


def announce(request: BenchRequest, folder: Path, total: int) -> None:
    selection = f" (-k {request.select!r})" if request.select else ""
    print(
        f"xbench bench: profile {request.profile}, {total} benchmarks on {request.device} with "
        f"{request.threads} thread(s){selection}; results to {folder}/.\n"
        f"  {request.profile}: {SWEEP_PROFILES[request.profile].description}",
        flush=True,
    )


def failed(code: int, minutes: float, raw: Path, select: str | None) -> int:
    """Say why a pytest run published nothing; keep what it wrote. The exit code to use."""
    if code == 5:
        raise UsageError(f"no benchmark matches -k {select!r}")
    if code == 4:
        raise UsageError(f"pytest rejected its arguments (-k {select!r}?); see above")
    kept = Path(tempfile.gettempdir()) / f"xbench-failed-run-{os.getpid()}.json"
    if raw.is_file():
        shutil.copyfile(raw, kept)
    print(
        f"xbench bench: pytest exited {code} after {minutes:.1f} min; nothing published"
        + (f" (the incomplete JSON is kept at {kept})" if raw.is_file() else ""),
        file=sys.stderr,
    )
    return 1


def add_paired(raw: Path, request: BenchRequest) -> None:
    """Time the sweep's torch-vs-JAX comparisons interleaved (``jobs.bench_interleaved``) and add
    them to the run's JSON as its ``paired`` section; nothing when there is none to time."""
    if request.paired_seconds <= 0:
        return
    found = cells(list(load_run(raw).results))
    if not found:
        print("xbench bench: nothing timed in both frameworks; no torch-vs-JAX stage", flush=True)
        return
    section = run_pairs(
        found, request.paired_seconds, request.pairs, request.threads,
        log=lambda message: print(f"xbench bench: {message}", file=sys.stderr, flush=True),
    )  # fmt: skip
    doc = json.loads(raw.read_text())
    doc["paired"] = section
    raw.write_text(json.dumps(doc, indent=4))


def run_bench(request: BenchRequest) -> tuple[int, BenchRun | None, float]:
    """(exit code, the published run or None, minutes); when interrupted, 128 + the signal
    (130: Ctrl-C). The selection, the memory and the results folder are checked before
    anything runs; a results folder this run created is removed again if nothing was
    published in it."""
    require_pytest_benchmark()
    chosen = listed(request) if request.select else None  # a -k matching nothing: exit 2
    fits(request, chosen)
    label = layout.validate_label(request.label or machine.label(request.device, request.threads))
    total = len(chosen) if chosen is not None else benchmark_count(request.profile, request.device)
    with layout.removed_if_left_empty(request.results / label) as folder:
        announce(request, folder, total)
        return sweep_and_publish(request, folder)


def sweep_and_publish(request: BenchRequest, folder: Path) -> tuple[int, BenchRun | None, float]:
    started, commit = time.perf_counter(), machine.git_commit()
    when = datetime.datetime.now(datetime.timezone.utc)
    nothing = f"nothing written to {folder}"
    with scratch("bench") as tmp:
        raw = tmp / "run.json"
        command, env = pytest_command(request, raw), suite_environment(tmp)
        try:
            code = run_suite(command, env)
        except KeyboardInterrupt:
            say_interrupted("xbench bench", f"; {nothing}")
            return interrupt_code(), None, 0.0
        minutes = (time.perf_counter() - started) / 60
        if code != 0:
            return failed(code, minutes, raw, request.select), None, minutes
        try:
            add_paired(raw, request)
        except KeyboardInterrupt:
            kept = Path(tempfile.gettempdir()) / f"xbench-unpaired-run-{os.getpid()}.json"
            shutil.copyfile(raw, kept)
            say_interrupted("xbench bench", f" in the torch-vs-JAX stage; {nothing} (the "
                            f"finished sweep is kept at {kept})")  # fmt: skip
            return interrupt_code(), None, 0.0
        except Exception as exc:  # the sweep stands without the stage: published, and said
            print(f"xbench bench: the torch-vs-JAX stage failed ({type(exc).__name__}: {exc}); "
                  "publishing the sweep without it (its ratios are unpaired)",
                  file=sys.stderr)  # fmt: skip
        minutes = (time.perf_counter() - started) / 60
        try:
            path = publish(raw, folder, request.profile, commit, when)
        except OSError as exc:
            kept = Path(tempfile.gettempdir()) / f"xbench-unpublished-run-{os.getpid()}.json"
            shutil.copyfile(raw, kept)
            raise UsageError(
                f"cannot write to {folder}: {exc}; the run is kept at {kept}"
            ) from None
    return 0, load_run(path, folder.name), minutes
