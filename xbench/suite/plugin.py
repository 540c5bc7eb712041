"""The pytest plugin of the benchmark suite: its options, threads, and the JSON it writes.

Loaded with ``-p xbench.suite.plugin`` (``xbench bench`` does; so does ``make test``, which
runs every benchmark once, untimed). Everything xbench adds to pytest-benchmark's JSON comes
from ``xbench.records.bench_run``.
"""

from __future__ import annotations

import os

from xbench.records import bench_run, machine
from xbench.run.threads import available_cpus, set_threads
from xbench.spec.benchmarks import SWEEP_PROFILES


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
        "--xbench-threads",
        type=int,
        default=int(os.environ.get("XBENCH_THREADS", 0)) or available_cpus(),
        help="threads for both frameworks (default: every CPU this process may use)",
    )


def pytest_configure(config):
    config.xbench_threads = set_threads(config.getoption("--xbench-threads"))
    config.xbench_commit = machine.git_commit()  # the code as it was when the run started


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
