"""Helpers shared by the tests. The benchmark suite's own plugin (``xbench.suite.plugin``)
is loaded by pytest's configuration in pyproject.toml."""

import os
from pathlib import Path

import pytest

from xbench.run import compile_cache
from xbench.run.registry import framework_available, import_adapters_package, load_adapter

import_adapters_package()  # `xbench_adapters` importable also from an uninstalled checkout

# The xbench processes the tests start, from any folder, import this checkout's xbench, as
# the tests themselves do (pyproject's `pythonpath`): installed or not (PY=python3 make test).
_checkout = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_checkout, os.environ.get("PYTHONPATH")]))

# JAX's persistent compilation cache for the tests and the xbench processes they start, as
# `xbench check` uses it: a program compiled by an earlier run is loaded, the same
# executable (XBENCH_CACHE_DIR=off for none). Set before anything imports JAX.
_cache = compile_cache.folder()
if _cache is not None and not compile_cache.unusable(_cache):
    os.environ.update(compile_cache.settings(_cache))

FRAMEWORKS = ["torch", "jax"]


def adapter_class(framework: str):
    """The adapter for ``framework``, or a skip when that framework is not installed."""
    if not framework_available(framework):
        pytest.skip(f"{framework} is not installed")
    return load_adapter(framework)
