"""The check catalogue: which runs are compared, and what the comparison should find.

Each Entry compares two Runs (a framework and a Case) and states its expectation: equal, or
different with the one-line reason. Hyper-parameters are chosen so that a 0.1% error in λ or a
decay one step late is far above the float64 tolerance (ηλ is never tiny, except in the one
entry about tiny ηλ).
"""

from __future__ import annotations

from dataclasses import dataclass

from xbench.cases import DTYPES, OPTIMIZERS, RULES, Case, not_applicable_reason

LEARNING_RATE = {"sgd": 0.05, "momentum": 0.05, "nesterov": 0.05, "adam": 0.01, "adamw": 0.01}
DECAY = {
    "none": 0.0,
    "weight_decay": 0.1,
    "l2_loss": 0.1,
    "add_decayed_weights": 0.1,
    "l1_loss": 0.01,
    "elastic_net_loss": 0.05,
    "l1_prox": 0.05,  # threshold ηλ: 2.5e-3 (sgd) or 5e-4 (adam) per step, so some weights hit 0
}
TINY_LR, TINY_DECAY = 1e-3, 1e-5  # ηλ = 1e-8 < 6e-8: 1 − ηλ rounds to 1.0 in float32


@dataclass(frozen=True)
class Run:
    framework: str
    case: Case


@dataclass(frozen=True)
class Entry:
    name: str
    left: Run
    right: Run  # the side compared against: the reference, when one takes part
    expect_equal: bool
    reason: str  # why they should be equal, or why they differ
    exact: bool = False  # compare bit for bit instead of with the dtype's tolerance


def case_for(model: str, optimizer: str, rule: str, dtype: str, **changes) -> Case:
    fields = dict(
        model=model,
        optimizer=optimizer,
        rule=rule,
        lr=LEARNING_RATE[optimizer],
        weight_decay=DECAY[rule],
        dtype=dtype,
    )
    return Case(**(fields | changes))


def _label(case: Case, other: Case) -> str:
    """The fields by which ``case`` differs from ``other``, for a readable entry name."""
    parts = []
    for field in ("optimizer", "rule", "variant", "weight_decay", "lr"):
        if getattr(case, field) != getattr(other, field):
            value = getattr(case, field)
            if field in ("weight_decay", "lr"):
                parts.append(f"{field}={value:g}")
            else:
                parts.append(str(value or "plain"))
    return ":".join(parts)


def _name(left: Run, right: Run) -> str:
    a, b = left.case, right.case
    common = [a.model] + [
        getattr(a, f) for f in ("optimizer", "rule") if getattr(a, f) == getattr(b, f)
    ]
    if a.variant and a.variant == b.variant:
        common.append(a.variant)
    common += ["mask"] * a.mask + ["unused"] * a.unused_param
    sides = []
    for run, other in ((left, right), (right, left)):
        label = _label(run.case, other.case)
        sides.append(run.framework + (f"[{label}]" if label else ""))
    return "-".join([*common, sides[0], "vs", sides[1], a.dtype])


def entry(left: Run, right: Run, expect_equal: bool, reason: str, exact: bool = False) -> Entry:
    return Entry(_name(left, right), left, right, expect_equal, reason, exact)


def versus_reference(case: Case, reason_if_different: str | None = None) -> list[Entry]:
    """Each framework that can express ``case`` against the float64 reference."""
    out = []
    for framework in ("torch", "jax"):
        if not_applicable_reason(framework, case) is None:
            ref = Run("reference", case)
            differs = reason_if_different if framework == "torch" else None
            reason = differs or "same update rule (SPEC.md)"
            out.append(entry(Run(framework, case), ref, differs is None, reason))
    return out


def default_catalogue() -> list[Entry]:
    entries: list[Entry] = []
    for dtype in DTYPES:
        entries += _rule_table(dtype) + _spec_table(dtype) + _known_differences(dtype)
    entries += _tiny_decay()
    names = [e.name for e in entries]
    assert len(names) == len(set(names)), "catalogue entry names must be unique"
    return entries


def _rule_table(dtype: str) -> list[Entry]:
    """Every optimizer × rule each framework can express, against the reference."""
    out = []
    for optimizer in OPTIMIZERS:
        for rule in RULES:
            out += versus_reference(case_for("mlp", optimizer, rule, dtype))
    for optimizer in ("sgd", "momentum", "adam", "adamw"):  # masks: biases, norm scales exempt
        for rule in RULES[1:]:
            out += versus_reference(case_for("mlp_norm", optimizer, rule, dtype, mask=True))
    for model in ("linear", "cnn"):
        for optimizer, rule in (
            ("adamw", "weight_decay"),
            ("momentum", "l2_loss"),
            ("adam", "l1_loss"),
        ):
            out += versus_reference(case_for(model, optimizer, rule, dtype))
    return out


def _spec_table(dtype: str) -> list[Entry]:
    """The equalities of SPEC.md's update-rule table, framework against framework."""
    out = []
    for optimizer in ("sgd", "momentum", "nesterov", "adam"):
        torch_wd = Run("torch", case_for("mlp", optimizer, "weight_decay", dtype))
        for other in ("add_decayed_weights", "l2_loss"):
            jax_run = Run("jax", case_for("mlp", optimizer, other, dtype))
            out.append(
                entry(torch_wd, jax_run, True, f"torch weight_decay is g + λw, as jax {other}")
            )
        torch_l2 = Run("torch", case_for("mlp", optimizer, "l2_loss", dtype))
        out.append(entry(torch_wd, torch_l2, True, "weight_decay=λ is the gradient of λ/2·‖w‖²"))
    adamw = case_for("mlp", "adamw", "weight_decay", dtype)
    out.append(entry(Run("torch", adamw), Run("jax", adamw), True, "torch AdamW = optax.adamw"))
    coupled = case_for("mlp", "sgd", "weight_decay", dtype)
    out.append(
        entry(
            Run("torch", coupled.replace(variant="decoupled")),
            Run("torch", coupled),
            True,
            "plain SGD: w − η(g + λw) = w(1 − ηλ) − ηg",
        )
    )
    for model, optimizer, rule in (
        ("mlp_norm", "adamw", "weight_decay"),
        ("mlp_norm", "sgd", "l1_loss"),
    ):
        case = case_for(model, optimizer, rule, dtype, mask=True)
        out.append(entry(Run("torch", case), Run("jax", case), True, "one mask map for both"))
    for model in ("linear", "cnn"):
        case = case_for(model, "adamw", "weight_decay", dtype)
        out.append(entry(Run("torch", case), Run("jax", case), True, "torch AdamW = optax.adamw"))
    return out


def _known_differences(dtype: str) -> list[Entry]:
    """SPEC.md's known non-equivalences: each must be detected, with its reason."""
    out = []
    adam_wd = case_for("mlp", "adam", "weight_decay", dtype)
    adamw_wd = case_for("mlp", "adamw", "weight_decay", dtype)
    out.append(
        entry(
            Run("torch", adam_wd),
            Run("torch", adamw_wd),
            False,
            "Adam weight_decay adds λw to g before the moments; AdamW decays w·(1 − ηλ) outside",
        )
    )
    out.append(
        entry(
            Run("jax", case_for("mlp", "adam", "add_decayed_weights", dtype)),
            Run("jax", adamw_wd),
            False,
            "add_decayed_weights before adam is coupled (Adam+L2), optax.adamw is decoupled",
        )
    )
    sgd_wd = case_for("mlp", "sgd", "weight_decay", dtype)
    after_lr = case_for("mlp", "sgd", "add_decayed_weights", dtype, variant="after_lr")
    out.append(
        entry(
            Run("jax", after_lr),
            Run("torch", sgd_wd),
            False,
            "add_decayed_weights after scale_by_learning_rate adds +λw to the update: weights grow",
        )
    )
    out += versus_reference(after_lr)
    no_half = case_for("mlp", "sgd", "l2_loss", dtype, variant="no_half")
    for framework in ("torch", "jax"):
        out.append(
            entry(
                Run(framework, no_half),
                Run("torch", sgd_wd),
                False,
                "λ‖w‖² without the ½ has gradient 2λw: it is weight_decay=2λ, not λ",
            )
        )
    out.append(
        entry(
            Run("torch", no_half),
            Run("torch", sgd_wd.replace(weight_decay=2 * DECAY["weight_decay"])),
            True,
            "λ‖w‖² has gradient 2λw, the same as weight_decay=2λ",
        )
    )
    momentum_wd = case_for("mlp", "momentum", "weight_decay", dtype)
    out.append(
        entry(
            Run("torch", momentum_wd.replace(variant="decoupled")),
            Run("torch", momentum_wd),
            False,
            "with momentum, coupled λw enters the buffer (amplified ~1/(1 − μ)); decoupled doesn't",
        )
    )
    out += versus_reference(momentum_wd.replace(variant="decoupled"))
    unused = adamw_wd.replace(unused_param=True)
    reason = "torch skips a parameter whose .grad is None; optax decays every leaf"
    out.append(entry(Run("torch", unused), Run("jax", unused), False, reason))
    out += versus_reference(unused, reason_if_different=reason)
    return out


def _tiny_decay() -> list[Entry]:
    """ηλ = 1e-8: float32 torch AdamW loses the decay entirely; optax keeps it."""
    out = []
    for dtype in DTYPES:
        tiny = case_for("mlp", "adamw", "weight_decay", dtype, lr=TINY_LR, weight_decay=TINY_DECAY)
        no_decay = tiny.replace(rule="none", weight_decay=0.0)
        lost = dtype == "float32"
        out.append(
            entry(
                Run("torch", tiny),
                Run("torch", no_decay),
                lost,
                "float32: 1 − ηλ rounds to 1.0, so w.mul_(1 − ηλ) does nothing (pytorch#64475)"
                if lost
                else "float64 represents 1 − ηλ: the decay acts",
                exact=True,
            )
        )
        out.append(
            entry(
                Run("jax", tiny),
                Run("jax", no_decay),
                False,
                "optax adds λw to the update (−η(d + λw)), so the tiny decay survives",
                exact=True,
            )
        )
    return out
