"""Models, defined once as data that every adapter interprets.

A model is a tuple of layers. Parameters live in one canonical layout: NumPy arrays named
``<layer>/<kind>``, dense kernels ``(in, out)``, conv kernels ``HWIO``, images ``NHWC``.
Adapters convert to their framework's layout and back; flattening always follows the NHWC
order, so a torch adapter must permute NCHW activations before flattening.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LAYER_NORM_EPS = 1e-5  # torch's default; the JAX adapter writes its own LayerNorm with it


@dataclass(frozen=True)
class Dense:
    name: str
    fan_in: int
    fan_out: int


@dataclass(frozen=True)
class Conv:
    """2-D convolution, stride 1, VALID padding, kernel HWIO."""

    name: str
    height: int
    width: int
    in_channels: int
    out_channels: int


@dataclass(frozen=True)
class LayerNorm:
    """Normalise over the last axis (biased variance, eps LAYER_NORM_EPS), then scale and bias."""

    name: str
    size: int


@dataclass(frozen=True)
class Vector:
    """A free 1-D parameter ``<name>/kernel`` outside any computation (update-step benchmarks)."""

    name: str
    size: int


@dataclass(frozen=True)
class Tanh:
    pass


@dataclass(frozen=True)
class Flatten:
    pass


Layer = Dense | Conv | LayerNorm | Vector | Tanh | Flatten


@dataclass(frozen=True)
class Model:
    name: str
    input_shape: tuple[int, ...]  # one example, canonical layout (NHWC without N for images)
    output_size: int
    layers: tuple[Layer, ...]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Canonical parameter names and shapes, in the model's order."""
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in self.layers:
            if isinstance(layer, Dense):
                shapes[f"{layer.name}/kernel"] = (layer.fan_in, layer.fan_out)
                shapes[f"{layer.name}/bias"] = (layer.fan_out,)
            elif isinstance(layer, Conv):
                shape = (layer.height, layer.width, layer.in_channels, layer.out_channels)
                shapes[f"{layer.name}/kernel"] = shape
                shapes[f"{layer.name}/bias"] = (layer.out_channels,)
            elif isinstance(layer, LayerNorm):
                shapes[f"{layer.name}/scale"] = (layer.size,)
                shapes[f"{layer.name}/bias"] = (layer.size,)
            elif isinstance(layer, Vector):
                shapes[f"{layer.name}/kernel"] = (layer.size,)
        return shapes


UNUSED_PARAM = "unused/kernel"  # a parameter outside the forward pass: it never gets a gradient
UNUSED_SHAPE = (4, 4)

MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("linear", (8,), 4, (Dense("dense0", 8, 4),)),
        Model(
            "mlp",
            (8,),
            4,
            (Dense("dense0", 8, 16), Tanh(), Dense("dense1", 16, 16), Tanh(), Dense("out", 16, 4)),
        ),
        Model(  # the study's classifier for scikit-learn's 8×8 digits (xbench.study)
            "mlp_digits",
            (64,),
            10,
            (
                Dense("dense0", 64, 64),
                Tanh(),
                Dense("dense1", 64, 64),
                Tanh(),
                Dense("out", 64, 10),
            ),
        ),
        Model(
            "mlp_norm",
            (8,),
            4,
            (
                Dense("dense0", 8, 16),
                LayerNorm("norm0", 16),
                Tanh(),
                Dense("dense1", 16, 16),
                LayerNorm("norm1", 16),
                Tanh(),
                Dense("out", 16, 4),
            ),
        ),
        Model(
            "cnn",
            (8, 8, 1),
            4,
            (
                Conv("conv0", 3, 3, 1, 4),
                Tanh(),
                Conv("conv1", 3, 3, 4, 4),
                Tanh(),
                Flatten(),
                Dense("out", 4 * 4 * 4, 4),
            ),
        ),
    )
}


def init_params(model: Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """LeCun-normal kernels, zero biases, unit norm scales; float64, canonical layout.

    Biases start at exactly zero on purpose: it is where |w|'s derivative differs between
    torch (0) and JAX (1), so an L1 rule that relies on autodiff shows up on the first step.
    """
    params = {}
    for name, shape in model.param_shapes().items():
        if name.endswith("/kernel"):
            fan_in = math.prod(shape[:-1])
            params[name] = rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=shape)
        elif name.endswith("/scale"):
            params[name] = np.ones(shape)
        else:
            params[name] = np.zeros(shape)
    return params
