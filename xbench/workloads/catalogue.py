"""The check catalogue: which runs are compared, and what the comparison should find.

Each Entry compares two Setups (a framework or the reference, and a Case) and states its
expectation: equal, or different with the one-line reason. The equalities and the known
differences are those of ``docs/rules.md``; η and λ are chosen as ``docs/check.md`` says (ηλ
is never tiny, except in the one entry about tiny ηλ).

Over 450 lines: the catalogue is a table of entries written as code.
"""

from __future__ import annotations

from dataclasses import dataclass

from xbench.workloads.cases import (
    DTYPES,
    FRAMEWORKS,
    OPTAX_DEFAULTS,
    OPTIMIZERS,
    REFERENCE,
    RULES,
    Case,
    mask_label,
    not_applicable_reason,
)

CATALOGUE_LR = {
    "sgd": 0.05,
    "momentum": 0.05,
    "nesterov": 0.05,
    "adam": 0.01,
    "adamw": 0.01,
    "rmsprop": 0.001,  # unbiased v starts at (1 − α)·g²: the first steps are 10·η per element
    "adagrad": 0.05,
}

CATALOGUE_DECAY = {
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
class Setup:
    """One half of an entry: who runs (a framework or the reference) and what."""

    framework: str
    case: Case


@dataclass(frozen=True)
class Entry:
    name: str
    left: Setup
    right: Setup  # the one compared against: the reference, when one takes part
    expect_equal: bool
    reason: str  # why they should be equal, or why they differ
    exact: bool = False  # compare bit for bit instead of with the dtype's tolerance


def case_for(model: str, optimizer: str, rule: str, dtype: str, **changes) -> Case:
    """A Case at the catalogue's η and λ for ``optimizer`` and ``rule``, then ``changes``."""
    fields = dict(model=model, optimizer=optimizer, rule=rule, dtype=dtype)
    fields |= dict(lr=CATALOGUE_LR[optimizer], weight_decay=CATALOGUE_DECAY[rule])
    return Case(**(fields | changes))


def _label(case: Case, other: Case) -> str:
    """The fields by which ``case`` differs from ``other``, for a readable entry name."""
    parts = []
    for field in LABEL_FIELDS:
        if getattr(case, field) != getattr(other, field):
            value = getattr(case, field)
            if field in ("optimizer", "rule", "variant"):
                parts.append(str(value or "plain"))
            elif field == "mask":
                parts.append(f"mask_{value}" if value else "no_mask")
            elif isinstance(value, bool):
                parts.append(field if value else f"no_{field}")
            elif isinstance(value, float):
                parts.append(f"{field}={value:g}")
            else:
                parts.append(f"{field}={value}")
    return ":".join(parts)


LABEL_FIELDS = (
    "optimizer", "rule", "variant", "weight_decay", "lr", "mask", "alpha", "eps", "eps_in_sqrt",
    "initial_accumulator", "dampening", "clip_eps", "schedule", "bn_running_var",
)  # fmt: skip


def _name(left: Setup, right: Setup) -> str:
    a, b = left.case, right.case
    common = [a.model] + [
        getattr(a, f) for f in ("optimizer", "rule") if getattr(a, f) == getattr(b, f)
    ]
    if a.variant and a.variant == b.variant:
        common.append(a.variant)
    if a.mask and a.mask == b.mask:
        common.append(mask_label(a.mask))
    common += ["unused"] * a.unused_param
    if a.schedule != "constant" and a.schedule == b.schedule:
        common.append(a.schedule)
    if a.clipped and a.clip_norm == b.clip_norm:
        common.append("clip")
    if a.bn_running_var == b.bn_running_var != "unbiased":
        common.append(f"bn_{a.bn_running_var}_var")
    common += _shared_settings(a, b)
    sides = []
    for run, other in ((left, right), (right, left)):
        label = _label(run.case, other.case)
        sides.append(run.framework + (f"[{label}]" if label else ""))
    return "-".join([*common, sides[0], "vs", sides[1], a.dtype])


SHARED_FIELDS = (
    "centered", "momentum", "alpha", "dampening", "eps_in_sqrt", "lr_decay", "eps",
    "initial_accumulator", "bn_momentum",
)  # fmt: skip


def _shared_settings(a: Case, b: Case) -> list[str]:
    """Settings both sides share that differ from the catalogue's own for the optimizer."""
    usual = case_for(a.model, a.optimizer, a.rule, a.dtype)
    out = []
    for field in SHARED_FIELDS:
        value = getattr(a, field)
        if value != getattr(b, field) or value == getattr(usual, field):
            continue
        out.append(field if value is True else f"{field}={value:g}")
    return out


def entry(left: Setup, right: Setup, expect_equal: bool, reason: str, exact: bool = False) -> Entry:
    return Entry(_name(left, right), left, right, expect_equal, reason, exact)


SAME_RULE = "same update rule (docs/rules.md)"


def torch_vs_jax(torch_case: Case, jax_case: Case, equal: bool, reason: str) -> Entry:
    return entry(Setup("torch", torch_case), Setup("jax", jax_case), equal, reason)


def versus_reference(case: Case, reason_if_different: str | None = None) -> list[Entry]:
    """Each framework that can express ``case`` against the float64 reference."""
    out = []
    for framework in FRAMEWORKS:
        if not_applicable_reason(framework, case) is None:
            ref = Setup(REFERENCE, case)
            differs = reason_if_different if framework == "torch" else None
            reason = differs or SAME_RULE
            out.append(entry(Setup(framework, case), ref, differs is None, reason))
    return out


def default_catalogue() -> list[Entry]:
    entries: list[Entry] = []
    for dtype in DTYPES:
        entries += _rule_table(dtype) + _spec_table(dtype) + _known_differences(dtype)
        entries += _rmsprop(dtype) + _adagrad(dtype) + _sgd_and_adam_flags(dtype)
        entries += _schedules(dtype) + _clipping(dtype) + _transformer(dtype)
        entries += _batch_norm(dtype)
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
    masked = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")
    for optimizer in masked:  # masks: biases, norm scales exempt
        for rule in RULES[1:]:
            out += versus_reference(case_for("mlp_norm", optimizer, rule, dtype, mask=True))
    for rule in ("add_decayed_weights", "l2_loss"):  # optax.adagrad: ε inside the root
        case = case_for("mlp_norm", "adagrad", rule, dtype, mask=True, eps_in_sqrt=True)
        out += versus_reference(case)
    three_cases = (("adamw", "weight_decay"), ("momentum", "l2_loss"), ("adam", "l1_loss"))
    for model in ("linear", "cnn"):
        for optimizer, rule in three_cases:
            out += versus_reference(case_for(model, optimizer, rule, dtype))
    return out


def _spec_table(dtype: str) -> list[Entry]:
    """The equalities of docs/rules.md, framework against framework."""
    out = []
    for optimizer in ("sgd", "momentum", "nesterov", "adam"):
        torch_wd = case_for("mlp", optimizer, "weight_decay", dtype)
        for other in ("add_decayed_weights", "l2_loss"):
            same = f"torch weight_decay is g + λw, as jax {other}"
            out.append(torch_vs_jax(torch_wd, case_for("mlp", optimizer, other, dtype), True, same))
        torch_l2 = case_for("mlp", optimizer, "l2_loss", dtype)
        same = "weight_decay=λ is the gradient of λ/2·‖w‖²"
        out.append(entry(Setup("torch", torch_wd), Setup("torch", torch_l2), True, same))
    adamw = case_for("mlp", "adamw", "weight_decay", dtype)
    out.append(torch_vs_jax(adamw, adamw, True, "torch AdamW = optax.adamw"))
    coupled = case_for("mlp", "sgd", "weight_decay", dtype)
    decoupled = coupled.replace(variant="decoupled")
    same = "plain SGD: w − η(g + λw) = w(1 − ηλ) − ηg"
    out.append(entry(Setup("torch", decoupled), Setup("torch", coupled), True, same))
    for optimizer, rule in (("adamw", "weight_decay"), ("sgd", "l1_loss")):
        case = case_for("mlp_norm", optimizer, rule, dtype, mask=True)
        out.append(torch_vs_jax(case, case, True, "one mask map for both"))
    for model in ("linear", "cnn"):
        case = case_for(model, "adamw", "weight_decay", dtype)
        out.append(torch_vs_jax(case, case, True, "torch AdamW = optax.adamw"))
    return out


def _known_differences(dtype: str) -> list[Entry]:
    """The known non-equivalences of docs/rules.md: each must be detected, with its reason."""
    return _coupled_or_decoupled(dtype) + _the_half(dtype) + _momentum_and_unused(dtype)


def _coupled_or_decoupled(dtype: str) -> list[Entry]:
    """Adam + L2 is not AdamW; the decay chained after the learning rate grows weights."""
    adamw = case_for("mlp", "adamw", "weight_decay", dtype)
    adam_l2 = case_for("mlp", "adam", "weight_decay", dtype)
    adam_chained = case_for("mlp", "adam", "add_decayed_weights", dtype)
    sgd_wd = case_for("mlp", "sgd", "weight_decay", dtype)
    after_lr = case_for("mlp", "sgd", "add_decayed_weights", dtype, variant="after_lr")
    coupled = "Adam weight_decay adds λw to g before the moments; AdamW decays w·(1 − ηλ) outside"
    chained = "add_decayed_weights before adam is coupled (Adam+L2), optax.adamw is decoupled"
    grows = "add_decayed_weights after scale_by_learning_rate adds +λw to the update: weights grow"
    return [
        entry(Setup("torch", adam_l2), Setup("torch", adamw), False, coupled),
        entry(Setup("jax", adam_chained), Setup("jax", adamw), False, chained),
        entry(Setup("jax", after_lr), Setup("torch", sgd_wd), False, grows),
        *versus_reference(after_lr),
    ]


def _the_half(dtype: str) -> list[Entry]:
    """λ‖w‖² without the ½ is weight_decay=2λ, not λ."""
    sgd_wd = case_for("mlp", "sgd", "weight_decay", dtype)
    no_half = case_for("mlp", "sgd", "l2_loss", dtype, variant="no_half")
    differs = "λ‖w‖² without the ½ has gradient 2λw: it is weight_decay=2λ, not λ"
    out = [entry(Setup(fw, no_half), Setup("torch", sgd_wd), False, differs) for fw in FRAMEWORKS]
    twice = Setup("torch", sgd_wd.replace(weight_decay=2 * CATALOGUE_DECAY["weight_decay"]))
    same = "λ‖w‖² has gradient 2λw, the same as weight_decay=2λ"
    return [*out, entry(Setup("torch", no_half), twice, True, same)]


def _momentum_and_unused(dtype: str) -> list[Entry]:
    """Coupled decay enters the momentum buffer; torch skips a parameter without gradient."""
    coupled = case_for("mlp", "momentum", "weight_decay", dtype)
    decoupled = coupled.replace(variant="decoupled")
    buffer = "with momentum, coupled λw enters the buffer (amplified ~1/(1 − μ)); decoupled doesn't"
    out = [entry(Setup("torch", decoupled), Setup("torch", coupled), False, buffer)]
    out += versus_reference(decoupled)
    unused = case_for("mlp", "adamw", "weight_decay", dtype, unused_param=True)
    reason = "torch skips a parameter whose .grad is None; optax decays every leaf"
    out.append(torch_vs_jax(unused, unused, False, reason))
    return out + versus_reference(unused, reason_if_different=reason)


def _tiny_decay() -> list[Entry]:
    """ηλ = 1e-8: float32 torch AdamW loses the decay entirely; optax keeps it."""
    out = []
    for dtype in DTYPES:
        tiny = case_for("mlp", "adamw", "weight_decay", dtype, lr=TINY_LR, weight_decay=TINY_DECAY)
        no_decay = tiny.replace(rule="none", weight_decay=0.0)
        lost = dtype == "float32"
        torch_reason = (
            "float32: 1 − ηλ rounds to 1.0, so w.mul_(1 − ηλ) does nothing (pytorch#64475)"
            if lost
            else "float64 represents 1 − ηλ: the decay acts"
        )
        jax_reason = "optax adds λw to the update (−η(d + λw)), so the tiny decay survives"
        out += [
            entry(Setup("torch", tiny), Setup("torch", no_decay), lost, torch_reason, exact=True),
            entry(Setup("jax", tiny), Setup("jax", no_decay), False, jax_reason, exact=True),
        ]
    return out


def _rmsprop(dtype: str) -> list[Entry]:
    """torch RMSprop = optax.rmsprop mapped to torch's convention; optax's defaults differ."""
    plain = case_for("mlp", "rmsprop", "none", dtype)
    out = []
    for changes in ({"centered": True}, {"momentum": 0.9}, {"centered": True, "momentum": 0.9}):
        out += versus_reference(plain.replace(**changes))
    out += versus_reference(plain.replace(eps_in_sqrt=True))  # optax's default placement
    mapped = "optax.rmsprop(decay=α, eps_in_sqrt=False, initial_scale=0) is torch's RMSprop"
    for changes in ({}, {"centered": True, "momentum": 0.9}):
        case = plain.replace(**changes)
        out.append(torch_vs_jax(case, case, True, mapped))
    differs = "optax.rmsprop's defaults: decay 0.9 (torch's alpha 0.99) and ε inside the root"
    return out + _optax_defaults(plain, differs)


def _optax_defaults(torch_case: Case, reason: str) -> list[Entry]:
    """The optax optimizer called with η alone, against the reference and torch's defaults."""
    defaults = OPTAX_DEFAULTS[torch_case.optimizer]
    optax_case = torch_case.replace(variant="optax_defaults", **defaults)
    differs = entry(Setup("jax", optax_case), Setup("torch", torch_case), False, reason)
    return [*versus_reference(optax_case), differs]


ADAGRAD_MATCHED = {"initial_accumulator": 0.1, "eps": 1e-7}  # optax's defaults, in both


def _adagrad(dtype: str) -> list[Entry]:
    """optax.adagrad always divides by √(s + ε); torch by √s + ε. How far that matters."""
    torch_case = case_for("mlp", "adagrad", "none", dtype)
    optax_case = torch_case.replace(eps_in_sqrt=True)
    out = versus_reference(optax_case)
    for rule in RULES:  # the rule table's cases as optax.adagrad runs them, with its s₀ and ε
        case = case_for("mlp", "adagrad", rule, dtype, eps_in_sqrt=True, **ADAGRAD_MATCHED)
        out += versus_reference(case)
    out += versus_reference(torch_case.replace(lr_decay=0.01))
    resolved = dtype == "float64"
    matched = (
        "s ≥ 0.1, ε = 1e-7: 1/√(s + ε) vs 1/(√s + ε) is ε·(1/√s − 1/(2s)) ≤ 2e-7 relative, "
        + ("resolved in float64" if resolved else "within float32's tolerance")
    )
    from_zero = "s starts at 0: where Σg² is near ε, 1/√(s + ε) is far from 1/(√s + ε)"
    optax_matched = optax_case.replace(**ADAGRAD_MATCHED)
    torch_matched = torch_case.replace(**ADAGRAD_MATCHED)
    out += [
        entry(Setup("jax", optax_matched), Setup("torch", torch_matched), not resolved, matched),
        entry(Setup("jax", optax_case), Setup("torch", torch_case), False, from_zero),
    ]
    differs = "optax.adagrad's defaults: accumulator 0.1 and ε 1e-7 (torch's 0 and 1e-10)"
    return out + _optax_defaults(torch_case, differs)


def _sgd_and_adam_flags(dtype: str) -> list[Entry]:
    """SGD dampening (torch's first step undampened); Adam(decoupled_weight_decay=True)."""
    damped = case_for("mlp", "momentum", "none", dtype, dampening=0.5)
    undamped = damped.replace(dampening=0.0)
    from_step_2 = "dampening scales g by (1 − τ) in the buffer from step 2; step 1 uses g itself"
    no_dampening = "optax has no dampening: optax.sgd(momentum=μ), the nearest, is undampened"
    out = versus_reference(damped) + [
        entry(Setup("torch", damped), Setup("torch", undamped), False, from_step_2),
        torch_vs_jax(damped, undamped, False, no_dampening),
    ]
    decoupled = case_for("mlp", "adam", "weight_decay", dtype, variant="decoupled")
    out += versus_reference(decoupled)
    adamw = case_for("mlp", "adamw", "weight_decay", dtype)
    same = "Adam(decoupled_weight_decay=True) is AdamW: w·(1 − ηλ), then Adam"
    out += [entry(Setup("torch", decoupled), Setup(fw, adamw), True, same) for fw in FRAMEWORKS]
    return out


def as_optax(case: Case) -> Case:
    """torch's weight_decay in optax's terms: optax.adamw's own, else add_decayed_weights."""
    return case if case.optimizer == "adamw" else case.replace(rule="add_decayed_weights")


SCHEDULE_WARMUP = {"warmup_cosine": 5}
FLOAT32_SCHEDULES = ("linear", "warmup_cosine")  # optax evaluates these in float32 (int32 count)


def _schedules(dtype: str) -> list[Entry]:
    """torch schedulers stepped once per step = optax schedules; two torch port errors."""
    out = []
    for schedule in ("linear", "cosine", "warmup_cosine"):
        warmup = SCHEDULE_WARMUP.get(schedule, 0)
        float32_lr = dtype == "float64" and schedule in FLOAT32_SCHEDULES
        reason = (
            f"optax's {schedule} schedule computes η_t in float32 (int32 step count / int) "
            "even with x64: ~1e-7 relative, resolved in float64"
            if float32_lr
            else "the same η_t, stepped once per optimizer step"
        )
        for optimizer in ("sgd", "adam", "adamw"):
            torch_case = case_for(
                "mlp", optimizer, "weight_decay", dtype, schedule=schedule, warmup_steps=warmup
            )
            jax_case = as_optax(torch_case)
            torch_run, jax_run = Setup("torch", torch_case), Setup("jax", jax_case)
            out.append(entry(torch_run, Setup(REFERENCE, torch_case), True, SAME_RULE))
            for other in (Setup(REFERENCE, jax_case), torch_run):
                out.append(entry(jax_run, other, not float32_lr, reason))
    return out + _schedule_mistakes(dtype)


def _schedule_mistakes(dtype: str) -> list[Entry]:
    cosine = case_for("mlp", "sgd", "weight_decay", dtype, schedule="cosine")
    mistakes = {
        "schedule_per_epoch": "the scheduler stepped once per epoch holds η for 5 steps; "
        "optax's count moves every step",
        "schedule_early": "scheduler.step() before optimizer.step() uses η_(t+1) at step t",
    }
    out = []
    for variant, reason in mistakes.items():
        out += versus_reference(cosine.replace(variant=variant))
        out.append(torch_vs_jax(cosine.replace(variant=variant), as_optax(cosine), False, reason))
    rms = case_for("mlp", "rmsprop", "none", dtype, momentum=0.9, schedule="cosine")
    trace = (
        "optax.rmsprop scales by η_t before its momentum trace, torch after: with a changing η "
        "the buffer keeps past rates"
    )
    return [*out, entry(Setup("jax", rms), Setup("torch", rms), False, trace)]


CLIP_NORM = 0.5  # below every step's gradient norm (0.8 to 1.3) on mlp: clipping always acts


def _clipping(dtype: str) -> list[Entry]:
    """clip_grad_norm_ before step() = chain(clip_by_global_norm, ...); L2 is clipped too."""
    out = []
    resolved = dtype == "float64"
    clip_eps = "torch's clip_grad_norm_ divides by ‖g‖ + 1e-6, optax's by ‖g‖: " + (
        "~1e-6 relative, resolved in float64" if resolved else "below float32 resolution"
    )
    l2_clipped = "with clipping, L2 in the loss is clipped with g; weight_decay adds λw after"
    before = "chain(add_decayed_weights, clip, ...) clips λw with g, as L2 in the loss"
    for optimizer in ("sgd", "momentum", "adamw"):
        torch_wd = case_for("mlp", optimizer, "weight_decay", dtype, clip_norm=CLIP_NORM)
        jax_wd = as_optax(torch_wd).replace(clip_eps=0.0)
        out += versus_reference(torch_wd) + versus_reference(jax_wd)
        out.append(entry(Setup("jax", jax_wd), Setup("torch", torch_wd), not resolved, clip_eps))
        if optimizer == "adamw":
            continue
        torch_l2, jax_l2 = torch_wd.replace(rule="l2_loss"), jax_wd.replace(rule="l2_loss")
        out += versus_reference(torch_l2) + versus_reference(jax_l2)
        out.append(entry(Setup("torch", torch_l2), Setup("torch", torch_wd), False, l2_clipped))
        jax_before = jax_wd.replace(variant="decay_before_clip")
        out += versus_reference(jax_before)
        out.append(entry(Setup("jax", jax_before), Setup("jax", jax_l2), True, before))
    return out


# AdamW's rate on the transformer, as small transformers are trained: at 1e-2 float32 AdamW
# leaves the float32 tolerance (docs/check.md, "Models, problems, masks").
TRANSFORMER_LR = 1e-3


def _transformer(dtype: str) -> list[Entry]:
    """The transformer block under the two masks people use, and a port that forgot one."""
    hf = case_for("transformer", "adamw", "weight_decay", dtype, mask="hf", lr=TRANSFORMER_LR)
    out = versus_reference(hf) + versus_reference(hf.replace(mask="ndim2"))
    one_set = "every 1-D tensor here is a bias or a norm weight: both conventions pick one set"
    no_mask = "optax.adamw without a mask decays every leaf: biases and norm weights too"
    kernels = "hf decays the embeddings (2-D, not biases), a kernels-only mask does not"
    out += [
        torch_vs_jax(hf, hf, True, "one mask map for both"),
        entry(Setup("torch", hf.replace(mask="ndim2")), Setup("torch", hf), True, one_set),
        entry(Setup("jax", hf.replace(mask="")), Setup("torch", hf), False, no_mask),
        entry(Setup("torch", hf.replace(mask="kernels")), Setup("torch", hf), False, kernels),
    ]
    momentum = case_for("transformer", "momentum", "l2_loss", dtype, mask="hf")
    out += versus_reference(momentum)
    return [*out, torch_vs_jax(momentum, momentum, True, "one mask map")]


BN_MATCHED = (
    "torch's BatchNorm1d = Flax's nn.BatchNorm with momentum 1 − m and torch's unbiased "
    "running variance"
)


def _batch_norm(dtype: str) -> list[Entry]:
    """mlp_bn: torch = JAX = reference once the batch-norm conventions are matched, with and
    without decay on the norm's scale and bias; three port mistakes, each detected."""
    plain = case_for("mlp_bn", "sgd", "none", dtype)
    out = versus_reference(plain) + [torch_vs_jax(plain, plain, True, BN_MATCHED)]
    for optimizer in ("sgd", "adamw"):
        for mask, norm in (("", "decayed"), ("hf", "exempt")):
            torch_case = case_for("mlp_bn", optimizer, "weight_decay", dtype, mask=mask)
            jax_case = as_optax(torch_case)
            out += versus_reference(torch_case)
            if jax_case != torch_case:
                out += versus_reference(jax_case)
            reason = f"{BN_MATCHED}; the norm's scale and bias {norm} in both"
            out.append(torch_vs_jax(torch_case, jax_case, True, reason))
    # the study's setting (momentum, kernels only), at another running-average weight
    torch_case = case_for("mlp_bn", "momentum", "weight_decay", dtype, mask="kernels")
    torch_case = torch_case.replace(bn_momentum=0.3)
    jax_case = as_optax(torch_case)
    out += versus_reference(torch_case) + versus_reference(jax_case)
    out.append(torch_vs_jax(torch_case, jax_case, True, BN_MATCHED))
    torch_hf = case_for("mlp_bn", "sgd", "weight_decay", dtype, mask="hf")
    jax_hf = as_optax(torch_hf)
    mistakes = {
        jax_hf.replace(variant="bn_momentum_verbatim"): "nn.BatchNorm(momentum=0.1) keeps 0.1 "
        "of the running average and takes 0.9 of the batch: torch's momentum=0.1 is Flax's 0.9",
        jax_hf.replace(bn_running_var="biased"): "Flax's running_var averages the biased batch "
        "variance, torch's the unbiased one (×n/(n − 1))",
        jax_hf.replace(mask=""): "the norm's scale and bias decayed in JAX only (no mask there)",
    }
    for case, reason in mistakes.items():
        out += versus_reference(case) if case.mask else []
        out.append(entry(Setup("jax", case), Setup("torch", torch_hf), False, reason))
    return out
