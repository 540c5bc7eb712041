"""Helpers shared by the tests. The benchmark suite's own plugin (``xbench.suite.plugin``)
is loaded by pytest's configuration in pyproject.toml."""

import pytest

from xbench.run.registry import framework_available, import_adapters_package, load_adapter

import_adapters_package()  # `xbench_adapters` importable also from an uninstalled checkout

FRAMEWORKS = ["torch", "jax"]


def adapter_class(framework: str):
    """The adapter for ``framework``, or a skip when that framework is not installed."""
    if not framework_available(framework):
        pytest.skip(f"{framework} is not installed")
    return load_adapter(framework)
