"""``import xbench`` (any module of it) must not import torch or jax: a one-framework user
can run their half. Nor matplotlib: only drawing the plots needs it."""

import pkgutil
import subprocess
import sys

import pytest

import xbench

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(xbench.__path__, "xbench.") if m.name != "xbench.__main__"
)


def loaded_frameworks(code: str) -> set[str]:
    names = "('torch', 'jax', 'optax', 'matplotlib')"
    probe = f"{code}\nimport sys; print(' '.join(m for m in {names} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_every_module_is_found():
    assert (
        len(MODULES) > 40 and "xbench.cli.check" in MODULES and "xbench.workloads.cases" in MODULES
    )


def test_core_imports_no_framework():
    assert loaded_frameworks(f"import xbench, {', '.join(MODULES)}") == set()


@pytest.mark.parametrize("framework, module", [("torch", "torch"), ("jax", "jax")])
def test_probe_sees_a_framework_once_an_adapter_loads(framework, module):
    pytest.importorskip(module)
    code = f"import xbench.run.registry as r; r.load_adapter('{framework}')"
    assert module in loaded_frameworks(code)
