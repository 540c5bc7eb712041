"""What is run: a Case (model × optimizer × rule × hyper-parameters × dtype × seed × steps).

Every hyper-parameter is explicit: framework defaults differ (optax.adamw decays 1e-4 by
default, torch AdamW 1e-2, torch Adam 0), so an adapter never relies on one. Each optimizer
and rule is written out in torch's and optax's form in ``docs/rules.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass

from xbench.errors import NotApplicable, UsageError
from xbench.workloads.models import BATCH_NORM_MODELS, MODELS

FRAMEWORKS = ("torch", "jax")  # the frameworks compared
REFERENCE = "reference"  # the float64 NumPy oracle
RUNNERS = (*FRAMEWORKS, REFERENCE)  # whatever can run a Case: a framework or the reference
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
RULES = (
    "none", "weight_decay", "l2_loss", "add_decayed_weights", "l1_loss", "elastic_net_loss",
    "l1_prox",
)  # fmt: skip
DTYPES = ("float32", "float64")
LOSS_RULES = ("l2_loss", "l1_loss", "elastic_net_loss")  # a penalty in the loss: autodiff adds it
SCHEDULES = ("constant", "linear", "cosine", "warmup_cosine")
EPOCH_STEPS = 5  # variant schedule_per_epoch: the scheduler steps once per this many steps
# Mask conventions: which parameters a rule decays. "" decays all of them.
MASKS = {
    "": "every parameter is decayed",
    "kernels": "only kernels (`*/kernel`): biases, norm parameters and embeddings exempt",
    "hf": "no decay on biases and norm weights (Hugging Face's convention)",
    "ndim2": "only tensors with 2 or more dimensions (nanoGPT's convention)",
}

# Deliberate misconfigurations that users make, kept runnable so the suite can show them.
VARIANTS = {
    "": "as documented",
    "after_lr": "add_decayed_weights chained after the learning-rate scaling (grows weights)",
    "no_half": "l2_loss written as λ‖w‖² without the ½ (equals weight_decay=2λ)",
    "decoupled": "weight_decay as w ← w·(1 − ηλ) before the step: sgd/momentum/nesterov by "
    "hand, torch Adam(decoupled_weight_decay=True)",
    "decay_before_clip": "add_decayed_weights chained before clip_by_global_norm (clips λw too)",
    "optax_defaults": "optax.rmsprop/adagrad with optax's defaults for decay, eps, its placement "
    "and the initial accumulator",
    "schedule_per_epoch": f"the torch scheduler stepped once per {EPOCH_STEPS} steps (an epoch), "
    "its horizon in epochs",
    "schedule_early": "scheduler.step() called before optimizer.step() (one step ahead)",
    "bn_momentum_verbatim": "torch's BatchNorm momentum passed unchanged to Flax's nn.BatchNorm "
    "(where it is the weight of the running average, not of the batch)",
}
VARIANT_RULE = {
    "after_lr": "add_decayed_weights",
    "no_half": "l2_loss",
    "decoupled": "weight_decay",
    "decay_before_clip": "add_decayed_weights",
}
VARIANT_OPTIMIZERS = {
    "decoupled": ("sgd", "momentum", "nesterov", "adam"),
    "optax_defaults": ("rmsprop", "adagrad"),
}
# BatchNorm's running variance: torch updates it with the unbiased batch variance (×n/(n − 1)),
# Flax with the biased one; both normalise training batches with the biased one.
RUNNING_VARS = ("unbiased", "biased")

DECAYING_RULES = RULES[1:]
# Defaults that depend on the optimizer, torch's: RMSprop without momentum, Adagrad's ε 1e-10
# (everything else 0.9 and 1e-8). A Case given None takes these.
MOMENTUM = {"rmsprop": 0.0}
EPS = {"adagrad": 1e-10}
# optax.rmsprop(η) and optax.adagrad(η) as called with nothing else (variant optax_defaults)
OPTAX_DEFAULTS = {
    "rmsprop": {"alpha": 0.9, "eps": 1e-8, "eps_in_sqrt": True, "momentum": 0.0},
    "adagrad": {"initial_accumulator": 0.1, "eps": 1e-7, "eps_in_sqrt": True},
}
DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class Case:
    """One run's full specification, framework aside.

    ``weight_decay`` is λ of the rule; under rule ``none`` it must be 0. The optimizer's own
    decay argument is λ only under rule ``weight_decay`` and an explicit 0 otherwise.
    """

    model: str = "mlp"
    optimizer: str = "sgd"
    rule: str = "none"
    lr: float = 0.05
    weight_decay: float = 0.0
    momentum: float | None = None  # None: torch's default for the optimizer (MOMENTUM)
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float | None = None  # None: torch's default for the optimizer (EPS)
    l1_ratio: float = 0.5
    mask: str = ""  # a MASKS convention ("" decays everything); True means "kernels"
    steps: int = 20
    seed: int = 0
    batch_size: int = 16
    dtype: str = "float64"
    device: str = "cpu"
    variant: str = ""
    unused_param: bool = False
    # rmsprop: v ← α·v + (1 − α)·g²; centered subtracts the squared running mean of g
    alpha: float = 0.99
    centered: bool = False
    # adagrad: the sum of squares starts here (torch 0, optax 0.1); torch's lr_decay
    initial_accumulator: float = 0.0
    lr_decay: float = 0.0
    # rmsprop/adagrad: ε inside the square root, 1/√(v + ε) (optax's default, and optax.adagrad's
    # only form), instead of torch's 1/(√v + ε)
    eps_in_sqrt: bool = False
    dampening: float = 0.0  # momentum: b ← μ·b + (1 − τ)·g after the first step (torch)
    schedule: str = "constant"  # η_t = η·factor(t), over a horizon of ``steps``
    warmup_steps: int = 0  # warmup_cosine: linear from 0 to η over this many steps
    clip_norm: float | None = None  # clip the global gradient norm to this (None: no clipping)
    clip_eps: float = 1e-6  # clip factor c/(‖g‖ + clip_eps): torch adds 1e-6, optax nothing
    # BatchNorm models: the batch statistic's weight in each running average (torch's
    # momentum; Flax's momentum is 1 − this), and the variance that running_var averages
    bn_momentum: float = 0.1
    bn_running_var: str = "unbiased"

    def __post_init__(self) -> None:
        if isinstance(self.mask, bool):  # records written before mask conventions: True, False
            object.__setattr__(self, "mask", "kernels" if self.mask else "")
        if self.momentum is None:
            object.__setattr__(self, "momentum", MOMENTUM.get(self.optimizer, 0.9))
        if self.eps is None:
            object.__setattr__(self, "eps", EPS.get(self.optimizer, 1e-8))
        validate(self)

    @property
    def decoupled(self) -> bool:
        """True when λ multiplies w outside the optimizer's moments (AdamW-style)."""
        return self.rule == "weight_decay" and (
            self.optimizer == "adamw" or self.variant == "decoupled"
        )

    @property
    def clipped(self) -> bool:
        return self.clip_norm is not None

    def replace(self, **changes) -> Case:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Case:
        return cls(**json.loads(text))

    @property
    def label(self) -> str:
        """model-optimizer-rule, then each setting away from its default, in a fixed order."""
        optional = [
            self.variant,
            self.mask and mask_label(self.mask),
            *(f for f in ("centered", "eps_in_sqrt") if getattr(self, f)),
            *(f"{f}{getattr(self, f):g}" for f in ("dampening", "lr_decay") if getattr(self, f)),
            self.schedule != "constant" and self.schedule,
            self.clipped and f"clip{self.clip_norm:g}",
            self.unused_param and "unused",
            self.bn_momentum != 0.1 and f"bn_momentum{self.bn_momentum:g}",
            self.bn_running_var != "unbiased" and f"bn_{self.bn_running_var}_var",
        ]
        return "-".join([self.model, self.optimizer, self.rule, *(p for p in optional if p)])


def _choice(field: str, value, valid) -> None:
    if value not in valid:
        shown = ", ".join(repr(v) if v == "" else str(v) for v in valid)
        raise UsageError(f"unknown {field} {value!r}; valid: {shown}")


def _number(field: str, value, positive: bool = False, integer: bool = False) -> None:
    bad = not isinstance(value, int if integer else (int, float))
    if bad or not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "an integer" if integer else "a finite number"
        raise UsageError(f"invalid {field} {value!r}; must be {need} {'>' if positive else '>='} 0")


def mask_label(mask: str) -> str:
    """How a mask convention shows in labels and entry names: ``mask`` for kernels."""
    return "mask" if mask == "kernels" else f"mask_{mask}"


def validate(case: Case) -> None:
    """Raise UsageError naming the bad value and the valid ones."""
    _choice("model", case.model, tuple(MODELS))
    _choice("optimizer", case.optimizer, OPTIMIZERS)
    _choice("rule", case.rule, RULES)
    _choice("dtype", case.dtype, DTYPES)
    _choice("variant", case.variant, tuple(VARIANTS))
    if case.mask:  # "" (no mask) is always valid
        _choice("mask", case.mask, tuple(m for m in MASKS if m))
    _choice("schedule", case.schedule, SCHEDULES)
    _number("lr", case.lr, positive=True)
    for field in ("weight_decay", "eps", "initial_accumulator", "lr_decay", "clip_eps"):
        _number(field.replace("_", "-"), getattr(case, field))
    if case.clip_norm is not None:
        _number("clip-norm", case.clip_norm, positive=True)
    for field in ("momentum", "beta1", "beta2", "alpha", "dampening"):
        value = getattr(case, field)
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise UsageError(f"invalid {field} {value!r}; must be in [0, 1)")
    if not 0 <= case.l1_ratio <= 1:
        raise UsageError(f"invalid l1-ratio {case.l1_ratio!r}; must be in [0, 1]")
    for field in ("steps", "batch_size"):
        _number(field.replace("_", "-"), getattr(case, field), positive=True, integer=True)
    _number("seed", case.seed, integer=True)
    validate_device(case.device)
    if case.rule == "none" and case.weight_decay != 0:
        raise UsageError(
            f"rule 'none' with weight-decay {case.weight_decay}; use a rule from: "
            + ", ".join(DECAYING_RULES)
        )
    _validate_optimizer_fields(case)
    _validate_schedule(case)
    _validate_batch_norm(case)
    _validate_variant(case)


def _only_for(case: Case, field: str, value, default, optimizers) -> None:
    if value != default and case.optimizer not in optimizers:
        shown = f"--{field}" if isinstance(value, bool) else f"{field} {value!r}"
        raise UsageError(
            f"{shown} applies to optimizer {' or '.join(optimizers)}, not {case.optimizer!r}"
        )


def _validate_optimizer_fields(case: Case) -> None:
    """Each optimizer's own hyper-parameters are refused for the others (left at default)."""
    d = Case.__dataclass_fields__
    _only_for(case, "dampening", case.dampening, 0.0, ("momentum",))
    _only_for(case, "centered", case.centered, False, ("rmsprop",))
    _only_for(case, "alpha", case.alpha, d["alpha"].default, ("rmsprop",))
    for field in ("initial_accumulator", "lr_decay"):
        _only_for(case, field.replace("_", "-"), getattr(case, field), 0.0, ("adagrad",))
    _only_for(case, "eps-in-sqrt", case.eps_in_sqrt, False, ("rmsprop", "adagrad"))


def _validate_schedule(case: Case) -> None:
    _number("warmup-steps", case.warmup_steps, integer=True)
    if case.warmup_steps and case.schedule != "warmup_cosine":
        raise UsageError(
            f"warmup-steps {case.warmup_steps} applies to schedule 'warmup_cosine', "
            f"not {case.schedule!r}"
        )
    if case.schedule == "warmup_cosine" and not 0 < case.warmup_steps < case.steps:
        valid = f"1 to {case.steps - 1}" if case.steps > 1 else "at least 2 steps"
        raise UsageError(
            f"invalid warmup-steps {case.warmup_steps} for {case.steps} steps; "
            f"warmup_cosine needs {valid}"
        )
    if case.rule == "l1_prox" and (case.schedule != "constant" or case.lr_decay):
        changing = f"schedule {case.schedule!r}" if case.lr_decay == 0 else "lr-decay"
        raise UsageError(
            "rule 'l1_prox' takes a constant learning rate only (its threshold is η·λ); "
            f"not {changing}: use schedule constant and lr-decay 0"
        )


def _validate_batch_norm(case: Case) -> None:
    """BatchNorm's settings: only for a model with BatchNorm layers, momentum in (0, 1]."""
    _choice("bn-running-var", case.bn_running_var, RUNNING_VARS)
    m = case.bn_momentum
    if not isinstance(m, (int, float)) or not 0 < m <= 1:
        raise UsageError(f"invalid bn-momentum {m!r}; must be in (0, 1]")
    changed = [
        f for f, d in (("bn-momentum", 0.1), ("bn-running-var", "unbiased"))
        if getattr(case, f.replace("-", "_")) != d
    ]  # fmt: skip
    if case.variant == "bn_momentum_verbatim":
        changed.append("variant 'bn_momentum_verbatim'")
    if changed and case.model not in BATCH_NORM_MODELS:
        raise UsageError(
            f"{changed[0]} applies to a model with batch norm ({', '.join(BATCH_NORM_MODELS)}), "
            f"not {case.model!r}"
        )
    if case.model in BATCH_NORM_MODELS and case.batch_size < 2:
        raise UsageError(
            f"invalid batch-size {case.batch_size} for {case.model!r}: batch norm needs 2 or "
            "more examples per batch (the variance of one is 0)"
        )


def running_stat_weight(case: Case) -> float:
    """m in running ← (1 − m)·running + m·batch: torch's ``momentum``, which is 1 − Flax's.

    Under variant bn_momentum_verbatim torch's number reaches Flax's ``momentum``, which
    weights the running average instead: m becomes 1 − bn_momentum.
    """
    return 1.0 - case.bn_momentum if case.variant == "bn_momentum_verbatim" else case.bn_momentum


def _validate_variant(case: Case) -> None:
    """A variant needs its rule, optimizer, schedule or clipping."""
    v = case.variant
    if v in VARIANT_RULE and VARIANT_RULE[v] != case.rule:
        raise UsageError(f"variant {v!r} applies to rule {VARIANT_RULE[v]!r}, not {case.rule!r}")
    if v in VARIANT_OPTIMIZERS and case.optimizer not in VARIANT_OPTIMIZERS[v]:
        adam_like = v == "decoupled" and case.optimizer == "adamw"
        hint = "; adamw's weight_decay is already decoupled" if adam_like else ""
        raise UsageError(
            f"variant {v!r} is for {', '.join(VARIANT_OPTIMIZERS[v])}, not {case.optimizer!r}{hint}"
        )
    if v.startswith("schedule_") and case.schedule == "constant":
        raise UsageError(f"variant {v!r} needs a schedule; valid: {', '.join(SCHEDULES[1:])}")
    if v == "schedule_per_epoch" and (case.steps % EPOCH_STEPS or case.warmup_steps % EPOCH_STEPS):
        raise UsageError(
            f"variant 'schedule_per_epoch' needs steps and warmup-steps that are multiples of "
            f"{EPOCH_STEPS} (epochs of {EPOCH_STEPS} steps), not {case.steps} and "
            f"{case.warmup_steps}"
        )
    if v == "decay_before_clip" and not case.clipped:
        raise UsageError("variant 'decay_before_clip' needs --clip-norm")
    if v == "optax_defaults":
        wrong = {f: x for f, x in OPTAX_DEFAULTS[case.optimizer].items() if getattr(case, f) != x}
        if wrong:
            want = ", ".join(
                f"--{f.replace('_', '-')}" + ("" if x is True else f" {x:g}")
                for f, x in wrong.items()
            )
            raise UsageError(
                f"variant 'optax_defaults' runs optax.{case.optimizer}'s defaults, so the case "
                f"must say so: {want}"
            )


def validate_device(device: str) -> None:
    """Raise UsageError unless ``device`` is ``cpu``, ``cuda`` or ``cuda:N``."""
    if not isinstance(device, str) or not DEVICE.match(device):
        raise UsageError(f"unknown device {device!r}; valid: cpu, cuda, cuda:N")


def not_applicable_reason(framework: str, case: Case) -> str | None:
    """Why ``framework`` cannot express ``case`` (and what to use instead), or None."""
    checks = {"jax": _jax_cannot, "torch": _torch_cannot, REFERENCE: _reference_cannot}
    return checks[framework](case) if framework in checks else None


def _jax_cannot(case: Case) -> str | None:
    if case.rule == "weight_decay" and case.optimizer != "adamw":
        if case.variant == "decoupled" and case.optimizer == "adam":
            return "optax.adam has no decoupled decay; optimizer adamw (optax.adamw) is it"
        optax_name = "sgd" if case.optimizer in ("momentum", "nesterov") else case.optimizer
        return (
            f"optax.{optax_name} has no weight_decay argument; use rule add_decayed_weights "
            "(the same coupled g + λw) or l2_loss"
        )
    if case.dampening:
        return "optax.sgd has no dampening (its trace is b ← μ·b + g); use --dampening 0"
    if case.variant in ("schedule_per_epoch", "schedule_early"):
        return "an optax schedule reads the optimizer's own step count; this is a torch mistake"
    if case.optimizer == "adagrad" and case.lr_decay:
        return (
            "optax.adagrad has no lr_decay (torch's η/(1 + (t − 1)·lr_decay)); use --lr-decay 0 "
            "and, for a decaying rate, a --schedule"
        )
    if case.optimizer == "adagrad" and not case.eps_in_sqrt:
        return (
            "optax.adagrad always puts ε inside the square root, 1/√(s + ε), unlike torch's "
            "1/(√s + ε): use --eps-in-sqrt"
        )
    if case.clipped and case.clip_eps != 0:
        return (
            "optax.clip_by_global_norm scales by c/‖g‖ with no ε (torch's clip_grad_norm_ adds "
            "1e-6): use --clip-eps 0"
        )
    return None


def _torch_cannot(case: Case) -> str | None:
    if case.bn_running_var != "unbiased":
        return (
            "torch's BatchNorm always updates running_var with the unbiased batch variance "
            "(×n/(n − 1)); use --bn-running-var unbiased"
        )
    if case.variant == "bn_momentum_verbatim":
        return (
            "variant 'bn_momentum_verbatim' is a port to Flax that kept torch's number; "
            "run it with --framework jax (torch takes its momentum as given)"
        )
    if case.rule == "add_decayed_weights":
        return (
            "torch optimizers have no gradient-transform chain; use rule weight_decay "
            "(coupled g + λw for sgd, momentum, nesterov, adam, rmsprop and adagrad) or l2_loss"
        )
    if case.variant == "optax_defaults":
        return "the variant is optax's defaults; torch's own are xbench's (no variant)"
    if case.eps_in_sqrt:
        return (
            "torch RMSprop and Adagrad add ε outside the square root, 1/(√v + ε): "
            "drop --eps-in-sqrt"
        )
    if case.clipped and case.clip_eps != 1e-6:
        return (
            "torch.nn.utils.clip_grad_norm_ scales by c/(‖g‖ + 1e-6), its 1e-6 fixed: "
            "use --clip-eps 1e-6"
        )
    return None


def _reference_cannot(case: Case) -> str | None:
    if case.device != "cpu":
        return "the float64 NumPy reference runs on the CPU only; use --device cpu"
    return None


def check_applicable(framework: str, case: Case) -> None:
    _choice("framework", framework, RUNNERS)
    reason = not_applicable_reason(framework, case)
    if reason:
        raise NotApplicable(f"{framework} cannot run {case.label}: {reason}")


def decayed_names(params, case: Case) -> frozenset[str]:
    """The canonical parameters a rule decays, under the case's mask convention (MASKS).

    ``params``: canonical names mapped to arrays (or shapes). Every adapter builds its torch
    param groups or optax mask from this one function.
    """
    if case.rule == "none":
        return frozenset()
    ndim = {n: len(v) if isinstance(v, tuple) else len(v.shape) for n, v in params.items()}
    keep = {
        "": lambda n: True,
        "kernels": lambda n: n.endswith("/kernel"),
        "hf": lambda n: not n.endswith(("/bias", "/scale")),
        "ndim2": lambda n: ndim[n] >= 2,
    }[case.mask]
    return frozenset(n for n in params if keep(n))


def mechanism(optimizer: str, rule: str) -> str:
    """The decay mechanism behind a rule, shared by rules shown equal across frameworks: torch
    ``weight_decay`` and optax ``add_decayed_weights`` are coupled, AdamW's is decoupled."""
    if rule == "weight_decay" and optimizer == "adamw":
        return "decoupled decay"
    if rule in ("weight_decay", "add_decayed_weights"):
        return "coupled decay"
    return rule
