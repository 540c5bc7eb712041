"""The float64 NumPy reference: the oracle, written from the formulas in docs/rules.md.

Nothing here is read from torch or optax. Gradients come from hand-written backward passes
(checked against finite differences in the tests); a parameter outside the forward pass gets
a zero gradient, which is the mathematical answer (torch instead skips it).

Over 450 lines: the whole oracle (every model's forward and backward pass, every optimizer,
rule and schedule) in one file, so each formula can be read beside docs/rules.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbench.workloads.cases import LOSS_RULES, Case, decayed_names, running_stat_weight
from xbench.workloads.models import (
    BATCH_NORM_EPS,
    LAYER_NORM_EPS,
    BatchNorm,
    Conv,
    Dense,
    Embedding,
    Flatten,
    LayerNorm,
    Model,
    Tanh,
    TransformerBlock,
    init_stats,
)
from xbench.workloads.problems import Problem
from xbench.workloads.schedules import lr_at

# ---------------------------------------------------------------- model: forward and backward


def conv_valid(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """NHWC input, HWIO kernel, stride 1, VALID: out[b,i,j,o] = Σ x[b,i+p,j+q,c]·k[p,q,c,o]."""
    kh, kw = kernel.shape[:2]
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((x.shape[0], ho, wo, kernel.shape[3]))
    for p in range(kh):
        for q in range(kw):
            out += x[:, p : p + ho, q : q + wo, :] @ kernel[p, q]
    return out


def layer_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray):
    """LayerNorm over the last axis, and (x̂, 1/σ) for its backward pass."""
    mean = x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + LAYER_NORM_EPS)
    xhat = (x - mean) * inv_std
    return xhat * scale + bias, (xhat, inv_std)


def batch_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray):
    """Training mode: each feature normalised over the batch (axis 0) with the batch's mean
    and biased variance; and (x̂, 1/σ) for the backward pass, and that mean and variance."""
    mean, var = x.mean(axis=0), x.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + BATCH_NORM_EPS)
    xhat = (x - mean) * inv_std
    return xhat * scale + bias, (xhat, inv_std), mean, var


def running_update(case: Case, running: dict, name: str, mean, var, batch: int) -> None:
    """running ← (1 − m)·running + m·batch statistic, m = ``running_stat_weight(case)``; the
    variance unbiased (×n/(n − 1), torch's) or biased (Flax's) per ``case.bn_running_var``."""
    m = running_stat_weight(case)
    if case.bn_running_var == "unbiased":
        var = var * batch / (batch - 1)
    for stat, value in (("running_mean", mean), ("running_var", var)):
        key = f"{name}/{stat}"
        running[key] = (1.0 - m) * running[key] + m * value


def layer_norm_backward(saved, scale: np.ndarray, d: np.ndarray, axis: int = -1):
    """d loss / d (scale, bias, input) of a normalisation over ``axis`` (-1: LayerNorm, 0:
    BatchNorm's batch); scale and bias sum over every axis but the last."""
    xhat, inv_std = saved
    n, features = xhat.shape[axis], xhat.shape[-1]
    d_scale = (d * xhat).reshape(-1, features).sum(axis=0)
    d_bias = d.reshape(-1, features).sum(axis=0)
    d_xhat = d * scale
    d_in = (
        inv_std
        / n
        * (
            n * d_xhat
            - d_xhat.sum(axis=axis, keepdims=True)
            - xhat * (d_xhat * xhat).sum(axis=axis, keepdims=True)
        )
    )
    return d_scale, d_bias, d_in


def dense_backward(saved: np.ndarray, kernel: np.ndarray, d: np.ndarray):
    """d loss / d (kernel, bias, input) of x @ kernel + bias, over any leading axes."""
    flat_in = saved.reshape(-1, saved.shape[-1])
    flat_d = d.reshape(-1, d.shape[-1])
    return flat_in.T @ flat_d, flat_d.sum(axis=0), d @ kernel.T


def project(p: dict[str, np.ndarray], name: str, x: np.ndarray) -> np.ndarray:
    """x @ ``<name>/kernel`` (+ ``<name>/bias`` where the projection has one)."""
    out = x @ p[f"{name}/kernel"]
    return out + p[f"{name}/bias"] if f"{name}/bias" in p else out


def causal_mask(seq: int) -> np.ndarray:
    """True where position i may attend to position j: j ≤ i."""
    return np.tril(np.ones((seq, seq), dtype=bool))


def attention(p: dict[str, np.ndarray], block: TransformerBlock, x: np.ndarray):
    """Single-head causal self-attention on (batch, seq, dim), and what its backward needs.

    scores = q·kᵀ/√dim, −∞ where j > i, softmax over j; out = (softmax · v)·Wo + bo.
    """
    q, k, v = (project(p, block.part(n), x) for n in ("attn_q", "attn_k", "attn_v"))
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(block.dim)
    scores = np.where(causal_mask(x.shape[-2]), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    context = weights @ v
    out = project(p, block.part("attn_o"), context)
    return out, (x, q, k, v, weights, context)


def scores_backward(d_scores: np.ndarray, q: np.ndarray, k: np.ndarray, dim: int):
    """d loss / d (q, k) from d loss / d scores, scores = q·kᵀ/√dim."""
    d_scores = d_scores / np.sqrt(dim)
    return d_scores @ k, d_scores.swapaxes(-1, -2) @ q


def attention_backward(p, block: TransformerBlock, saved, d: np.ndarray, grads: dict):
    """Gradients of the attention's projections into ``grads``; returns d loss / d input."""
    x, q, k, v, weights, context = saved
    o = block.part("attn_o")
    grads[f"{o}/kernel"], grads[f"{o}/bias"], d_context = dense_backward(
        context, p[f"{o}/kernel"], d
    )
    d_weights = d_context @ v.swapaxes(-1, -2)
    d_v = weights.swapaxes(-1, -2) @ d_context
    # softmax: masked weights are 0, so their scores get no gradient
    d_scores = weights * (d_weights - (d_weights * weights).sum(axis=-1, keepdims=True))
    d_q, d_k = scores_backward(d_scores, q, k, block.dim)
    d_x = np.zeros_like(x)
    for part, d_part in (("q", d_q), ("k", d_k), ("v", d_v)):
        name = block.part(f"attn_{part}")
        grads[f"{name}/kernel"], d_bias, d_in = dense_backward(x, p[f"{name}/kernel"], d_part)
        if f"{name}/bias" in p:
            grads[f"{name}/bias"] = d_bias
        d_x = d_x + d_in
    return d_x


def block_forward(p: dict[str, np.ndarray], block: TransformerBlock, x: np.ndarray):
    """h = x + Attn(LN1(x)); out = h + tanh(LN2(h)·W1 + b1)·W2 + b2; and the saved values."""
    ln1, ln2 = block.part("ln1"), block.part("ln2")
    mlp_in, mlp_out = block.part("mlp_in"), block.part("mlp_out")
    c1, ln1_saved = layer_norm(x, p[f"{ln1}/scale"], p[f"{ln1}/bias"])
    attended, attn_saved = attention(p, block, c1)
    h = x + attended
    c2, ln2_saved = layer_norm(h, p[f"{ln2}/scale"], p[f"{ln2}/bias"])
    t = np.tanh(c2 @ p[f"{mlp_in}/kernel"] + p[f"{mlp_in}/bias"])
    out = h + (t @ p[f"{mlp_out}/kernel"] + p[f"{mlp_out}/bias"])
    return out, (ln1_saved, attn_saved, ln2_saved, c2, t)


def block_backward(p, block: TransformerBlock, saved, d: np.ndarray, grads: dict):
    """The block's parameter gradients into ``grads``; returns d loss / d input."""
    ln1_saved, attn_saved, ln2_saved, c2, t = saved
    ln1, ln2 = block.part("ln1"), block.part("ln2")
    mlp_in, mlp_out = block.part("mlp_in"), block.part("mlp_out")
    grads[f"{mlp_out}/kernel"], grads[f"{mlp_out}/bias"], d_t = dense_backward(
        t, p[f"{mlp_out}/kernel"], d
    )
    grads[f"{mlp_in}/kernel"], grads[f"{mlp_in}/bias"], d_c2 = dense_backward(
        c2, p[f"{mlp_in}/kernel"], d_t * (1.0 - t**2)
    )
    grads[f"{ln2}/scale"], grads[f"{ln2}/bias"], d_h = layer_norm_backward(
        ln2_saved, p[f"{ln2}/scale"], d_c2
    )
    d_h = d + d_h  # the residual
    d_c1 = attention_backward(p, block, attn_saved, d_h, grads)
    grads[f"{ln1}/scale"], grads[f"{ln1}/bias"], d_x = layer_norm_backward(
        ln1_saved, p[f"{ln1}/scale"], d_c1
    )
    return d_h + d_x


def forward(model: Model, params, x: np.ndarray, keep=(), running=None, observed=None):
    """The model's output and the activations each layer's backward pass needs.

    ``keep``: a dropout mask multiplied into each Tanh's output (the tape keeps both).
    BatchNorm: with ``running`` (its statistics) evaluation mode; else training mode, and
    each layer's batch (mean, variance) goes into ``observed`` when given.
    """
    tape = []
    masks = iter(keep)
    for layer in model.layers:
        tape.append(x)
        if isinstance(layer, Dense):
            x = project(params, layer.name, x)
        elif isinstance(layer, BatchNorm) and running is not None:
            mean, var = running[f"{layer.name}/running_mean"], running[f"{layer.name}/running_var"]
            scale, bias = params[f"{layer.name}/scale"], params[f"{layer.name}/bias"]
            x = (x - mean) / np.sqrt(var + BATCH_NORM_EPS) * scale + bias
        elif isinstance(layer, BatchNorm):
            scale, bias = params[f"{layer.name}/scale"], params[f"{layer.name}/bias"]
            x, tape[-1], mean, var = batch_norm(x, scale, bias)
            if observed is not None:
                observed[layer.name] = (mean, var)
        elif isinstance(layer, Conv):
            x = conv_valid(x, params[f"{layer.name}/kernel"]) + params[f"{layer.name}/bias"]
        elif isinstance(layer, LayerNorm):
            scale, bias = params[f"{layer.name}/scale"], params[f"{layer.name}/bias"]
            x, tape[-1] = layer_norm(x, scale, bias)
        elif isinstance(layer, Embedding):
            ids = x.astype(int)
            tape[-1] = ids
            x = params[f"{layer.name}/token"][ids] + params[f"{layer.name}/position"]
        elif isinstance(layer, TransformerBlock):
            x, tape[-1] = block_forward(params, layer, x)
        elif isinstance(layer, Tanh):
            x = np.tanh(x)
            mask = next(masks) if keep else 1.0
            tape[-1] = (x, mask)
            x = x * mask
        elif isinstance(layer, Flatten):
            x = x.reshape(x.shape[0], -1)
    return x, tape


def conv_backward(kernel: np.ndarray, saved: np.ndarray, d: np.ndarray):
    """d loss / d (kernel, bias, input) of ``conv_valid(saved, kernel) + bias``."""
    kh, kw = kernel.shape[:2]
    ho, wo = d.shape[1], d.shape[2]
    d_kernel = np.zeros_like(kernel)
    d_in = np.zeros_like(saved)
    for p in range(kh):
        for q in range(kw):
            window = saved[:, p : p + ho, q : q + wo, :]
            d_kernel[p, q] = np.einsum("bijc,bijo->co", window, d)
            d_in[:, p : p + ho, q : q + wo, :] += d @ kernel[p, q].T
    return d_kernel, d.sum(axis=(0, 1, 2)), d_in


def backward(model: Model, params, tape, d_out: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of the loss with respect to every parameter, given d loss / d output."""
    grads = {}
    d = d_out
    for layer, saved in zip(reversed(model.layers), reversed(tape), strict=True):
        if isinstance(layer, Dense):
            kernel = params[f"{layer.name}/kernel"]
            grads[f"{layer.name}/kernel"], d_bias, d = dense_backward(saved, kernel, d)
            if layer.bias:
                grads[f"{layer.name}/bias"] = d_bias
        elif isinstance(layer, Conv):
            kernel = params[f"{layer.name}/kernel"]
            grads[f"{layer.name}/kernel"], grads[f"{layer.name}/bias"], d = conv_backward(
                kernel, saved, d
            )
        elif isinstance(layer, (LayerNorm, BatchNorm)):
            scale, axis = params[f"{layer.name}/scale"], 0 if isinstance(layer, BatchNorm) else -1
            grads[f"{layer.name}/scale"], grads[f"{layer.name}/bias"], d = layer_norm_backward(
                saved, scale, d, axis
            )
        elif isinstance(layer, Embedding):
            d_token = np.zeros_like(params[f"{layer.name}/token"])
            np.add.at(d_token, saved, d)  # a token used twice gets both contributions
            grads[f"{layer.name}/token"] = d_token
            grads[f"{layer.name}/position"] = d.sum(axis=0)
            d = None  # token ids have no gradient
        elif isinstance(layer, TransformerBlock):
            d = block_backward(params, layer, saved, d, grads)
        elif isinstance(layer, Tanh):
            t, mask = saved
            d = d * mask * (1.0 - t**2)
        elif isinstance(layer, Flatten):
            d = d.reshape(saved.shape)
    return grads


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def loss_and_grads(model: Model, params, x, y, loss: str = "mse", keep=(), observed=None):
    """The data loss and its gradient (zero for unused parameters); training mode, each
    BatchNorm's batch statistics into ``observed``.

    mse: mean of (ŷ − y)² over all elements, d/dŷ = 2(ŷ − y)/size.
    cross_entropy: −mean over the batch of Σ y·log softmax(ŷ), d/dŷ = (softmax(ŷ) − y)/batch.
    """
    prediction, tape = forward(model, params, x, keep, observed=observed)
    if loss == "cross_entropy":
        log_p = log_softmax(prediction)
        value = -np.mean(np.sum(y * log_p, axis=-1))
        d_out = (np.exp(log_p) - y) / prediction.shape[0]
    else:
        residual = prediction - y
        value = np.mean(residual**2)
        d_out = 2.0 * residual / residual.size
    grads = backward(model, params, tape, d_out)
    return value, {name: grads.get(name, np.zeros_like(v)) for name, v in params.items()}


def soft_threshold(w: np.ndarray, threshold: float) -> np.ndarray:
    """The proximal operator of threshold·‖w‖₁: sign(w)·max(|w| − threshold, 0)."""
    return np.sign(w) * np.maximum(np.abs(w) - threshold, 0.0)


# ---------------------------------------------------------------- rules


def regularizer_gradient(case: Case, w: np.ndarray, lam: float) -> np.ndarray:
    """The term a coupled rule adds to the gradient of a decayed parameter.

    weight_decay (not adamw), add_decayed_weights, l2_loss:  λ·w    (λ/2·‖w‖² in the loss)
    l2_loss, variant no_half:                                2λ·w   (λ·‖w‖² in the loss)
    l1_loss:                                                 λ·sign(w), sign(0) = 0
    elastic_net_loss:                                        λ·(α·sign(w) + (1 − α)·w)
    Decoupled AdamW decay and add_decayed_weights after the learning rate act on the
    update instead (see ReferenceAdapter.update) and add nothing here.
    """
    if case.decoupled or case.variant == "after_lr":
        return np.zeros_like(w)
    if case.rule in ("weight_decay", "add_decayed_weights"):
        return lam * w
    if case.rule == "l2_loss":
        return (2.0 if case.variant == "no_half" else 1.0) * lam * w
    if case.rule == "l1_loss":
        return lam * np.sign(w)
    if case.rule == "elastic_net_loss":
        return lam * (case.l1_ratio * np.sign(w) + (1.0 - case.l1_ratio) * w)
    return np.zeros_like(w)


# ---------------------------------------------------------------- optimizers


@dataclass
class OptimizerState:
    count: int  # steps taken so far
    trace: dict[str, np.ndarray]  # momentum buffer, Adam's first moment, RMSprop's buffer
    second: dict[str, np.ndarray]  # Adam's/RMSprop's second moment, Adagrad's sum of squares
    mean: dict[str, np.ndarray]  # centered RMSprop's running mean of g (empty otherwise)


def direction(case: Case, state: OptimizerState, g: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The step direction d (w ← w − η·d), updating ``state`` in place.

    sgd:       d = g
    momentum:  b ← g on the first step, then b ← μ·b + (1 − τ)·g (τ dampening);  d = b
    nesterov:  b ← μ·b + g;  d = g + μ·b
    adam(w):   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
               d = m̂ / (√v̂ + ε), with m̂ = m / (1 − β1ᵗ), v̂ = v / (1 − β2ᵗ)
    rmsprop, adagrad: see ``scaled``
    """
    state.count += 1
    opt = case.optimizer
    if opt == "sgd":
        return dict(g)
    if opt in ("momentum", "nesterov"):
        mu, keep = case.momentum, 1.0 - case.dampening
        for n in g:
            first = state.count == 1
            state.trace[n] = g[n] if first else mu * state.trace[n] + keep * g[n]
        if opt == "momentum":
            return dict(state.trace)
        return {n: g[n] + mu * state.trace[n] for n in g}
    if opt in ("rmsprop", "adagrad"):
        return scaled(case, state, g)
    b1, b2, t = case.beta1, case.beta2, state.count
    out = {}
    for n in g:
        state.trace[n] = b1 * state.trace[n] + (1 - b1) * g[n]
        state.second[n] = b2 * state.second[n] + (1 - b2) * g[n] ** 2
        m_hat = state.trace[n] / (1 - b1**t)
        v_hat = state.second[n] / (1 - b2**t)
        out[n] = m_hat / (np.sqrt(v_hat) + case.eps)
    return out


def scaled(case: Case, state: OptimizerState, g: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """RMSprop's and Adagrad's direction: g divided by a root of a running sum of g².

    rmsprop:  v ← α·v + (1 − α)·g²;  centered: ḡ ← α·ḡ + (1 − α)·g and v' = v − ḡ² (else v);
              s = g / (√v' + ε), or g / √(v' + ε) with eps_in_sqrt;
              momentum μ > 0: b ← μ·b + s, d = b; else d = s
    adagrad:  v ← v + g² (v starts at the initial accumulator);  d = g / (√v + ε), or
              g / √(v + ε) with eps_in_sqrt (0 where v = 0, as optax)
    """
    out = {}
    for n in g:
        if case.optimizer == "adagrad":
            state.second[n] = state.second[n] + g[n] ** 2
            v = state.second[n]
        else:
            a = case.alpha
            state.second[n] = a * state.second[n] + (1 - a) * g[n] ** 2
            v = state.second[n]
            if case.centered:
                state.mean[n] = a * state.mean[n] + (1 - a) * g[n]
                v = v - state.mean[n] ** 2
        if case.eps_in_sqrt and case.optimizer == "adagrad":
            with np.errstate(divide="ignore"):
                out[n] = np.where(v > 0, g[n] / np.sqrt(v + case.eps), 0.0)
        elif case.eps_in_sqrt:
            out[n] = g[n] / np.sqrt(v + case.eps)
        else:
            out[n] = g[n] / (np.sqrt(v) + case.eps)
        if case.optimizer == "rmsprop" and case.momentum > 0:
            state.trace[n] = case.momentum * state.trace[n] + out[n]
            out[n] = state.trace[n]
    return out


def clip_by_global_norm(g: dict[str, np.ndarray], case: Case) -> dict[str, np.ndarray]:
    """g·c/(‖g‖ + ε) when that factor is below 1, ‖g‖ the norm of every gradient together.

    ε is ``clip_eps``: torch's clip_grad_norm_ adds 1e-6, optax's clip_by_global_norm 0.
    """
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in g.values()))
    scale = case.clip_norm / (norm + case.clip_eps)
    if scale >= 1.0:
        return g
    return {n: v * scale for n, v in g.items()}


class ReferenceAdapter:
    """Float64 NumPy: the formulas, step by step.

    ``decay_delay`` starts the regularizer that many steps late: a deliberate error that the
    power tests use to prove the equivalence check notices it.
    """

    framework = "reference"
    log_softmax = staticmethod(log_softmax)

    @staticmethod
    def outputs(model: Model, params, x: np.ndarray, stats=None) -> np.ndarray:
        """The model's output for ``x`` (no dropout), in evaluation mode: BatchNorm layers
        read ``stats`` (their running statistics). For evaluation outside training."""
        if stats is None and model.stat_shapes():
            raise ValueError(f"{model.name} has batch norm: its evaluation needs the statistics")
        return forward(model, params, x, running=stats or {})[0]

    def __init__(self, problem: Problem, case: Case, decay_delay: int = 0) -> None:
        self.problem, self.case, self.decay_delay = problem, case, decay_delay
        self.w = {n: np.array(v, dtype=np.float64) for n, v in problem.params.items()}
        self.decayed = decayed_names(self.w, case)
        zeros = {n: np.zeros_like(v) for n, v in self.w.items()}
        start = {n: np.full_like(v, case.initial_accumulator) for n, v in self.w.items()}
        self.state = OptimizerState(0, dict(zeros), start, dict(zeros))
        self.running = init_stats(problem.model)

    def step(self, index: int) -> float:
        p = self.problem
        keep, observed = tuple(m[index] for m in p.keep), {}
        x = p.x[index]
        loss, grads = loss_and_grads(p.model, self.w, x, p.y[index], p.loss, keep, observed)
        for name, (mean, var) in observed.items():
            running_update(self.case, self.running, name, mean, var, x.shape[0])
        self.update(grads)
        return float(loss)

    def update(self, grads: dict[str, np.ndarray]) -> None:
        """w ← w − η_t·d(g + coupled term); AdamW also −η_t·λ·w; after_lr adds +λ·w;
        l1_prox then soft-thresholds: w ← sign(w)·max(|w| − ηλ, 0).

        With clipping, a penalty in the loss (and add_decayed_weights chained before the
        clip) is clipped with g; an optimizer's decay is added after the clip. Adagrad's
        lr_decay divides η_t by 1 + t·lr_decay.
        """
        case, t = self.case, self.state.count
        lam = case.weight_decay if t >= self.decay_delay else 0.0
        eta = lr_at(case, t) / (1.0 + t * case.lr_decay)
        term = {
            n: regularizer_gradient(case, self.w[n], lam) if n in self.decayed else 0.0
            for n in grads
        }
        in_clip = case.rule in LOSS_RULES or case.variant == "decay_before_clip"
        g = {n: grads[n] + term[n] if in_clip else grads[n] for n in grads}
        if case.clipped:
            g = clip_by_global_norm(g, case)
        g = {n: g[n] if in_clip else g[n] + term[n] for n in g}
        d = direction(case, self.state, g)
        for n, w in self.w.items():
            new = w - eta * d[n]
            if n in self.decayed and case.decoupled:
                new = new - eta * lam * w
            if n in self.decayed and case.variant == "after_lr":
                new = new + lam * w
            if n in self.decayed and case.rule == "l1_prox":
                new = soft_threshold(new, eta * lam)
            self.w[n] = new

    def params(self) -> dict[str, np.ndarray]:
        return {n: v.copy() for n, v in self.w.items()}

    def stats(self) -> dict[str, np.ndarray]:
        return {n: v.copy() for n, v in self.running.items()}

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return self.outputs(self.problem.model, self.w, np.asarray(x, np.float64), self.running)

    def to_native(self, canonical):
        return {n: np.array(v, dtype=np.float64) for n, v in canonical.items()}

    def to_canonical(self, native):
        return {n: np.asarray(v) for n, v in native.items()}

    def decayed_names(self) -> frozenset[str]:
        return self.decayed

    def block(self) -> None:
        pass
