"""What is run: a Case (model × optimizer × rule × hyper-parameters × dtype × seed × steps).

Every hyper-parameter is explicit. Framework defaults differ (optax.adamw decays 1e-4 by
default, torch AdamW 1e-2, torch Adam 0), so an adapter never relies on one. Each optimizer
and rule named here is written out as a formula, in torch's and optax's form, in
``docs/rules.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass

from xbench.errors import NotApplicable, UsageError
from xbench.spec.models import MODELS

FRAMEWORKS = ("torch", "jax")  # the frameworks compared
REFERENCE = "reference"  # the float64 NumPy oracle
RUNNERS = (*FRAMEWORKS, REFERENCE)  # whatever can run a Case: a framework or the reference
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
RULES = (
    "none",
    "weight_decay",
    "l2_loss",
    "add_decayed_weights",
    "l1_loss",
    "elastic_net_loss",
    "l1_prox",
)
DTYPES = ("float32", "float64")

# Deliberate misconfigurations that users make, kept runnable so the suite can show them.
VARIANTS = {
    "": "as documented",
    "after_lr": "add_decayed_weights chained after the learning-rate scaling (grows weights)",
    "no_half": "l2_loss written as λ‖w‖² without the ½ (equals weight_decay=2λ)",
    "decoupled": "weight_decay for sgd/momentum/nesterov as w ← w·(1 − ηλ) before the step",
}
VARIANT_RULE = {
    "after_lr": "add_decayed_weights",
    "no_half": "l2_loss",
    "decoupled": "weight_decay",
}

DECAYING_RULES = RULES[1:]
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
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    l1_ratio: float = 0.5
    mask: bool = False
    steps: int = 20
    seed: int = 0
    batch_size: int = 16
    dtype: str = "float64"
    device: str = "cpu"
    variant: str = ""
    unused_param: bool = False

    def __post_init__(self) -> None:
        validate(self)

    @property
    def decoupled(self) -> bool:
        """True when λ multiplies w outside the optimizer's moments (AdamW-style)."""
        return self.rule == "weight_decay" and (
            self.optimizer == "adamw" or self.variant == "decoupled"
        )

    def replace(self, **changes) -> Case:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Case:
        return cls(**json.loads(text))

    @property
    def label(self) -> str:
        parts = [self.model, self.optimizer, self.rule]
        if self.variant:
            parts.append(self.variant)
        if self.mask:
            parts.append("mask")
        if self.unused_param:
            parts.append("unused")
        return "-".join(parts)


def _choice(field: str, value, valid) -> None:
    if value not in valid:
        shown = ", ".join(repr(v) if v == "" else str(v) for v in valid)
        raise UsageError(f"unknown {field} {value!r}; valid: {shown}")


def _finite_nonnegative(field: str, value: float, positive: bool = False) -> None:
    bad = not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0
    if bad or (positive and value == 0):
        need = "a finite number > 0" if positive else "a finite number >= 0"
        raise UsageError(f"invalid {field} {value!r}; must be {need}")


def validate(case: Case) -> None:
    """Raise UsageError naming the bad value and the valid ones."""
    _choice("model", case.model, tuple(MODELS))
    _choice("optimizer", case.optimizer, OPTIMIZERS)
    _choice("rule", case.rule, RULES)
    _choice("dtype", case.dtype, DTYPES)
    _choice("variant", case.variant, tuple(VARIANTS))
    _finite_nonnegative("lr", case.lr, positive=True)
    _finite_nonnegative("weight-decay", case.weight_decay)
    _finite_nonnegative("eps", case.eps)
    for field in ("momentum", "beta1", "beta2"):
        value = getattr(case, field)
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise UsageError(f"invalid {field} {value!r}; must be in [0, 1)")
    if not 0 <= case.l1_ratio <= 1:
        raise UsageError(f"invalid l1-ratio {case.l1_ratio!r}; must be in [0, 1]")
    for field in ("steps", "batch_size"):
        value = getattr(case, field)
        if not isinstance(value, int) or value <= 0:
            raise UsageError(f"invalid {field.replace('_', '-')} {value!r}; must be an integer > 0")
    if not isinstance(case.seed, int) or case.seed < 0:
        raise UsageError(f"invalid seed {case.seed!r}; must be an integer >= 0")
    validate_device(case.device)
    if case.rule == "none" and case.weight_decay != 0:
        raise UsageError(
            f"rule 'none' with weight-decay {case.weight_decay}; use a rule from: "
            + ", ".join(DECAYING_RULES)
        )
    if case.variant and VARIANT_RULE[case.variant] != case.rule:
        raise UsageError(
            f"variant {case.variant!r} applies to rule {VARIANT_RULE[case.variant]!r}, "
            f"not {case.rule!r}"
        )
    if case.variant == "decoupled" and case.optimizer not in ("sgd", "momentum", "nesterov"):
        raise UsageError(
            f"variant 'decoupled' is for sgd, momentum and nesterov, not {case.optimizer!r}; "
            "for Adam use optimizer adamw"
        )


def validate_device(device: str) -> None:
    """Raise UsageError unless ``device`` is ``cpu``, ``cuda`` or ``cuda:N``."""
    if not isinstance(device, str) or not DEVICE.match(device):
        raise UsageError(f"unknown device {device!r}; valid: cpu, cuda, cuda:N")


def not_applicable_reason(framework: str, case: Case) -> str | None:
    """Why ``framework`` cannot express ``case`` (and what to use instead), or None."""
    if framework == "jax" and case.rule == "weight_decay" and case.optimizer != "adamw":
        return (
            f"optax.{'adam' if case.optimizer == 'adam' else 'sgd'} has no weight_decay "
            "argument; use rule add_decayed_weights (the same coupled g + λw) or l2_loss"
        )
    if framework == "jax" and case.variant == "decoupled":
        return "optax.sgd has no decoupled decay; rule add_decayed_weights is the coupled form"
    if framework == "torch" and case.rule == "add_decayed_weights":
        return (
            "torch optimizers have no gradient-transform chain; use rule weight_decay "
            "(coupled g + λw for sgd, momentum, nesterov and adam) or l2_loss"
        )
    if framework == REFERENCE and case.device != "cpu":
        return "the float64 NumPy reference runs on the CPU only; use --device cpu"
    return None


def check_applicable(framework: str, case: Case) -> None:
    _choice("framework", framework, RUNNERS)
    reason = not_applicable_reason(framework, case)
    if reason:
        raise NotApplicable(f"{framework} cannot run {case.optimizer} + {case.rule}: {reason}")


def decayed_names(names, case: Case) -> frozenset[str]:
    """The canonical parameters a rule decays: all of them, or with a mask only the kernels.

    Biases and norm scales/biases are exempt under a mask. Every adapter builds its torch
    param groups or optax mask from this one function.
    """
    if case.rule == "none":
        return frozenset()
    if not case.mask:
        return frozenset(names)
    return frozenset(n for n in names if n.endswith("/kernel"))


def mechanism(optimizer: str, rule: str) -> str:
    """Rules the equivalence catalogue shows equal across frameworks share a mechanism.

    torch SGD/momentum/Adam ``weight_decay`` is g + λw, as optax ``add_decayed_weights``
    before the optimizer; torch AdamW ``weight_decay`` is optax.adamw's decoupled decay.
    """
    if rule == "weight_decay" and optimizer == "adamw":
        return "decoupled decay"
    if rule in ("weight_decay", "add_decayed_weights"):
        return "coupled decay"
    return rule
