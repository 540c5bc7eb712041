"""PyTorch adapter: native layout (out, in) dense kernels, OIHW conv kernels, NCHW images.

Regularizers in the loss use autograd; torch's |x|' at 0 is already 0, which is the
subgradient xbench specifies. The optimizer implementation is pinned (``foreach=False``
unless asked otherwise), never left to torch's device-dependent default.

Over 450 lines: the whole torch port (models, optimizers, rules, the timed implementations)
in one file, as each framework's conventions are read together.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from xbench.errors import UsageError
from xbench.workloads.cases import EPOCH_STEPS, Case, decayed_names, running_stat_weight
from xbench.workloads.models import (
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
from xbench.workloads.problems import Problem
from xbench.workloads.schedules import factor

IMPLEMENTATIONS = {
    "forloop": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
    "compiled": {"foreach": True},  # optimizer.step under torch.compile, over the foreach path
}


def torch_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: torch sees no CUDA device here; valid: cpu")
    return torch.device(name)


def kernel_to_native(name: str, value: np.ndarray) -> np.ndarray:
    """Canonical (in, out) -> torch (out, in); HWIO -> OIHW; vectors unchanged. Embeddings
    (``/token`` (vocab, dim), ``/position`` (seq, dim)) are already F.embedding's layout."""
    if value.ndim == 2 and name.endswith("/kernel"):
        return value.T
    if value.ndim == 4:
        return value.transpose(3, 2, 0, 1)
    return value


def kernel_to_canonical(name: str, value: np.ndarray) -> np.ndarray:
    if value.ndim == 2 and name.endswith("/kernel"):
        return value.T
    if value.ndim == 4:
        return value.transpose(2, 3, 1, 0)
    return value


def images_to_native(x: np.ndarray) -> np.ndarray:
    """NHWC -> NCHW over the trailing four axes; feature vectors unchanged."""
    return np.moveaxis(x, -1, -3) if x.ndim >= 4 else x


SGD_FAMILY = ("sgd", "momentum", "nesterov")


def make_optimizer(case: Case, named: dict[str, torch.nn.Parameter], decayed, implementation):
    """torch.optim with every hyper-parameter explicit; decay only in the decayed group.

    SGD/Adam/RMSprop/Adagrad ``weight_decay``: g ← g + λ·w before momentum/moments (coupled).
    AdamW ``weight_decay`` (and Adam with ``decoupled_weight_decay=True``, variant
    decoupled): w ← w·(1 − ηλ), then Adam on the raw gradient (decoupled).
    """
    lam = case.weight_decay if case.rule == "weight_decay" and not decays_by_hand(case) else 0.0
    groups = [
        {"params": [p for n, p in named.items() if n in decayed], "weight_decay": lam},
        {"params": [p for n, p in named.items() if n not in decayed], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if implementation not in IMPLEMENTATIONS:
        raise UsageError(
            f"unknown torch implementation {implementation!r}; valid: {', '.join(IMPLEMENTATIONS)}"
        )
    flags = IMPLEMENTATIONS[implementation]
    if case.optimizer == "rmsprop" and "fused" in flags:
        raise UsageError("torch RMSprop has no fused implementation; valid: forloop, foreach")
    return OPTIMIZERS[case.optimizer](case, groups, flags)


def decays_by_hand(case: Case) -> bool:
    """Variant decoupled for the SGD family: torch's SGD has no such option, so the adapter
    multiplies w by (1 − ηλ) itself (torch's Adam has ``decoupled_weight_decay``)."""
    return case.variant == "decoupled" and case.optimizer in SGD_FAMILY


def steps_per_scheduler_step(case: Case) -> int:
    """How many optimizer steps one scheduler step spans: an epoch under schedule_per_epoch."""
    return EPOCH_STEPS if case.variant == "schedule_per_epoch" else 1


OPTIMIZERS = {
    **{
        name: lambda case, groups, flags: torch.optim.SGD(
            groups,
            lr=case.lr,
            momentum=0.0 if case.optimizer == "sgd" else case.momentum,
            dampening=case.dampening,
            nesterov=case.optimizer == "nesterov",
            **flags,
        )
        for name in SGD_FAMILY
    },
    "adam": lambda case, groups, flags: torch.optim.Adam(
        groups,
        lr=case.lr,
        betas=(case.beta1, case.beta2),
        eps=case.eps,
        amsgrad=False,
        decoupled_weight_decay=case.variant == "decoupled",
        **flags,
    ),
    "adamw": lambda case, groups, flags: torch.optim.AdamW(
        groups, lr=case.lr, betas=(case.beta1, case.beta2), eps=case.eps, amsgrad=False, **flags
    ),
    "rmsprop": lambda case, groups, flags: torch.optim.RMSprop(
        groups,
        lr=case.lr,
        alpha=case.alpha,
        eps=case.eps,
        momentum=case.momentum,
        centered=case.centered,
        **flags,
    ),
    "adagrad": lambda case, groups, flags: torch.optim.Adagrad(
        groups,
        lr=case.lr,
        lr_decay=case.lr_decay,
        initial_accumulator_value=case.initial_accumulator,
        eps=case.eps,
        **flags,
    ),
}


def make_scheduler(case: Case, optimizer: torch.optim.Optimizer):
    """The schedule as torch users write it: LinearLR, CosineAnnealingLR, or LambdaLR for
    warmup then cosine; None for a constant rate. Horizons count scheduler steps: the run's
    steps, or its epochs under variant schedule_per_epoch."""
    per = steps_per_scheduler_step(case)
    horizon, warmup = case.steps // per, case.warmup_steps // per
    if case.schedule == "linear":
        return torch.optim.lr_scheduler.LinearLR(
            optimizer, start_factor=1.0, end_factor=0.0, total_iters=horizon
        )
    if case.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=horizon, eta_min=0.0)
    if case.schedule == "warmup_cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: factor("warmup_cosine", t, horizon, warmup)
        )
    return None


def penalty(case: Case, params) -> torch.Tensor | float:
    """The regularizer written into the loss (zero for optimizer-side rules).

    l2_loss: λ/2·‖w‖² (λ·‖w‖² for variant no_half); l1_loss: λ·‖w‖₁;
    elastic_net_loss: λ·(α‖w‖₁ + (1 − α)/2·‖w‖²). l1_prox is no loss term: it soft-thresholds
    after each step (``soft_threshold_``).
    """
    lam, alpha = case.weight_decay, case.l1_ratio
    if case.rule == "l2_loss":
        half = 1.0 if case.variant == "no_half" else 0.5
        return half * lam * sum((p * p).sum() for p in params)
    if case.rule == "l1_loss":
        return lam * sum(p.abs().sum() for p in params)
    if case.rule == "elastic_net_loss":
        l1 = sum(p.abs().sum() for p in params)
        l2 = sum((p * p).sum() for p in params)
        return lam * (alpha * l1 + (1 - alpha) / 2 * l2)
    return 0.0


def soft_threshold_(params, threshold: float) -> None:
    """The proximal step of l1_prox, in place: w ← sign(w)·max(|w| − ηλ, 0) (exact zeros)."""
    with torch.no_grad():
        for param in params:
            param.copy_(param.sign() * (param.abs() - threshold).clamp_min(0.0))


def cross_entropy(output: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy, mean over the batch, against one-hot targets."""
    return -(one_hot * F.log_softmax(output, dim=-1)).sum(dim=-1).mean()


LOSSES = {"mse": F.mse_loss, "cross_entropy": cross_entropy}


def memory_kernel(kernel: str, elements: int, dtype: str, device: str):
    """A roofline reference kernel over ``elements``, blocking, and its name.

    ``copy``: ``a.copy_(b)``; ``inplace_add``: ``a.add_(b)``.
    """
    where = torch_device(device)
    a, b = (torch.randn(elements, device=where).to(getattr(torch, dtype)) for _ in range(2))
    op = {"copy": a.copy_, "inplace_add": a.add_}[kernel]

    def run() -> None:
        op(b)
        if where.type == "cuda":
            torch.cuda.synchronize(where)

    return run, f"torch.Tensor.{op.__name__}"


def causal_attention(p: dict, block: TransformerBlock, x: torch.Tensor) -> torch.Tensor:
    """Single-head causal self-attention: softmax(q·kᵀ/√dim, j > i masked to −∞)·v, then o."""
    q, k, v = (
        F.linear(x, p[f"{block.part(n)}/kernel"], p.get(f"{block.part(n)}/bias"))
        for n in ("attn_q", "attn_k", "attn_v")  # attn_k has no bias
    )
    scores = q @ k.transpose(-2, -1) / math.sqrt(block.dim)
    seq = x.shape[-2]
    future = torch.ones(seq, seq, dtype=torch.bool, device=x.device).triu(diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    o = block.part("attn_o")
    return F.linear(weights @ v, p[f"{o}/kernel"], p[f"{o}/bias"])


def transformer_block(p: dict, block: TransformerBlock, x: torch.Tensor) -> torch.Tensor:
    """h = x + Attn(LN1(x)); out = h + tanh(LN2(h)·W1 + b1)·W2 + b2."""
    ln1, ln2 = block.part("ln1"), block.part("ln2")
    mlp_in, mlp_out = block.part("mlp_in"), block.part("mlp_out")
    c1 = F.layer_norm(x, (block.dim,), p[f"{ln1}/scale"], p[f"{ln1}/bias"], eps=LAYER_NORM_EPS)
    h = x + causal_attention(p, block, c1)
    c2 = F.layer_norm(h, (block.dim,), p[f"{ln2}/scale"], p[f"{ln2}/bias"], eps=LAYER_NORM_EPS)
    t = torch.tanh(F.linear(c2, p[f"{mlp_in}/kernel"], p[f"{mlp_in}/bias"]))
    return h + F.linear(t, p[f"{mlp_out}/kernel"], p[f"{mlp_out}/bias"])


class TorchAdapter:
    framework = "torch"
    memory_kernel = staticmethod(memory_kernel)  # the roofline kernels, for timing

    def __init__(self, problem: Problem, case: Case, implementation: str = "forloop") -> None:
        self.problem, self.case = problem, case
        self.device = torch_device(case.device)
        self.dtype = getattr(torch, case.dtype)
        if self.device.type == "cuda":  # equivalence runs: full-precision float32 matmuls
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        self.model = problem.model
        self.named = {n: torch.nn.Parameter(t) for n, t in self.to_native(problem.params).items()}
        # BatchNorm's running statistics, updated in place by F.batch_norm (buffers, not params)
        self.running = {n: self._tensor(v) for n, v in init_stats(problem.model).items()}
        self._decayed = decayed_names(self.named, case)
        self.optimizer = make_optimizer(case, self.named, self._decayed, implementation)
        self.x = self._tensor(images_to_native(problem.x))
        self.y = self._tensor(problem.y)
        self.keep = [self._tensor(m) for m in problem.keep]
        self._data_loss = LOSSES[problem.loss]
        self._penalised = [p for n, p in self.named.items() if n in self._decayed]
        self._decoupled = self._penalised if decays_by_hand(case) else []
        self.scheduler = make_scheduler(case, self.optimizer)
        self._steps_taken = 0
        self._plain = not (
            case.clipped or self.scheduler or self._decoupled or case.rule == "l1_prox"
        )
        self.implementation = implementation
        self.implementation_flags = {
            **IMPLEMENTATIONS[implementation],
            "torch_compile": implementation == "compiled",
        }
        self._step = self.optimizer.step
        if implementation == "compiled":
            self._step = compiled_step(self.optimizer)

    def _tensor(self, value: np.ndarray) -> torch.Tensor:
        # torch.tensor copies: parameters updated in place must not alias the Problem's arrays
        return torch.tensor(np.ascontiguousarray(value), dtype=self.dtype, device=self.device)

    def forward(self, x: torch.Tensor, keep=(), training: bool = True) -> torch.Tensor:
        """The model's output; ``keep``: a dropout mask multiplied into each Tanh's output.

        BatchNorm is torch's ``F.batch_norm`` (as ``nn.BatchNorm1d`` calls it): in training
        mode it updates the running statistics in place, with the unbiased batch variance.
        """
        p = self.named
        masks = iter(keep)
        for layer in self.model.layers:
            if isinstance(layer, Dense):
                x = F.linear(x, p[f"{layer.name}/kernel"], p.get(f"{layer.name}/bias"))
            elif isinstance(layer, BatchNorm):
                weight, bias = p[f"{layer.name}/scale"], p[f"{layer.name}/bias"]
                mean = self.running[f"{layer.name}/running_mean"]
                var = self.running[f"{layer.name}/running_var"]
                m = running_stat_weight(self.case)
                x = F.batch_norm(x, mean, var, weight, bias, training, m, BATCH_NORM_EPS)
            elif isinstance(layer, Conv):
                x = F.conv2d(x, p[f"{layer.name}/kernel"], p[f"{layer.name}/bias"])
            elif isinstance(layer, LayerNorm):
                weight, bias = p[f"{layer.name}/scale"], p[f"{layer.name}/bias"]
                x = F.layer_norm(x, (layer.size,), weight, bias, eps=LAYER_NORM_EPS)
            elif isinstance(layer, Embedding):  # token ids, stored as floats
                token, position = p[f"{layer.name}/token"], p[f"{layer.name}/position"]
                x = F.embedding(x.long(), token) + position
            elif isinstance(layer, TransformerBlock):
                x = transformer_block(p, layer, x)
            elif isinstance(layer, Tanh):
                x = torch.tanh(x)
                if keep:
                    x = x * next(masks)
            elif isinstance(layer, Flatten):  # canonical order is NHWC: images are permuted
                x = x.permute(0, 2, 3, 1) if x.ndim == 4 else x
                x = x.reshape(x.shape[0], -1)
        return x

    def step(self, index: int) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        output = self.forward(self.x[index], tuple(m[index] for m in self.keep))
        data_loss = self._data_loss(output, self.y[index])
        (data_loss + penalty(self.case, self._penalised)).backward()
        self._optimizer_step()
        return data_loss.detach()

    def _optimizer_step(self) -> None:
        """clip_grad_norm_, the decay by hand (variant decoupled), optimizer.step(), the
        proximal step (l1_prox), then scheduler.step() (before the step under variant
        schedule_early; once per epoch under schedule_per_epoch)."""
        if self._plain:  # the timed path: nothing around optimizer.step()
            self._step()
            return
        case = self.case
        if case.clipped:
            torch.nn.utils.clip_grad_norm_(list(self.named.values()), case.clip_norm)
        early = self.scheduler is not None and case.variant == "schedule_early"
        if early:
            with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()"
                warnings.simplefilter("ignore", UserWarning)
                self.scheduler.step()
        lr = self.optimizer.param_groups[0]["lr"]
        if self._decoupled:  # variant decoupled: as torch's AdamW does it, w ← w·(1 − ηλ)
            with torch.no_grad():
                for param in self._decoupled:
                    param.mul_(1.0 - lr * case.weight_decay)
        self._step()
        if case.rule == "l1_prox":
            soft_threshold_(self._penalised, lr * case.weight_decay)
        self._steps_taken += 1
        per = steps_per_scheduler_step(case)
        if self.scheduler is not None and not early and self._steps_taken % per == 0:
            self.scheduler.step()

    def update(self, grads: dict[str, torch.Tensor]) -> None:
        for name, param in self.named.items():
            param.grad = grads[name]
        self._optimizer_step()

    def params(self) -> dict[str, np.ndarray]:
        return self.to_canonical(self.named)

    def stats(self) -> dict[str, np.ndarray]:
        return self.to_canonical(self.running)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The output on ``x`` in evaluation mode (running statistics, no dropout)."""
        with torch.no_grad():
            out = self.forward(self._tensor(images_to_native(x)), training=False)
        return out.cpu().numpy()

    def to_native(self, canonical: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {n: self._tensor(kernel_to_native(n, v)) for n, v in canonical.items()}

    def to_canonical(self, native) -> dict[str, np.ndarray]:
        return {
            n: kernel_to_canonical(n, t.detach().cpu().numpy()).copy() for n, t in native.items()
        }

    def decayed_names(self) -> frozenset[str]:
        """Read back from torch itself: the param groups with λ > 0, or the penalised list."""
        by_id = {id(p): n for n, p in self.named.items()}
        if self._decoupled:
            return frozenset(by_id[id(p)] for p in self._decoupled)
        if self.case.rule == "weight_decay":
            return frozenset(
                by_id[id(p)]
                for group in self.optimizer.param_groups
                if group["weight_decay"] > 0
                for p in group["params"]
            )
        if self.case.rule in ("l2_loss", "l1_loss", "elastic_net_loss", "l1_prox"):
            return frozenset(by_id[id(p)] for p in self._penalised)
        return frozenset()

    def block(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def timed_update(self, grads: dict[str, np.ndarray]) -> tuple[Callable[[], None], float | None]:
        """A no-argument update with fixed ``grads`` (canonical), blocking; compile seconds.

        The gradients are set once: ``optimizer.step`` reads ``.grad`` and never clears it.
        """
        for name, param in self.named.items():
            param.grad = self._tensor(kernel_to_native(name, grads[name]))

        def update() -> None:
            self._optimizer_step()
            self.block()

        return update, self._first_call(update)

    def timed_step(self) -> tuple[Callable[[], None], float | None]:
        """A no-argument training step on batch 0, blocking; compile seconds."""

        def step() -> None:
            self.step(0)
            self.block()

        return step, self._first_call(step)

    def _first_call(self, call: Callable[[], None]) -> float | None:
        """Run ``call`` once; under torch.compile its duration is the compile time."""
        graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]  # reset() keeps these
        start = time.perf_counter()
        call()
        seconds = time.perf_counter() - start
        if self.implementation != "compiled":
            return None
        if torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs:
            raise RuntimeError("torch.compile produced no graph: the step would run eagerly")
        return seconds


def compiled_step(optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """``optimizer.step`` under torch.compile, compiled on its first call.

    Dynamo is reset first: its per-code-object cache would otherwise fill up across adapters
    (8 entries) and fall back to eager without saying so. The learning rate stays a Python
    float; it never changes here, so it never recompiles (pytorch/pytorch#120934).
    """
    torch._dynamo.reset()

    @torch.compile(fullgraph=False)
    def step() -> None:
        optimizer.step()

    return step
