"""``import xbench`` must not import torch or jax: a one-framework user can run their half.
Nor matplotlib: only drawing the report's plots needs it."""

import subprocess
import sys

import pytest

CORE = ", ".join(
    f"xbench.{m}"
    for m in ("bench", "cli", "cases", "catalogue", "check", "equivalence", "machine",
              "models", "plots", "problems", "registry", "report", "results", "roofline",
              "storage", "sweep", "timing", "trajectory")
)  # fmt: skip


def loaded_frameworks(code: str) -> set[str]:
    names = "('torch', 'jax', 'optax', 'matplotlib')"
    probe = f"{code}\nimport sys; print(' '.join(m for m in {names} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_imports_no_framework():
    assert loaded_frameworks(f"import xbench, {CORE}") == set()


@pytest.mark.parametrize("framework, module", [("torch", "torch"), ("jax", "jax")])
def test_probe_sees_a_framework_once_an_adapter_loads(framework, module):
    pytest.importorskip(module)
    code = f"import xbench.registry as r; r.load_adapter('{framework}')"
    assert module in loaded_frameworks(code)
