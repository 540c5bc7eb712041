"""Display names shared by the pages and plots."""

from __future__ import annotations

from xbench.workloads.benchmarks import BENCH_OPTIMIZERS, bytes_per_param

MODEL_TITLES = {
    "vectors1": "Update step, parameters in one tensor",
    "vectors1000": "Update step, parameters in 1000 tensors",
    "mlp_wide": "Training step, `mlp_wide` (64 → h → h → 4, batch 32)",
}
OPTIMIZER_NAMES = {
    "sgd": "SGD",
    "momentum": "momentum",
    "nesterov": "Nesterov",
    "adam": "Adam",
    "adamw": "AdamW",
}


def bytes_per_param_text(optimizers=BENCH_OPTIMIZERS) -> str:
    """``SGD 12, momentum 20, Adam/AdamW 28``: float32 bytes an update moves per parameter,
    optimizers that move the same bytes named together (see ``bytes_per_param``)."""
    groups: dict[int, list[str]] = {}
    for optimizer in optimizers:
        groups.setdefault(bytes_per_param(optimizer), []).append(OPTIMIZER_NAMES[optimizer])
    return ", ".join(f"{'/'.join(names)} {size}" for size, names in groups.items())


def versions_text(info: dict) -> str:
    """``jax 0.4.30, torch 2.3.1``: the versions a run's machine info records, as listed."""
    return ", ".join(f"{k} {v}" for k, v in (info.get("versions") or {}).items() if v)
