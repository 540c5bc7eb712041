"""The pytest plugin of the benchmark suite: its options, threads, and the JSON it writes.

Loaded with ``-p xbench.suite.plugin`` (``xbench bench`` does; so does ``make test``, which
runs every benchmark once, untimed). Everything xbench adds to pytest-benchmark's JSON comes
from ``xbench.records.bench_run``.
"""

from __future__ import annotations

import os
import sys

import pytest

from xbench.present.progress import Progress
from xbench.records import bench_run
from xbench.run import machine
from xbench.run.lifeline import die_with_parent
from xbench.run.threads import available_cpus, set_threads
from xbench.workloads.benchmarks import SWEEP_PROFILES


def pytest_addoption(parser):
    group = parser.getgroup("xbench", "xbench timed benchmarks (xbench.suite)")
    group.addoption(
        "--xbench-profile",
        default="quick",
        choices=sorted(SWEEP_PROFILES),
        help="which sweep the suite runs (default quick; `xbench bench` passes default)",
    )
    group.addoption("--xbench-device", default="cpu", help="cpu, cuda or cuda:N")
    group.addoption(
        "--xbench-progress",
        action="store_true",
        help="a progress bar (a line per benchmark when stderr is not a terminal) instead of "
        "pytest's own per-test output",
    )
    group.addoption(
        "--xbench-parent",
        type=int,
        default=None,
        metavar="PID",
        help="end this pytest once process PID is gone (`xbench bench` passes its own)",
    )
    group.addoption(
        "--xbench-threads",
        type=int,
        default=int(os.environ.get("XBENCH_THREADS", 0)) or available_cpus(),
        help="threads for both frameworks (default: every CPU this process may use)",
    )


def pytest_configure(config):
    parent = config.getoption("--xbench-parent")
    if parent is not None:
        die_with_parent(parent)
    if config.getoption("--xbench-progress"):
        config.pluginmanager.register(SweepProgress(), "xbench-progress")
    config.xbench_threads = set_threads(config.getoption("--xbench-threads"))
    config.xbench_commit = machine.git_commit()  # the code as it was when the run started


class SweepProgress:
    """``--xbench-progress``: a bar over the benchmarks (a line per benchmark when stderr is
    not a terminal, as in CI logs) instead of pytest's own per-test output."""

    def __init__(self) -> None:
        self.bar: Progress | None = None

    def pytest_collection_finish(self, session):
        self.bar = Progress(len(session.items), "xbench bench: sweep", stream=sys.stderr)
        self.bar.__enter__()

    def pytest_runtest_logstart(self, nodeid, location):
        if self.bar is not None:
            self.bar.start(benchmark_id(nodeid))

    def pytest_runtest_logreport(self, report):
        ended = report.when == "call" or (report.when == "setup" and not report.passed)
        if self.bar is not None and ended:
            note = "" if report.passed else report.outcome.upper()
            self.bar.done(benchmark_id(report.nodeid), note)

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        if report.when == "call" and report.passed:  # the bar says it; pytest: the rest
            return "passed", "", ""
        return None

    def pytest_sessionfinish(self, session):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def benchmark_id(nodeid: str) -> str:
    """``update-adamw-...-1e6-one`` from ``...::test_update[update-adamw-...-1e6-one]``."""
    name = nodeid.rsplit("::", 1)[-1]
    return name[name.index("[") + 1 : -1] if name.endswith("]") else name


def pytest_benchmark_update_commit_info(config, commit_info):
    commit_info.update(config.xbench_commit)  # not as the tree may be when the run ends


def pytest_benchmark_update_machine_info(config, machine_info):
    device = config.getoption("--xbench-device")
    machine_info.update(
        bench_run.machine_info(
            device,
            machine.device_name(device),
            config.xbench_threads,
            config.getoption("--xbench-profile"),
            config.xbench_commit,
        )
    )


def pytest_benchmark_update_json(config, benchmarks, output_json):
    bench_run.finish(output_json)
