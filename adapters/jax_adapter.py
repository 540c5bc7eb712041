"""JAX/optax adapter: native layout is the canonical one, as a nested dict (flax-style).

Importing this module turns on ``jax_enable_x64`` so that float64 cases are really float64;
float32 arrays stay float32. Matmuls and convolutions run at ``Precision.HIGHEST`` so TF32
never enters an equivalence run on a GPU.

``jnp.abs`` has derivative 1 at 0 where torch has 0; the L1 rules here use
``abs_zero_subgradient``, whose derivative is sign(x) with sign(0) = 0, as xbench specifies.

Over 450 lines: the whole JAX port (optax transforms, the models' forward pass, the programs
shared across cases) in one module, like torch_adapter and reference; to be split by concept.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.flatten_util

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from xbench.errors import UsageError  # noqa: E402
from xbench.workloads.cases import Case, decayed_names, running_stat_weight  # noqa: E402
from xbench.workloads.models import (  # noqa: E402
    BATCH_NORM_EPS,
    LAYER_NORM_EPS,
    BatchNorm,
    Conv,
    Dense,
    Embedding,
    Flatten,
    LayerNorm,
    Tanh,
    TransformerBlock,
    init_stats,
)
from xbench.workloads.problems import Problem  # noqa: E402

HIGHEST = jax.lax.Precision.HIGHEST


def jax_device(name: str):
    if name == "cpu":
        return jax.devices("cpu")[0]
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    index = int(name.partition(":")[2] or 0)
    if index >= len(gpus):
        raise UsageError(f"--device {name}: JAX sees {len(gpus)} CUDA device(s) here; valid: cpu")
    return gpus[index]


@jax.custom_jvp
def abs_zero_subgradient(x):
    return jnp.abs(x)


@abs_zero_subgradient.defjvp
def _abs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * t


def nest(flat: dict) -> dict:
    """{'dense0/kernel': a} -> {'dense0': {'kernel': a}}."""
    tree: dict = {}
    for name, value in flat.items():
        layer, kind = name.split("/")
        tree.setdefault(layer, {})[kind] = value
    return tree


def flatten(tree: dict) -> dict:
    return {f"{layer}/{kind}": v for layer, leaves in tree.items() for kind, v in leaves.items()}


class Hyper(NamedTuple):
    """A case's numbers that its JAX programs take as arguments, not as constants, so that one
    compiled program serves every case of one structure (``structure``).

    Passed as Python floats, jit traces them as weakly typed float64 scalars: arithmetic among
    them is float64, as Python's was on constants, and each meets an array as the constant
    would (converted to the array's dtype first).
    """

    lr: float
    weight_decay: float
    momentum: float
    beta1: float
    beta2: float
    eps: float
    l1_ratio: float
    alpha: float
    initial_accumulator: float
    clip_norm: float  # 0.0 when the case does not clip
    batch_weight: float  # BatchNorm: the batch statistic's weight (running_stat_weight)

    @classmethod
    def of(cls, case: Case) -> Hyper:
        """The case's numbers, as floats (an integer would be traced as another type)."""
        values = {f: getattr(case, f) for f in cls._fields[:-2]}
        values.update(clip_norm=case.clip_norm or 0.0, batch_weight=running_stat_weight(case))
        return cls(**{f: float(v) for f, v in values.items()})


# Case fields whose values reach a program only through Hyper (seed: through the data)
TRACED_FIELDS = (*Hyper._fields[:-2], "clip_norm", "bn_momentum", "seed")


def structure(case: Case, implementation: str) -> tuple:
    """What a case's compiled programs depend on: everything but its Hyper values, and the
    choices those values make in Python (clipping or not, a momentum trace or none; η where
    optax needs it as a number, ``constant_lr``)."""
    fields = {k: v for k, v in dataclasses.asdict(case).items() if k not in TRACED_FIELDS}
    lr = case.lr if constant_lr(case) else None
    return (implementation, case.clipped, case.momentum > 0, lr, tuple(sorted(fields.items())))


def constant_lr(case: Case) -> bool:
    """optax.warmup_cosine_decay_schedule compares its peak η with 0 in Python: η stays a
    constant there (and part of the structure)."""
    return case.schedule == "warmup_cosine"


def learning_rate(case: Case, h: Hyper | None = None):
    """η, or the optax schedule that gives η_t (xbench.workloads.schedules has the formulas)."""
    lr, steps = case.lr if constant_lr(case) else (h or Hyper.of(case)).lr, case.steps
    if case.schedule == "linear":
        return optax.linear_schedule(lr, 0.0, steps)
    if case.schedule == "cosine":
        return optax.cosine_decay_schedule(lr, steps, alpha=0.0)
    if case.schedule == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(0.0, lr, case.warmup_steps, steps, 0.0)
    return lr


def base_optimizer(case: Case, mask, lam, h: Hyper) -> optax.GradientTransformation:
    """The optimizer itself, every hyper-parameter explicit (except, under variant
    optax_defaults, those that variant leaves to optax)."""
    lr = learning_rate(case, h)
    if case.optimizer == "adamw":
        opt_decay = lam if case.rule == "weight_decay" else 0.0
        return optax.adamw(
            lr, h.beta1, h.beta2, h.eps, eps_root=0.0, weight_decay=opt_decay, mask=mask
        )
    if case.optimizer == "adam":
        return optax.adam(lr, h.beta1, h.beta2, h.eps, eps_root=0.0)
    defaults = case.variant == "optax_defaults"  # the case holds those values (validated)
    if case.optimizer == "rmsprop" and defaults:
        return optax.rmsprop(lr, centered=case.centered)
    if case.optimizer == "rmsprop":
        return optax.rmsprop(
            lr,
            decay=h.alpha,
            eps=h.eps,
            initial_scale=0.0,
            eps_in_sqrt=case.eps_in_sqrt,
            centered=case.centered,
            momentum=h.momentum if case.momentum > 0 else None,  # optax's trace only if μ > 0
            nesterov=False,
            bias_correction=False,
        )
    if case.optimizer == "adagrad":
        if defaults:
            return optax.adagrad(lr)
        return optax.adagrad(lr, initial_accumulator_value=h.initial_accumulator, eps=h.eps)
    momentum = None if case.optimizer == "sgd" else h.momentum
    return optax.sgd(lr, momentum=momentum, nesterov=case.optimizer == "nesterov")


def make_transform(
    case: Case, mask: dict, decayed=None, h: Hyper | None = None
) -> optax.GradientTransformation:
    """optax with every hyper-parameter explicit.

    adamw ``weight_decay``: update = −η·(adam(g) + λ·w), decay after scale_by_adam and before
    the learning rate, "consistent with PyTorch" (optax's docstring).
    ``add_decayed_weights``: chain(add_decayed_weights(λ), opt) is g + λ·w before the optimizer;
    variant after_lr chains it after the learning rate: update = −η·d + λ·w (grows weights).
    ``l1_prox``: the optimizer's step, then ``soft_threshold(η·λ)`` on the masked leaves.
    ``clip_norm``: ``clip_by_global_norm`` first, so a decay chained after it is not clipped;
    variant decay_before_clip chains add_decayed_weights before the clip.

    ``decayed`` (for ``flat_transform``): instead of a mask tree, a vector of 1 where a
    parameter is regularized and 0 where not, for parameters flattened into one vector; λ
    becomes λ·decayed, elementwise. ``h``: the numbers, as arguments of a program being
    traced (default: the case's own, as constants).
    """
    h = h or Hyper.of(case)
    lam = h.weight_decay
    if decayed is not None:
        lam, mask = lam * decayed, None
    base = base_optimizer(case, mask, lam, h)
    if case.rule == "l1_prox":
        shrink = soft_threshold(h.lr * lam)
        return clipped(case, h, base, shrink if mask is None else optax.masked(shrink, mask))
    if case.rule != "add_decayed_weights":
        return clipped(case, h, base)
    decay = optax.add_decayed_weights(lam, mask=mask)
    if case.variant == "after_lr":
        return clipped(case, h, base, decay)
    if case.variant == "decay_before_clip":
        return optax.chain(decay, optax.clip_by_global_norm(h.clip_norm), base)
    return clipped(case, h, decay, base)


def clipped(case: Case, h: Hyper, *parts) -> optax.GradientTransformation:
    """``parts`` chained, after ``clip_by_global_norm`` when the case clips."""
    if case.clipped:
        parts = (optax.clip_by_global_norm(h.clip_norm), *parts)
    return parts[0] if len(parts) == 1 else optax.chain(*parts)


def flat_transform(
    case: Case, mask: dict, params: dict, h: Hyper | None = None
) -> optax.GradientTransformation:
    """``make_transform`` on all parameters as one flat vector: ``optax.flatten``, JAX's
    counterpart of torch's multi-tensor (foreach/fused) paths, one buffer for the whole tree
    instead of one small kernel per leaf. ``optax.masked`` needs the tree, so the mask
    becomes a 0/1 vector in the same (``ravel_pytree``) order and λ is scaled by it."""
    ones = jax.tree.map(lambda m, p: jnp.full(p.shape, float(m), p.dtype), mask, params)
    decayed, _ = jax.flatten_util.ravel_pytree(ones)
    return optax.flatten(make_transform(case, None, decayed, h))


def soft_threshold(threshold: float) -> optax.GradientTransformation:
    """The proximal step of λ‖w‖₁ after an update u: w + u ↦ sign(w + u)·max(|w + u| − t, 0).

    Written as the update that ``optax.apply_updates`` adds to w, so it chains after any
    optimizer. A coordinate it zeroes gets the update −w, and w + (−w) is exactly 0.
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params):
        def prox(u, w):
            moved = w + u
            shrunk = jnp.sign(moved) * jnp.maximum(jnp.abs(moved) - threshold, 0) - w
            # where a vector threshold is 0 (flat_transform's unregularized entries) the
            # update stays u exactly: (w + u) − w can differ from u by a rounding
            return jnp.where(jnp.asarray(threshold) > 0, shrunk, u)

        return jax.tree.map(prox, updates, params), state

    return optax.GradientTransformation(init_fn, update_fn)


def cross_entropy(output, one_hot):
    """Softmax cross-entropy, mean over the batch, against one-hot targets."""
    return -jnp.mean(jnp.sum(one_hot * jax.nn.log_softmax(output, axis=-1), axis=-1))


def mean_squared_error(output, target):
    return jnp.mean((output - target) ** 2)


LOSSES = {"mse": mean_squared_error, "cross_entropy": cross_entropy}


def penalty(case: Case, params: dict, mask: dict, h: Hyper | None = None):
    """The regularizer written into the loss, over the masked leaves (see torch_adapter)."""
    leaves = [p for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(mask), strict=True) if m]
    h = h or Hyper.of(case)
    lam, alpha = h.weight_decay, h.l1_ratio
    l2 = sum(jnp.sum(p * p) for p in leaves)
    l1 = sum(jnp.sum(abs_zero_subgradient(p)) for p in leaves)
    if case.rule == "l2_loss":
        return (1.0 if case.variant == "no_half" else 0.5) * lam * l2
    if case.rule == "l1_loss":
        return lam * l1
    if case.rule == "elastic_net_loss":
        return lam * (alpha * l1 + (1 - alpha) / 2 * l2)
    return 0.0


def layer_norm(x, p: dict):
    """Over the last axis, biased variance, eps LAYER_NORM_EPS; then scale and bias."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.var(x, axis=-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + LAYER_NORM_EPS) * p["scale"] + p["bias"]


def dense(x, p: dict, precision=HIGHEST):
    """x @ kernel (+ bias where the layer has one: a block's attn_k has none)."""
    out = jnp.matmul(x, p["kernel"], precision=precision)
    return out + p["bias"] if "bias" in p else out


def causal_attention(params: dict, block: TransformerBlock, x, precision=HIGHEST):
    """Single-head causal self-attention: softmax(q·kᵀ/√dim, j > i masked to −∞)·v, then o."""
    q, k, v = (dense(x, params[block.part(n)], precision) for n in ("attn_q", "attn_k", "attn_v"))
    scores = jnp.matmul(q, jnp.swapaxes(k, -1, -2), precision=precision) / math.sqrt(block.dim)
    seq = x.shape[-2]
    allowed = jnp.tril(jnp.ones((seq, seq), dtype=bool))
    weights = jax.nn.softmax(jnp.where(allowed, scores, -jnp.inf), axis=-1)
    context = jnp.matmul(weights, v, precision=precision)
    return dense(context, params[block.part("attn_o")], precision)


def transformer_block(params: dict, block: TransformerBlock, x, precision=HIGHEST):
    """h = x + Attn(LN1(x)); out = h + tanh(LN2(h)·W1 + b1)·W2 + b2."""
    h = x + causal_attention(params, block, layer_norm(x, params[block.part("ln1")]), precision)
    c2 = layer_norm(h, params[block.part("ln2")])
    t = jnp.tanh(dense(c2, params[block.part("mlp_in")], precision))
    return h + dense(t, params[block.part("mlp_out")], precision)


@dataclasses.dataclass(frozen=True)
class BatchNormSettings:
    """Training-mode BatchNorm as the case sets it: Flax's momentum ρ = 1 − the batch weight
    (torch's momentum), and whether running_var averages the unbiased batch variance."""

    flax_momentum: float
    unbiased: bool

    @classmethod
    def of(cls, case: Case, h: Hyper | None = None) -> BatchNormSettings:
        weight = (h or Hyper.of(case)).batch_weight
        return cls(1.0 - weight, case.bn_running_var == "unbiased")


def batch_norm(x, p: dict, running: dict, norm: BatchNormSettings | None):
    """Flax's ``nn.BatchNorm`` (linen, its defaults, ``axis=-1``) on (batch, features); and the
    running statistics after it.

    Training mode (``norm`` given): the batch's mean μ and variance E[x²] − μ² clipped at 0
    (Flax's ``use_fast_variance``), and running ← ρ·running + (1 − ρ)·batch with Flax's
    momentum ρ; the running variance takes the biased batch variance, as Flax, or the
    unbiased one, as torch (Flax has no such option: a port copies nn.BatchNorm and changes
    that line). Evaluation mode (``norm`` None): the running statistics. Then
    (x − μ)·(rsqrt(σ² + ε)·scale) + bias, Flax's order of operations.
    """
    if norm is None:
        mean, var = running["running_mean"], running["running_var"]
    else:
        squares = jax.lax.square(x)  # first, as Flax: the order in which x's gradient sums
        mean, mean_sq = x.mean((0,)), squares.mean((0,))
        var = jnp.maximum(0.0, mean_sq - jax.lax.square(mean))
        n, rho = x.shape[0], norm.flax_momentum
        seen = var * (n / (n - 1)) if norm.unbiased else var
        running = {
            "running_mean": rho * running["running_mean"] + (1 - rho) * mean,
            "running_var": rho * running["running_var"] + (1 - rho) * seen,
        }
    features = (1, x.shape[1])  # Flax broadcasts with explicit shapes; so do we, bit for bit
    mul = jax.lax.rsqrt(jnp.expand_dims(var, (0,)) + BATCH_NORM_EPS)
    mul = mul * p["scale"].reshape(features)
    y = (x - jnp.expand_dims(mean, (0,))) * mul
    return y + p["bias"].reshape(features), running


def forward(model, params: dict, x, precision=HIGHEST, keep=()):
    """The model's output; ``keep``: a dropout mask multiplied into each Tanh's output. A
    model with batch norm goes through ``apply`` instead, with its statistics."""
    if model.stat_shapes():
        raise ValueError(f"{model.name} has batch norm: call apply() with its statistics")
    return apply(model, params, {}, x, precision, keep)[0]


def apply(model, params: dict, stats: dict, x, precision=HIGHEST, keep=(), norm=None):
    """The model's output and its running statistics after this pass (nested like params).
    ``norm``: BatchNorm in training mode with these settings; None: evaluation mode."""
    masks = iter(keep)
    stats = dict(stats)
    for layer in model.layers:
        if isinstance(layer, Dense):
            x = dense(x, params[layer.name], precision)
        elif isinstance(layer, BatchNorm):
            x, stats[layer.name] = batch_norm(x, params[layer.name], stats[layer.name], norm)
        elif isinstance(layer, Conv):
            p = params[layer.name]
            x = jax.lax.conv_general_dilated(
                x,
                p["kernel"],
                (1, 1),
                "VALID",
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
                precision=precision,
            )
            x = x + p["bias"]
        elif isinstance(layer, LayerNorm):
            x = layer_norm(x, params[layer.name])
        elif isinstance(layer, Embedding):  # token ids, stored as floats
            p = params[layer.name]
            x = jnp.take(p["token"], x.astype(jnp.int32), axis=0) + p["position"]
        elif isinstance(layer, TransformerBlock):
            x = transformer_block(params, layer, x, precision)
        elif isinstance(layer, Tanh):
            x = jnp.tanh(x)
            if keep:
                x = x * next(masks)
        elif isinstance(layer, Flatten):
            x = x.reshape(x.shape[0], -1)
    return x, stats


def compile_ahead(jitted, *args):
    """``jitted`` compiled ahead of time for ``args``, and the seconds that took."""
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - start


IMPLEMENTATIONS = {
    "jit": {},
    "jit_donate": {"donate_argnums": (0, 1)},  # parameters and optimizer state are donated
    "jit_flat": {"donate_argnums": (0, 1)},  # jit_donate on one flat vector (flat_transform)
}
FLAT = ("jit_flat",)


def step_functions(case: Case, mask: dict, model, loss: str, flat: bool, tx=None):
    """The training step and the update as pure functions whose last argument is a Hyper:
    the optax transform is built from it inside, so a program traced with the Hyper as an
    argument serves every case of the structure. ``tx``: the transform, built already (with
    the numbers as constants, and jit_flat's 0/1 vector a concrete array)."""

    def transform(params, h):
        if tx is not None:
            return tx
        return flat_transform(case, mask, params, h) if flat else make_transform(case, mask, h=h)

    def update(params, opt_state, grads, h):
        updates, opt_state = transform(params, h).update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    data_loss_fn = LOSSES[loss]

    def loss_fn(params, x, y, keep, stats, h):
        norm = BatchNormSettings.of(case, h)
        output, stats = apply(model, params, stats, x, keep=keep, norm=norm)
        data_loss = data_loss_fn(output, y)
        return data_loss + penalty(case, params, mask, h), (data_loss, stats)

    def train_step(params, opt_state, x, y, keep, stats, h):
        """One step; BatchNorm's running statistics in and out (None without)."""
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (_, (data_loss, stats)), grads = grad_fn(params, x, y, keep, stats or {}, h)
        params, opt_state = update(params, opt_state, grads, h)
        return params, opt_state, data_loss, stats or None

    return train_step, update


# structure -> (train step, update), jitted with the Hyper traced: shared by every adapter
# of this process, so runs of one structure compile once (xbench check runs hundreds)
SHARED_PROGRAMS: dict[tuple, tuple[Callable, Callable]] = {}


def shared(case: Case, mask: dict, model, loss: str, implementation: str):
    key = structure(case, implementation)
    if key not in SHARED_PROGRAMS:
        functions = step_functions(case, mask, model, loss, implementation in FLAT)
        options = IMPLEMENTATIONS[implementation]
        SHARED_PROGRAMS[key] = tuple(jax.jit(f, **options) for f in functions)
    return SHARED_PROGRAMS[key]


class JaxAdapter:
    """Parameters and optimizer state are threaded through ``self``: with donation, a buffer
    passed to a step is never read again (jax#9675).

    Its programs hold the case's numbers as constants, as a training script's ``jax.jit``
    does; with ``shared_programs`` (``xbench check``, ``trace``: ``run.registry.run_case``)
    they take them as arguments (``Hyper``) and are shared by every case of the structure.
    The timed step and update always hold them as constants.
    """

    framework = "jax"

    def __init__(
        self, problem: Problem, case: Case, implementation: str = "jit", shared_programs=False
    ) -> None:
        if implementation not in IMPLEMENTATIONS:
            valid = ", ".join(IMPLEMENTATIONS)
            raise UsageError(f"unknown JAX implementation {implementation!r}; valid: {valid}")
        self.problem, self.case = problem, case
        self.device = jax_device(case.device)
        self.dtype = jnp.dtype(case.dtype)
        decayed = decayed_names(problem.params, case)
        self.mask = nest({n: n in decayed for n in problem.params})
        self.tree = self.to_native(problem.params)
        self.running = self.to_native(init_stats(problem.model))  # BatchNorm's statistics
        self.hyper = Hyper.of(case)
        flat = implementation in FLAT
        if flat:
            tx = flat_transform(case, self.mask, self.tree, self.hyper)
        else:
            tx = make_transform(case, self.mask, h=self.hyper)
        # optax makes some state (Adam's count) with jnp.zeros, uncommitted to a device; jit
        # would compile train_step again at step 2, when the state comes back committed
        self.opt_state = jax.device_put(tx.init(self.tree), self.device)
        self.x = jax.device_put(jnp.asarray(problem.x, self.dtype), self.device)
        self.y = jax.device_put(jnp.asarray(problem.y, self.dtype), self.device)
        self.keep = tuple(
            jax.device_put(jnp.asarray(m, self.dtype), self.device) for m in problem.keep
        )
        self.implementation = implementation
        jit_options = IMPLEMENTATIONS[implementation]
        self.implementation_flags = {
            "jit": True,
            "donate_argnums": jit_options.get("donate_argnums", ()),
            "flatten": flat,
        }
        model, loss = problem.model, problem.loss
        if shared_programs:  # the numbers as arguments, the programs from SHARED_PROGRAMS
            self._train_step, self._update = shared(case, self.mask, model, loss, implementation)
            self.arguments = (self.hyper,)
        else:  # the numbers as constants, programs of this adapter's own
            train_step, update = step_functions(case, self.mask, model, loss, flat, tx)
            h = self.hyper
            self._train_step = jax.jit(
                lambda p, s, x, y, keep=(), stats=None: train_step(p, s, x, y, keep, stats, h),
                **jit_options,
            )
            self._update = jax.jit(lambda p, s, g: update(p, s, g, h), **jit_options)
            self.arguments = ()

    def step(self, index: int):
        keep = tuple(m[index] for m in self.keep)
        state = (
            self.tree,
            self.opt_state,
            self.x[index],
            self.y[index],
            keep,
            self.running or None,
        )
        self.tree, self.opt_state, loss, stats = self._train_step(*state, *self.arguments)
        self.running = stats or {}
        return loss

    def stats(self) -> dict[str, np.ndarray]:
        return self.to_canonical(self.running)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The output on ``x`` in evaluation mode (running statistics, no dropout)."""
        x = jax.device_put(jnp.asarray(x, self.dtype), self.device)
        return np.array(apply(self.problem.model, self.tree, self.running, x)[0])

    def update(self, grads: dict) -> None:
        self.tree, self.opt_state = self._update(self.tree, self.opt_state, grads, *self.arguments)

    def params(self) -> dict[str, np.ndarray]:
        return self.to_canonical(self.tree)

    def to_native(self, canonical: dict[str, np.ndarray]) -> dict:
        return nest(
            {
                n: jax.device_put(jnp.asarray(v, self.dtype), self.device)
                for n, v in canonical.items()
            }
        )

    def to_canonical(self, native: dict) -> dict[str, np.ndarray]:
        return {n: np.array(v) for n, v in flatten(native).items()}

    def decayed_names(self) -> frozenset[str]:
        """Read back from the optax mask tree that the transforms and the penalty use."""
        if self.case.rule == "none":
            return frozenset()
        return frozenset(n for n, m in flatten(self.mask).items() if m)

    def block(self) -> None:
        jax.block_until_ready((self.tree, self.opt_state))

    def timed_update(self, grads: dict[str, np.ndarray]) -> tuple[Callable[[], None], float]:
        """A no-argument update with fixed ``grads`` (canonical), blocking on the whole state
        tree; and the seconds ahead-of-time compilation took (never inside a timed call). The
        numbers are constants in it (an adapter made without ``shared_programs``)."""
        grads = self.to_native(grads)
        update_fn, seconds = compile_ahead(self._update, self.tree, self.opt_state, grads)

        def update() -> None:
            self.tree, self.opt_state = update_fn(self.tree, self.opt_state, grads)
            jax.block_until_ready((self.tree, self.opt_state))

        update()
        return update, seconds

    def timed_step(self) -> tuple[Callable[[], None], float]:
        """A no-argument training step on batch 0, blocking on parameters, state and loss;
        and its compile seconds."""
        x, y = self.x[0], self.y[0]
        step_fn, seconds = compile_ahead(self._train_step, self.tree, self.opt_state, x, y)

        def step() -> None:  # models with batch norm are not timed: no statistics here
            self.tree, self.opt_state, loss, _ = step_fn(self.tree, self.opt_state, x, y)
            jax.block_until_ready((self.tree, self.opt_state, loss))

        step()
        return step, seconds
