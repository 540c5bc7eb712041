"""Lazy name -> adapter registry: the only way xbench reaches an adapter.

``import xbench`` imports neither torch nor jax: an adapter module is imported only when its
framework is asked for (AlgoPerf keeps a lazy registry for the same reason).

Adapters live in the top-level ``adapters/`` folder, installed under the import name
``xbench_adapters`` (PyPI's ``adapters`` package owns the plain name). In a source checkout
that was not pip-installed (``PY=python3 make ...`` on an image that ships the frameworks),
the folder is loaded under that same name from beside this package.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from xbench.errors import UsageError
from xbench.run.trajectory import Trajectory, record
from xbench.workloads.cases import Case, check_applicable
from xbench.workloads.problems import Problem, make_problem

ADAPTERS = {
    "torch": ("xbench_adapters.torch_adapter", "TorchAdapter", "torch"),
    "jax": ("xbench_adapters.jax_adapter", "JaxAdapter", "jax"),
    "reference": ("xbench_adapters.reference", "ReferenceAdapter", "numpy"),
}


class Adapter(Protocol):
    """What every framework adapter provides."""

    framework: str
    problem: Problem

    def __init__(self, problem: Problem, case: Case, implementation: str = ...) -> None:
        """``implementation`` pins the code path (torch forloop/foreach/fused/compiled,
        JAX jit/jit_donate); the reference has one."""

    def step(self, index: int) -> float:
        """Forward, backward, regularizer and update on batch ``index``; the data loss."""

    def update(self, grads) -> None:
        """The optimizer update alone (with the rule), given gradients in native layout."""

    def params(self) -> dict[str, np.ndarray]:
        """Current parameters in canonical layout, as NumPy."""

    def to_native(self, canonical: dict[str, np.ndarray]): ...

    def to_canonical(self, native) -> dict[str, np.ndarray]: ...

    def decayed_names(self) -> frozenset[str]:
        """Canonical names the native optimizer/loss actually decays (param groups, mask)."""

    def block(self) -> None:
        """Wait until queued device work is done."""

    def timed_update(self, grads: dict[str, np.ndarray]) -> tuple[Callable[[], None], float | None]:
        """A no-argument, blocking update with fixed gradients, already run once, and the
        seconds its compilation took (None when nothing compiles). torch and JAX only."""

    def timed_step(self) -> tuple[Callable[[], None], float | None]:
        """The same for a whole training step on batch 0."""

    # Class-level helpers some adapters add (reached as ``load_adapter(name).<helper>``):
    # torch: ``memory_kernel(kernel, elements, dtype, device)``, the roofline kernels;
    # reference: ``outputs(model, params, x)`` and ``log_softmax(z)``, for evaluation.


def import_adapters_package() -> None:
    if importlib.util.find_spec("xbench_adapters") is not None:
        return
    folder = Path(__file__).resolve().parents[2] / "adapters"  # beside xbench/
    spec = importlib.util.spec_from_file_location(
        "xbench_adapters", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or not folder.is_dir():
        raise UsageError(f"xbench adapters not found (looked for {folder}); reinstall xbench")
    module = importlib.util.module_from_spec(spec)
    sys.modules["xbench_adapters"] = module
    spec.loader.exec_module(module)


def framework_available(framework: str) -> bool:
    return importlib.util.find_spec(ADAPTERS[framework][2]) is not None


def load_adapter(framework: str) -> type[Adapter]:
    if framework not in ADAPTERS:
        raise UsageError(f"unknown framework {framework!r}; valid: {', '.join(ADAPTERS)}")
    module_name, class_name, needs = ADAPTERS[framework]
    if not framework_available(framework):
        raise UsageError(f"framework {framework!r} needs {needs}, which is not installed")
    import_adapters_package()
    return getattr(importlib.import_module(module_name), class_name)


def problem_for(framework: str, case: Case) -> Problem:
    """The reference always computes in float64, from the same (possibly rounded) inputs."""
    problem = make_problem(case)
    return problem.as_dtype(np.float64) if framework == "reference" else problem


# Adapters whose programs compile: built with ``shared_programs=True`` by ``build``, so runs of
# one structure (the check's hundreds) compile one program, the case's numbers its arguments
COMPILING = ("jax",)


def build(framework: str, case: Case) -> Adapter:
    check_applicable(framework, case)
    shared = {"shared_programs": True} if framework in COMPILING else {}
    return load_adapter(framework)(problem_for(framework, case), case, **shared)


def run_case(framework: str, case: Case, progress=None) -> Trajectory:
    """Run ``case.steps`` training steps and record every parameter after every step."""
    return record(build(framework, case), case, progress)
