"""The study's data: scikit-learn's bundled ``digits`` (8×8 images, 10 classes, no download),
pixels scaled to [0, 1], one fixed split; and each seed's Problem (docs/study.md: why the
training set is small, and what each seed draws).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbench.errors import UsageError
from xbench.study.conditions import BATCH_SIZE, MODEL
from xbench.workloads.models import MODELS, Tanh, init_params
from xbench.workloads.problems import Problem

SPLIT_SEED = 0
TRAIN_SIZE = 256


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray  # (TRAIN_SIZE, 64), float64 in [0, 1]
    y_train: np.ndarray  # (TRAIN_SIZE,) int labels
    x_val: np.ndarray
    y_val: np.ndarray


def load_digits() -> Digits:
    """The fixed split: a permutation from SPLIT_SEED, the first TRAIN_SIZE for training."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:
        raise UsageError(
            "xbench study needs scikit-learn (its bundled digits dataset); "
            "`make install` or pip install scikit-learn"
        ) from exc
    digits = sklearn_digits()
    x = digits.data / 16.0
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    train, val = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    return Digits(x[train], y[train], x[val], y[val])


def batches_per_epoch() -> int:
    return TRAIN_SIZE // BATCH_SIZE


def make_problem(
    data: Digits, seed: int, epochs: int, dropout: float = 0.0, model_name: str = MODEL
) -> Problem:
    """Initial weights, every epoch's batches and the dropout masks, from ``seed``; float32.

    ``model_name`` ``mlp_digits_bn`` draws the very same kernels, batches and masks as
    ``mlp_digits`` (its norm scales start at 1 and biases at 0, which draw nothing).

    Each epoch visits the training set in a new order, ``BATCH_SIZE`` at a time. Dropout masks
    come from their own stream, one uniform draw per unit and step, kept where u ≥ rate and
    scaled by 1/(1 − rate): a larger rate drops a superset of the units a smaller one drops.
    """
    model = MODELS[model_name]
    rng = np.random.default_rng(seed)
    params = init_params(model, rng)
    per_epoch = batches_per_epoch()
    order = np.concatenate(
        [rng.permutation(TRAIN_SIZE)[: per_epoch * BATCH_SIZE] for _ in range(epochs)]
    ).reshape(epochs * per_epoch, BATCH_SIZE)
    x, y = data.x_train[order], np.eye(10)[data.y_train[order]]  # labels one-hot
    keep: tuple[np.ndarray, ...] = ()
    if dropout:
        masks = np.random.default_rng([seed, 1])
        widths, width = [], model.input_shape[-1]
        for layer in model.layers:  # the width each Tanh sees: the output of the layer before
            width = getattr(layer, "fan_out", width)
            if isinstance(layer, Tanh):
                widths.append(width)
        keep = tuple(
            (masks.random((len(order), BATCH_SIZE, w)) >= dropout) / (1.0 - dropout) for w in widths
        )
    return Problem(model, params, x, y, "cross_entropy", keep).as_dtype(np.float32)
