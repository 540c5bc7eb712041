import os

import pytest

from xbench import machine, roofline
from xbench.registry import framework_available, import_adapters_package, load_adapter
from xbench.sweep import PROFILES

import_adapters_package()  # `xbench_adapters` importable also from an uninstalled checkout

FRAMEWORKS = ["torch", "jax"]


def adapter_class(framework: str):
    """The adapter for ``framework``, or a skip when that framework is not installed."""
    if not framework_available(framework):
        pytest.skip(f"{framework} is not installed")
    return load_adapter(framework)


def pytest_addoption(parser):
    group = parser.getgroup("xbench", "xbench timed benchmarks (tests/test_bench.py)")
    group.addoption(
        "--xbench-profile",
        default="quick",
        choices=sorted(PROFILES),
        help="which sweep test_bench.py runs (default quick; `xbench bench` passes default)",
    )
    group.addoption("--xbench-device", default="cpu", help="cpu, cuda or cuda:N")
    group.addoption(
        "--xbench-threads",
        type=int,
        default=int(os.environ.get("XBENCH_THREADS", 0)) or machine.available_cpus(),
        help="threads for both frameworks (default: every CPU this process may use)",
    )


def pytest_configure(config):
    config.xbench_threads = machine.set_threads(config.getoption("--xbench-threads"))
    config.xbench_commit = machine.git_commit()  # the code as it was when the run started


def pytest_benchmark_update_commit_info(config, commit_info):
    commit_info.update(config.xbench_commit)  # not as the tree may be when the run ends


def pytest_benchmark_update_machine_info(config, machine_info):
    device = config.getoption("--xbench-device")
    machine_info.update(
        versions=machine.versions(),
        threads=config.xbench_threads,
        cpu_model=machine.cpu_model(),
        device=device,
        device_name=machine.device_name(device),
        git_commit=config.xbench_commit,
        xbench_profile=config.getoption("--xbench-profile"),
    )


def pytest_benchmark_update_json(config, benchmarks, output_json):
    roofline.annotate(output_json)
