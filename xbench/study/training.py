"""One condition trained in one framework from one seed, evaluated after every epoch.

After every epoch one NumPy function (float64, no dropout, the reference adapter's forward
pass, batch norm in evaluation mode with the framework's running statistics) evaluates each
framework's parameters: train and validation loss and accuracy, the kernels' norm, and the
fraction of kernel weights exactly zero and below ``SMALL``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from xbench.records.study_run import Distance, Histogram, TrainingRun
from xbench.run.registry import load_adapter
from xbench.study.conditions import IMPLEMENTATION, MODEL, Condition
from xbench.study.data import Digits, batches_per_epoch
from xbench.workloads.models import MODELS
from xbench.workloads.problems import Problem

SMALL = 1e-3  # "near zero" for the fraction of small weights
HISTOGRAM_EDGES = tuple(float(e) for e in np.arange(-9.0, 1.01, 0.25))  # log10 |w| of kernels


class Diverged(Exception):
    """A run's loss became NaN or Inf."""


def kernels(params: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([v.ravel() for n, v in sorted(params.items()) if n.endswith("/kernel")])


def _float64(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {n: np.asarray(v, np.float64) for n, v in params.items()}


def outputs(params, data_x: np.ndarray, model: str = MODEL, stats=None) -> np.ndarray:
    """The model's outputs in float64, evaluation mode (``stats``: batch norm's statistics)."""
    reference = load_adapter("reference")
    stats = _float64(stats) if stats else None
    return reference.outputs(MODELS[model], _float64(params), data_x, stats)


def evaluate(params, data: Digits, model: str = MODEL, stats=None) -> dict[str, float]:
    """Loss and accuracy on both sets, and the kernels' norm and sparsity, in float64."""
    reference = load_adapter("reference")
    out: dict[str, float] = {}
    for split, x, y in (("train", data.x_train, data.y_train), ("val", data.x_val, data.y_val)):
        log_p = reference.log_softmax(outputs(params, x, model, stats))
        out[f"{split}_loss"] = float(-np.mean(log_p[np.arange(len(y)), y]))
        out[f"{split}_acc"] = float(np.mean(log_p.argmax(axis=-1) == y))
    w = kernels(params)
    out["weight_norm"] = float(np.sqrt(np.sum(np.asarray(w, np.float64) ** 2)))
    out["zero_frac"] = float(np.mean(w == 0))
    out["small_frac"] = float(np.mean(np.abs(w) < SMALL))
    return out


def confusion(params, data: Digits, model: str = MODEL, stats=None) -> tuple[tuple[int, ...], ...]:
    """Validation confusion matrix: rows the true digit, columns the predicted one."""
    predicted = outputs(params, data.x_val, model, stats).argmax(axis=-1)
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (data.y_val, predicted), 1)
    return tuple(tuple(row) for row in matrix.tolist())


def histogram(params: dict[str, np.ndarray]) -> Histogram:
    """Kernel weights by log10 |w| over HISTOGRAM_EDGES, and the exact zeros apart."""
    w = np.abs(kernels(params).astype(np.float64))
    nonzero = w[w > 0]
    counts, _ = np.histogram(np.log10(nonzero), bins=np.array(HISTOGRAM_EDGES))
    below = int(np.sum(np.log10(nonzero) < HISTOGRAM_EDGES[0])) if nonzero.size else 0
    return Histogram(int(np.sum(w == 0)), below, tuple(counts.tolist()))


def distance(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> Distance:
    """How far two sets of final kernels are apart."""
    wa, wb = kernels(a).astype(np.float64), kernels(b).astype(np.float64)
    return Distance(
        max_abs_diff=float(np.max(np.abs(wa - wb))),
        rel_diff=float(np.linalg.norm(wa - wb) / max(np.linalg.norm(wb), 1e-300)),
        zero_pattern_mismatch=float(np.mean((wa == 0) != (wb == 0))),
    )


def train(
    framework: str,
    condition: Condition,
    seed: int,
    epochs: int,
    data: Digits,
    problem: Problem,
    on_epoch: Callable[[int], None] | None = None,
) -> tuple[TrainingRun, dict[str, np.ndarray]]:
    """Train one condition in one framework; per-epoch metrics and the final parameters."""
    per_epoch = batches_per_epoch()
    case = condition.case(framework, seed, epochs * per_epoch)
    adapter = load_adapter(framework)(problem, case, IMPLEMENTATION[framework])
    model = condition.model
    history = [evaluate(adapter.params(), data, model, adapter.stats())]
    start = time.perf_counter()
    for epoch in range(epochs):
        for index in range(epoch * per_epoch, (epoch + 1) * per_epoch):
            adapter.step(index)
        history.append(evaluate(adapter.params(), data, model, adapter.stats()))
        if not math.isfinite(history[-1]["train_loss"]):
            raise Diverged(
                f"{condition.name} diverged in {framework} (seed {seed}) at epoch {epoch + 1}; "
                "nothing was saved: lower the learning rate in xbench/study/conditions.py or "
                "drop the condition with --conditions"
            )
        if on_epoch:
            on_epoch(epoch + 1)
    seconds = time.perf_counter() - start
    final = adapter.params()
    run = TrainingRun(
        condition=condition.name,
        framework=framework,
        seed=seed,
        history={k: [h[k] for h in history] for k in history[0]},
        rule=case.rule,
        implementation=IMPLEMENTATION[framework],
        seconds=round(seconds, 3),
        confusion=confusion(final, data, model, adapter.stats()),
        histogram=histogram(final),
    )
    return run, final
