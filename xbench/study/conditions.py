"""The study's conditions: each way to regularize (or not), run identically in both
frameworks, and the profiles (seeds × epochs).

Model ``mlp_digits`` (64 → 64 → 64 → 10, tanh), softmax cross-entropy, float32; the batch-norm
conditions use ``mlp_digits_bn`` (each hidden dense layer, without bias, followed by BatchNorm),
whose kernels start equal to ``mlp_digits``'s. Every condition decays the kernels only
(biases and the norm's scale and bias exempt, ``mask="kernels"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from xbench.errors import UsageError
from xbench.records.study_run import ConditionInfo
from xbench.workloads.cases import FRAMEWORKS, Case, not_applicable_reason

MODEL = "mlp_digits"
BN_MODEL = "mlp_digits_bn"
BATCH_SIZE = 32
IMPLEMENTATION = {"torch": "forloop", "jax": "jit"}
STUDY_LR = {"momentum": 0.05, "adam": 3e-3, "adamw": 3e-3}
MOMENTUM = 0.9
L1_RATIO = 0.5  # ElasticNet: λ·(α‖w‖₁ + (1 − α)/2·‖w‖²)


@dataclass(frozen=True)
class StudyProfile:
    name: str
    seeds: tuple[int, ...]
    epochs: int


STUDY_PROFILES = {
    "full": StudyProfile("full", (0, 1, 2, 3, 4), 150),
    "quick": StudyProfile("quick", (0,), 60),
}


@dataclass(frozen=True)
class Condition:
    """One way to regularize (or not), run identically in both frameworks.

    family: none, l2, l1, l1_prox, elastic_net, dropout, bn (batch norm), bn_l2 (batch norm
    and L2), dropout_l2 (dropout and L2), all SGD with momentum; and adam, adam_l2, adamw (Adam)
    for the question whether L2 in Adam and AdamW's decay train the same model.
    """

    family: str
    lam: float = 0.0
    dropout: float = 0.0

    @property
    def optimizer(self) -> str:
        return {"adam": "adam", "adam_l2": "adam", "adamw": "adamw"}.get(self.family, "momentum")

    @property
    def model(self) -> str:
        return BN_MODEL if self.family in ("bn", "bn_l2") else MODEL

    @property
    def name(self) -> str:
        if self.family == "dropout":
            return f"dropout-{self.dropout:g}"
        if self.family == "dropout_l2":
            return f"dropout_l2-{self.dropout:g}-{self.lam:g}"
        return self.family if self.lam == 0 else f"{self.family}-{self.lam:g}"

    @property
    def label(self) -> str:
        what = FAMILY_LABELS[self.family]
        if self.family == "dropout":
            return f"{what} rate {self.dropout:g}"
        if self.family == "dropout_l2":
            return f"dropout rate {self.dropout:g} + L2 λ={self.lam:g}"
        return what if self.lam == 0 else f"{what} λ={self.lam:g}"

    def rule(self, framework: str) -> str:
        """The rule each framework uses. The optimizer's own coupled weight decay is
        ``weight_decay`` in torch and ``add_decayed_weights`` in optax (``xbench check`` proves
        them equal); optax.sgd and optax.adam have no weight_decay argument."""
        if self.family in ("l2", "adam_l2", "bn_l2", "dropout_l2"):
            return "weight_decay" if framework == "torch" else "add_decayed_weights"
        return {
            "adamw": "weight_decay",
            "l1": "l1_loss",
            "l1_prox": "l1_prox",
            "elastic_net": "elastic_net_loss",
        }.get(self.family, "none")

    def case(self, framework: str, seed: int, steps: int) -> Case:
        return study_case(
            framework, f"{self.name} in {framework}", model=self.model, optimizer=self.optimizer,
            rule=self.rule(framework), lr=STUDY_LR[self.optimizer], weight_decay=self.lam,
            steps=steps, seed=seed,
        )  # fmt: skip

    def info(self) -> ConditionInfo:
        """The condition as the study record keeps it."""
        rules = {f: self.rule(f) for f in FRAMEWORKS}
        return ConditionInfo(
            self.name, self.family, self.label, self.optimizer, self.lam, self.dropout, rules,
            self.model,
        )  # fmt: skip


def study_case(framework: str, what: str, **fields) -> Case:
    """A Case as the study runs it (its batches, momentum and ElasticNet α, kernels decayed,
    float32), checked to run in ``framework``; ``what`` names it if it cannot."""
    case = Case(
        momentum=MOMENTUM, l1_ratio=L1_RATIO, mask="kernels", batch_size=BATCH_SIZE,
        dtype="float32", **fields,
    )  # fmt: skip
    reason = not_applicable_reason(framework, case)
    assert reason is None, f"{what}: {reason}"
    return case


FAMILY_LABELS = {
    "none": "none",
    "l2": "L2 (weight decay)",
    "l1": "L1 subgradient",
    "l1_prox": "L1 proximal",
    "elastic_net": "ElasticNet α=0.5",
    "dropout": "dropout",
    "adam": "Adam, none",
    "adam_l2": "Adam + L2",
    "adamw": "AdamW",
    "bn": "batch norm",
    "bn_l2": "batch norm + L2",
    "dropout_l2": "dropout + L2",
}
L2_STRENGTHS = (1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1)  # from too little to far too much
L1_STRENGTHS = (1e-4, 1e-3, 1e-2)
ADAM_STRENGTHS = (1e-3, 1e-2)  # Adam + L2 and AdamW at the same λ
# The combination: dropout and L2, each at the strength with the lowest validation loss alone
# in the published study (λ 1e-3 of L2_STRENGTHS, rate 0.2 of the two dropout rates). The
# claim checks that they still are in the run it reads, and says so when not.
COMBINED_LAMBDA, COMBINED_DROPOUT = 1e-3, 0.2
CONDITIONS = (
    Condition("none"),
    *(Condition("l2", lam) for lam in L2_STRENGTHS),
    *(Condition("l1", lam) for lam in L1_STRENGTHS),
    *(Condition("l1_prox", lam) for lam in L1_STRENGTHS),
    Condition("elastic_net", 1e-3),
    Condition("dropout", dropout=0.2),
    Condition("dropout", dropout=0.5),
    Condition("adam"),
    *(Condition("adam_l2", lam) for lam in ADAM_STRENGTHS),
    *(Condition("adamw", lam) for lam in (*ADAM_STRENGTHS, 1e-1)),
    Condition("bn"),
    Condition("bn_l2", COMBINED_LAMBDA),
    Condition("dropout_l2", COMBINED_LAMBDA, COMBINED_DROPOUT),
)
CONDITION_NAMES = tuple(c.name for c in CONDITIONS)
# Pairs of conditions whose final kernels are compared (same seed, same framework): does L2 in
# Adam train the model AdamW trains at the same λ, and how far is each from plain Adam?
CONTRASTS = tuple(
    pair
    for lam in ADAM_STRENGTHS
    for pair in (
        (f"adam_l2-{lam:g}", f"adamw-{lam:g}"),
        ("adam", f"adam_l2-{lam:g}"),
        ("adam", f"adamw-{lam:g}"),
    )
)


def select(names: list[str] | None) -> tuple[Condition, ...]:
    """The conditions named (all when none are), in the study's order."""
    if not names:
        return CONDITIONS
    unknown = [n for n in names if n not in CONDITION_NAMES]
    if unknown:
        raise UsageError(f"unknown condition {unknown[0]!r}; valid: {', '.join(CONDITION_NAMES)}")
    return tuple(c for c in CONDITIONS if c.name in names)


def profile_for(quick: bool, epochs: int | None, seeds: int | None) -> StudyProfile:
    """``full`` or ``quick``, or ``custom`` when epochs or seeds (1 to 1000) override it."""
    profile = STUDY_PROFILES["quick" if quick else "full"]
    for flag, value in (("epochs", epochs), ("seeds", seeds)):
        if value is not None and not 1 <= value <= 1000:
            raise UsageError(f"invalid --{flag} {value}; must be an integer from 1 to 1000")
    if epochs or seeds:
        chosen = tuple(range(seeds)) if seeds else profile.seeds
        profile = StudyProfile("custom", chosen, epochs or profile.epochs)
    return profile
