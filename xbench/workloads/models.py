"""Models, defined once as data that every adapter interprets.

A model is a tuple of layers. Parameters live in one canonical layout: NumPy arrays named
``<layer>/<kind>``, dense kernels ``(in, out)``, conv kernels ``HWIO``, images ``NHWC``.
Adapters convert to their framework's layout and back; flattening always follows the NHWC
order, so a torch adapter must permute NCHW activations before flattening.

A model with ``BatchNorm`` layers also carries running statistics, which are not parameters:
``<layer>/running_mean`` and ``<layer>/running_var`` (``Model.stat_shapes``), updated by every
training step and used in evaluation mode.

A model with a ``vocab`` reads token ids: its inputs are integers in [0, vocab), stored as
floats like every other input (exact in float32), which adapters turn into indices. Its
activations are (batch, seq, features); Dense and LayerNorm act on the last axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LAYER_NORM_EPS = 1e-5  # torch's default; the JAX adapter writes its own LayerNorm with it
BATCH_NORM_EPS = 1e-5  # torch's BatchNorm1d and Flax's nn.BatchNorm default alike
EMBEDDING_STD = 0.5  # token and position embeddings start at N(0, EMBEDDING_STD²)


@dataclass(frozen=True)
class Dense:
    name: str
    fan_in: int
    fan_out: int
    bias: bool = True  # no bias before a BatchNorm: it would subtract it again (gradient 0)


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
class BatchNorm:
    """Normalise each feature over the batch, then scale and bias, on (batch, features).

    Training mode: the batch's mean and biased variance, and each running statistic moves
    towards the batch's (``xbench.workloads.cases.running_stat_weight``: torch's ``momentum``);
    evaluation mode: the running statistics. ε is BATCH_NORM_EPS. Parameters
    ``<name>/scale``, ``<name>/bias``; statistics ``<name>/running_mean`` (starts at 0) and
    ``<name>/running_var`` (starts at 1), as torch and Flax start them.
    """

    name: str
    size: int


@dataclass(frozen=True)
class Vector:
    """A free 1-D parameter ``<name>/kernel`` outside any computation (update-step benchmarks)."""

    name: str
    size: int


@dataclass(frozen=True)
class Embedding:
    """Token ids (batch, seq) -> ``<name>/token``[ids] + ``<name>/position``: (batch, seq, dim)."""

    name: str
    vocab: int
    dim: int
    seq: int


@dataclass(frozen=True)
class TransformerBlock:
    """A pre-LN block: h = x + Attn(LN1(x)); out = h + MLP(LN2(h)), on (batch, seq, dim).

    Attn: single-head causal self-attention, q/k/v/o dense projections (dim, dim) with bias
    (but k: see ``UNBIASED_PARTS``), scores q·kᵀ/√dim, positions j > i masked out before the
    softmax. MLP: tanh(c·W1 + b1)·W2 + b2, hidden width ``hidden``. The LayerNorms are as
    ``LayerNorm``. Its parameters are named ``<name>_<part>/<kind>``, parts as in
    ``BLOCK_PARTS``.
    """

    name: str
    dim: int
    hidden: int

    def part(self, part: str) -> str:
        """The layer name of one of the block's parts, e.g. ``block0_attn_q``."""
        return f"{self.name}_{part}"


BLOCK_PARTS = ("ln1", "attn_q", "attn_k", "attn_v", "attn_o", "ln2", "mlp_in", "mlp_out")
# The key projection has no bias: q·(k + b) adds the same q·b to a whole row of scores, which
# the softmax ignores, so that bias's gradient is exactly 0 and only rounding noise (which
# Adam scales up to full-size steps) would move it, differently in every framework.
UNBIASED_PARTS = ("attn_k",)


@dataclass(frozen=True)
class Tanh:
    pass


@dataclass(frozen=True)
class Flatten:
    pass


Layer = (
    Dense | Conv | LayerNorm | BatchNorm | Vector | Embedding | TransformerBlock | Tanh | Flatten
)


@dataclass(frozen=True)
class Model:
    name: str
    input_shape: tuple[int, ...]  # one example, canonical layout (NHWC without N for images)
    output_size: int
    layers: tuple[Layer, ...]
    vocab: int = 0  # > 0: inputs are token ids in [0, vocab)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Canonical parameter names and shapes, in the model's order."""
        return {n: s for layer in self.layers for n, s in layer_shapes(layer).items()}

    def parameter_count(self) -> int:
        return sum(math.prod(s) for s in self.param_shapes().values())

    def stat_shapes(self) -> dict[str, tuple[int, ...]]:
        """The running statistics' names and shapes (BatchNorm layers), in the model's order."""
        return {
            f"{layer.name}/{stat}": (layer.size,)
            for layer in self.layers
            if isinstance(layer, BatchNorm)
            for stat in ("running_mean", "running_var")
        }


def layer_shapes(layer: Layer) -> dict[str, tuple[int, ...]]:
    """One layer's canonical parameter names and shapes (none for Tanh and Flatten)."""
    if isinstance(layer, Dense):
        bias = {f"{layer.name}/bias": (layer.fan_out,)} if layer.bias else {}
        return {f"{layer.name}/kernel": (layer.fan_in, layer.fan_out), **bias}
    if isinstance(layer, Conv):
        shape = (layer.height, layer.width, layer.in_channels, layer.out_channels)
        return {f"{layer.name}/kernel": shape, f"{layer.name}/bias": (layer.out_channels,)}
    if isinstance(layer, (LayerNorm, BatchNorm)):
        return {f"{layer.name}/scale": (layer.size,), f"{layer.name}/bias": (layer.size,)}
    if isinstance(layer, Vector):
        return {f"{layer.name}/kernel": (layer.size,)}
    if isinstance(layer, Embedding):
        return {
            f"{layer.name}/token": (layer.vocab, layer.dim),
            f"{layer.name}/position": (layer.seq, layer.dim),
        }
    if isinstance(layer, TransformerBlock):
        return block_shapes(layer)
    return {}


def init_stats(model: Model) -> dict[str, np.ndarray]:
    """Running means at 0 and running variances at 1, float64 (torch's and Flax's start)."""
    return {
        name: (np.zeros if name.endswith("/running_mean") else np.ones)(shape)
        for name, shape in model.stat_shapes().items()
    }


def block_shapes(block: TransformerBlock) -> dict[str, tuple[int, ...]]:
    """A TransformerBlock's parameter names and shapes, in ``BLOCK_PARTS`` order."""
    dim, hidden = block.dim, block.hidden
    fans = {"mlp_in": (dim, hidden), "mlp_out": (hidden, dim)}
    shapes: dict[str, tuple[int, ...]] = {}
    for part in BLOCK_PARTS:
        name = block.part(part)
        if part.startswith("ln"):
            shapes.update(layer_shapes(LayerNorm(name, dim)))
        else:
            dense = Dense(name, *fans.get(part, (dim, dim)), bias=part not in UNBIASED_PARTS)
            shapes.update(layer_shapes(dense))
    return shapes


UNUSED_PARAM = "unused/kernel"  # a parameter outside the forward pass: it never gets a gradient
UNUSED_SHAPE = (4, 4)


def mlp(name: str, inputs: int, width: int, outputs: int, norm: type | None = None) -> Model:
    """inputs → width → width → outputs with tanh; ``norm`` (LayerNorm ``norm<i>`` or BatchNorm
    ``bn<i>``) after each hidden dense layer, which has no bias before a BatchNorm."""
    layers: list[Layer] = []
    prefix = "bn" if norm is BatchNorm else "norm"
    for i, fan_in in enumerate((inputs, width)):
        layers.append(Dense(f"dense{i}", fan_in, width, bias=norm is not BatchNorm))
        if norm is not None:
            layers.append(norm(f"{prefix}{i}", width))
        layers.append(Tanh())
    return Model(name, (inputs,), outputs, (*layers, Dense("out", width, outputs)))


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("linear", (8,), 4, (Dense("dense0", 8, 4),)),
        mlp("mlp", 8, 16, 4),
        mlp("mlp_digits", 64, 64, 10),  # the study's classifier for scikit-learn's 8×8 digits
        mlp("mlp_norm", 8, 16, 4, LayerNorm),
        mlp("mlp_bn", 8, 16, 4, BatchNorm),  # mlp_norm with batch norm
        mlp("mlp_digits_bn", 64, 64, 10, BatchNorm),  # the same with batch norm (xbench.study)
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
        Model(  # token ids -> 2 outputs per position; vocab 16, d_model 8, seq 6, MLP 16
            "transformer",
            (6,),
            6 * 2,
            (
                Embedding("embed", 16, 8, 6),
                TransformerBlock("block0", 8, 16),
                LayerNorm("norm_out", 8),
                Dense("head", 8, 2),
                Flatten(),
            ),
            vocab=16,
        ),
    )
}


# the models whose layers keep running statistics (BatchNorm): the batch-norm settings apply
BATCH_NORM_MODELS = tuple(name for name, model in MODELS.items() if model.stat_shapes())


def init_params(model: Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """LeCun-normal kernels, zero biases, unit norm scales, N(0, 0.5²) embeddings (token and
    position); float64, canonical layout, drawn in the model's order.

    Biases start at exactly zero on purpose: it is where |w|'s derivative differs between
    torch (0) and JAX (1), so an L1 rule that relies on autodiff shows up on the first step.
    """
    params = {}
    for name, shape in model.param_shapes().items():
        if name.endswith("/kernel"):
            fan_in = math.prod(shape[:-1])
            params[name] = rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=shape)
        elif name.endswith(("/token", "/position")):
            params[name] = rng.normal(0.0, EMBEDDING_STD, size=shape)
        elif name.endswith("/scale"):
            params[name] = np.ones(shape)
        else:
            params[name] = np.zeros(shape)
    return params
