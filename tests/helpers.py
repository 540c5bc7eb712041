"""Builders the tests share: the command line in-process, synthetic interleaved rounds,
bench and check documents written to a folder, a reference trajectory and its perturbations,
and the adapter of an installed framework. Tests import this module, never each other."""

import dataclasses
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from xbench.analysis.paired import paired_ratio
from xbench.cli import main
from xbench.records.ab_run import AbBenchmark, AbRun, Version
from xbench.run.interleave import Rounds
from xbench.run.registry import framework_available, load_adapter, run_case
from xbench.workloads.cases import Case

REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- the command line


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


# ----------------------------------------------------------------------------- interleaved rounds


SECONDS = 1e-3  # a 1 ms step


def rounds_of(base, new, first, calls=(5, 2)) -> Rounds:
    """Recorded rounds of sides ``base`` and ``new``, ``first`` one side's name per round pair."""
    per_side = [dict.fromkeys(("base", "new"), n) for n in calls]
    return Rounds({"base": base, "new": new}, tuple(first), *per_side)


def synthetic_pair(rng, ratio, rounds=40, noise=0.2, bias=0.0, drift=0.0, order="base"):
    """One process pair's rounds, strictly alternating, ``order`` side first: each round's
    time is the true time × the machine's speed at that moment (shared by adjacent rounds:
    slow drift plus a per-moment factor) × per-round noise; NEW carries a process ``bias``."""
    base, new = [], []
    for k in range(rounds):
        moment = math.exp(drift * k + rng.normal(0, noise))
        b = SECONDS * moment * math.exp(rng.normal(0, noise / 2))
        n = SECONDS * ratio * math.exp(bias) * moment * math.exp(rng.normal(0, noise / 2))
        base.append(b)
        new.append(n)
    return rounds_of(base, new, (order,) * rounds)


def synthetic(rng, ratio, pairs=8, bias_sd=0.03, **kwargs):
    return [
        synthetic_pair(
            rng, ratio, bias=rng.normal(0, bias_sd), order=("base", "new")[p % 2], **kwargs
        )  # fmt: skip
        for p in range(pairs)
    ]


def ratio_of(pairs):
    return paired_ratio(pairs, "base", "new")


def synthetic_run(rng, ratios: dict[str, float], **kwargs) -> AbRun:
    benchmarks = []
    for impl, truth in ratios.items():
        case = {"kind": "update", "framework": "torch", "implementation": impl,
                "optimizer": "adamw", "rule": "weight_decay", "params": 10_000}  # fmt: skip
        pairs = synthetic(rng, truth, **kwargs)
        benchmarks.append(AbBenchmark(f"update-adamw-torch-{impl}", case, pairs))
    side = Version("HEAD", "revision", "0" * 40, sys.executable)
    settings = {"threshold": 0.02, "pairs": 8, "rounds": 40}
    return AbRun("2026-01-01T00:00:00+00:00", 1.0, {}, settings, side, side, benchmarks)


# ----------------------------------------------------------------------------- documents


MACHINE = {
    "device": "cpu",
    "device_name": "Test CPU",
    "cpu_model": "Test CPU",
    "threads": {"requested": 2},
    "xbench_profile": "default",
    "versions": {"torch": "2.13.0+cpu", "jax": "0.10.2"},
    "python_version": "3.11.7",
    "git_commit": {"id": "abcdef0123", "dirty": False},
}


def bench(kind="update", framework="torch", impl="fused", optimizer="adamw", rule="weight_decay",
          params=10**6, median=1e-3, iqr=None, tensors=1, **extra):  # fmt: skip
    size = f"1e{len(str(params)) - 1}"
    ident = f"{kind}-{optimizer}-{rule}-{framework}-{impl}-{size}-one"
    if kind == "reference":
        ident = f"reference-{impl}-{size}-one-cpu"
    info = {
        "kind": kind, "framework": framework, "implementation": impl, "optimizer": optimizer,
        "rule": rule, "params": params, "param_count": params, "tensors": tensors,
        "dtype": "float32", "device": "cpu", "id": ident,
        "model": "mlp_wide" if kind == "train" else f"vectors{tensors}",
        "bytes_moved": 28 * params, "achieved_GBps": 28 * params / median / 1e9,
        "bandwidth_pct": 50.0, "compile_seconds": None, **extra,
    }  # fmt: skip
    iqr = 0.05 * median if iqr is None else iqr
    stats = {"median": median, "iqr": iqr, "rounds": 20, "mean": median, "min": median}
    return {"name": f"test_{kind}[{ident}]", "extra_info": info, "stats": stats}


def hour_minute(name: str) -> str:
    """``10:00`` from a name holding ``20261121T100000Z`` (``00:00`` from one without)."""
    found = re.search(r"\d{8}T(\d\d)(\d\d)\d\dZ", name)
    return f"{found.group(1)}:{found.group(2)}" if found else "00:00"


def write_run(folder: Path, name: str, benchmarks: list, **machine) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine_info": {**MACHINE, **machine},
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": f"2026-11-21T{hour_minute(name)}:00+00:00",
        "version": "5.3.1",
    }
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


def report_run(folder: Path, name="20261121T100000Z_default_abcdef0.json", **machine) -> Path:
    """A default bench run of six benchmarks, one of them noisy (``xbench report``'s tests)."""
    benchmarks = [
        bench(impl="fused", median=1e-3),
        bench(impl="forloop", median=4e-3, iqr=6e-4),  # IQR 15%: noisy
        bench(framework="jax", impl="jit_donate", median=2e-3),
        bench(impl="fused", params=10**5, median=1e-4),
        bench(framework="jax", impl="jit", params=10**5, median=5e-5, compile_seconds=0.1),
        bench(kind="reference", framework="", impl="inplace_add", optimizer="", rule=""),
    ]
    return write_run(folder, name, benchmarks, **machine)


def check_entry(name, left, right, dtype, expected="equal", held=True, error=1e-16, step=None):
    agreement = {
        "equal": expected == "equal" and held, "max_abs_error": error, "max_error_ratio": 0.1,
        "first_divergent_step": step, "tensor": None, "diverged_step": None,
        "diverged_side": None,
    }  # fmt: skip
    verdict = "ok: equal" if held else "FAIL: differs from step 3 in dense0/kernel"
    return {
        "name": f"{name}-{dtype}", "left": {"framework": left, "case": {"dtype": dtype}},
        "right": {"framework": right, "case": {"dtype": dtype}}, "expected": expected,
        "reason": "why", "exact": False, "agreement": agreement, "held": held, "verdict": verdict,
    }  # fmt: skip


def write_check(path: Path, entries: list) -> Path:
    info = {"device": "cpu", "device_name": "Test CPU", "threads": 2, "versions": {}}
    path.write_text(json.dumps({"entries": entries, "tolerances": {}, "machine_info": info}))
    return path


GATED = [("fused", 1e-3), ("forloop", 4e-3), ("foreach", 3e-3)]


REFERENCE = 2e-4  # the in-place-add kernel's median beside each benchmark


def gate_run(tmp_path, name, times=None, reference=REFERENCE, spread=0.02, drop=()):
    """Three AdamW update benchmarks, each with its adjacent reference kernel, and one
    standalone reference kernel. ``times`` overrides medians by implementation."""
    times = {**dict(GATED), **(times or {})}
    benchmarks = [
        bench(impl=impl, median=t, iqr=spread * t,
              adjacent_reference={"kernel": "inplace_add", "bytes_moved": 1, "median": reference})
        for impl, t in times.items()
        if impl not in drop
    ]  # fmt: skip
    benchmarks.append(
        bench(kind="reference", framework="", impl="inplace_add", optimizer="", rule="",
              median=reference, iqr=spread * reference)
    )  # fmt: skip
    return write_run(tmp_path / name, f"20261121T10000{len(name)}Z_quick_abcdef0.json", benchmarks)


# ----------------------------------------------------------------------------- trajectories


TRAJECTORY = run_case(
    "reference", Case(model="mlp", optimizer="adam", rule="l2_loss", weight_decay=0.1, steps=6)
)


def perturbed(traj, name, step, delta=None, value=None):
    params = {k: v.copy() for k, v in traj.params.items()}
    loss = traj.loss.copy()
    if name == "loss":
        loss[step - 1] = value if value is not None else loss[step - 1] + delta
    else:
        flat = params[name][step].reshape(-1)  # a view: writes go into params
        flat[0] = value if value is not None else flat[0] + delta
    return dataclasses.replace(traj, params=params, loss=loss)


# ----------------------------------------------------------------------------- frameworks


FRAMEWORKS = ["torch", "jax"]


def adapter_class(framework: str):
    """The adapter for ``framework``, or a skip when that framework is not installed."""
    if not framework_available(framework):
        pytest.skip(f"{framework} is not installed")
    return load_adapter(framework)


def torch_loss_and_grads(problem, case, x, y):
    import torch.nn.functional as F

    from xbench.run.registry import load_adapter

    adapter = load_adapter("torch")(problem, case)
    from xbench_adapters.torch_adapter import images_to_native

    loss = F.mse_loss(adapter.forward(adapter._tensor(images_to_native(x))), adapter._tensor(y))
    loss.backward()
    grads = {n: p.grad for n, p in adapter.named.items() if p.grad is not None}
    return float(loss.detach()), adapter.to_canonical(grads)


def jax_loss_and_grads(problem, case, x, y):
    import jax
    import jax.numpy as jnp

    from xbench.run.registry import load_adapter

    adapter = load_adapter("jax")(problem, case)
    from xbench_adapters.jax_adapter import BatchNormSettings, apply, flatten

    def loss_fn(params):  # training mode: batch norm normalises with the batch's statistics
        norm = BatchNormSettings.of(case)
        output = apply(problem.model, params, adapter.running, jnp.asarray(x), norm=norm)[0]
        return jnp.mean((output - jnp.asarray(y)) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(adapter.tree)
    return float(loss), {n: np.asarray(v) for n, v in flatten(grads).items()}


def numeric_gradient(problem, name, index, h=1e-6):
    """d loss / d params[name][index] by central differences, on the first batch."""
    from xbench_adapters.reference import loss_and_grads

    x, y = problem.x[0], problem.y[0]
    plus = {k: v.copy() for k, v in problem.params.items()}
    minus = {k: v.copy() for k, v in problem.params.items()}
    plus[name][index] += h
    minus[name][index] -= h
    return (loss_and_grads(problem.model, plus, x, y)[0]
            - loss_and_grads(problem.model, minus, x, y)[0]) / (2 * h)  # fmt: skip
