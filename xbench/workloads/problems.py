"""A Problem: a model, its initial parameters and the batch of every step, made by NumPy.

Both frameworks and the reference receive the very same numbers. In float32 the values are
rounded once here, and the float64 reference starts from those rounded values, so any later
difference comes from the arithmetic, not from the inputs.

Two optional parts serve the study (``xbench.study``): ``loss`` "cross_entropy" (softmax
cross-entropy, mean over the batch, with one-hot ``y``) instead of "mse", and ``keep``: one
dropout mask per Tanh layer, (steps, batch, width), of 0 and 1/(1 − rate), multiplied into
that layer's output at each training step. The masks are drawn by NumPy, so every framework
drops the very same units; evaluation never uses them.

A model with batch norm also gets ``x_eval``: a held-out batch, drawn last (so every other
array is what it would be without it), that trajectories pass through the model in
evaluation mode (running statistics) after the last step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xbench.workloads.cases import Case
from xbench.workloads.models import MODELS, UNUSED_PARAM, UNUSED_SHAPE, Model, init_params


@dataclass(frozen=True)
class Problem:
    model: Model
    params: dict[str, np.ndarray]  # canonical layout, initial values
    x: np.ndarray  # (steps, batch, *input_shape); token ids as floats when model.vocab
    y: np.ndarray  # (steps, batch, output_size)
    loss: str = "mse"  # or "cross_entropy" (y one-hot)
    keep: tuple[np.ndarray, ...] = ()  # dropout masks, one per Tanh layer: (steps, batch, width)
    x_eval: np.ndarray | None = None  # (batch, *input_shape): models with batch norm

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    def as_dtype(self, dtype) -> Problem:
        cast = {k: v.astype(dtype) for k, v in self.params.items()}
        keep = tuple(m.astype(dtype) for m in self.keep)
        x_eval = None if self.x_eval is None else self.x_eval.astype(dtype)
        return Problem(
            self.model, cast, self.x.astype(dtype), self.y.astype(dtype), self.loss, keep, x_eval
        )


def trajectory_bytes(case: Case) -> int:
    """About how much memory running ``case`` and keeping its trajectory takes: the batches
    (drawn in float64, then cast; a model with batch norm also draws ``x_eval``, one batch
    more) and every parameter after every step, stacked. Not a step's activations, which
    only running the model tells (``xbench.jobs.trace.needed_bytes`` adds them)."""
    model = MODELS[case.model]
    params = model.parameter_count()
    batches = case.steps + (1 if model.stat_shapes() else 0)
    data = batches * case.batch_size * (math.prod(model.input_shape) + model.output_size)
    return 3 * 8 * data + 2 * 8 * (case.steps + 1) * params


def make_problem(case: Case) -> Problem:
    """Initial parameters and batches from ``case.seed``, in ``case.dtype``.

    Targets come from a fixed random teacher (a linear map of the flattened input, then tanh,
    plus noise), so the loss falls but never reaches zero. A model with a vocabulary gets
    token ids in [0, vocab) as input, and the teacher reads those ids as numbers.
    """
    model = MODELS[case.model]
    rng = np.random.default_rng(case.seed)
    params = init_params(model, rng)
    if case.unused_param:
        params[UNUSED_PARAM] = rng.normal(0.0, 0.5, size=UNUSED_SHAPE)
    shape = (case.steps, case.batch_size, *model.input_shape)
    if model.vocab:  # token ids, as floats: small integers are exact in float32 and float64
        x = rng.integers(0, model.vocab, size=shape).astype(np.float64)
    else:
        x = rng.normal(size=shape)
    flat = x.reshape(case.steps, case.batch_size, -1)
    teacher = rng.normal(
        0.0, 1.0 / np.sqrt(flat.shape[-1]), size=(flat.shape[-1], model.output_size)
    )
    y = np.tanh(flat @ teacher) + 0.1 * rng.normal(
        size=(case.steps, case.batch_size, model.output_size)
    )
    x_eval = rng.normal(size=shape[1:]) if model.stat_shapes() else None
    return Problem(model, params, x, y, x_eval=x_eval).as_dtype(np.dtype(case.dtype))
