"""A torch optimizer call as a pair of Cases: its own, and the optax one that equals it."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from xbench.errors import UsageError
from xbench.translate.notes import notes_for
from xbench.translate.translation import (
    DEFAULT_STEPS,
    RMSPROP_MOMENTUM,
    TORCH_CLIP_EPS,
    Settings,
    Untranslatable,
    bind,
    boolean,
    dotted,
    literal,
    number,
)
from xbench.workloads.cases import Case, not_applicable_reason


@dataclass(frozen=True)
class TorchOptimizer:
    positional: tuple[str, ...]  # as torch's signature orders them, params first
    defaults: dict  # torch 2.13 defaults (tests/translate/test_translate.py reads them)


TORCH = {
    "SGD": TorchOptimizer(
        ("params", "lr", "momentum", "dampening", "weight_decay", "nesterov"),
        {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    ),
    "Adam": TorchOptimizer(
        ("params", "lr", "betas", "eps", "weight_decay", "amsgrad"),
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
        | {"decoupled_weight_decay": False},
    ),
    "AdamW": TorchOptimizer(
        ("params", "lr", "betas", "eps", "weight_decay", "amsgrad"),
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False},
    ),
    "RMSprop": TorchOptimizer(
        ("params", "lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
        {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0}
        | {"centered": False},
    ),
    "Adagrad": TorchOptimizer(
        ("params", "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
        {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0}
        | {"eps": 1e-10},
    ),
}
# Keywords that choose torch's implementation, not the maths: accepted and dropped (a note).
IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")


def torch_name(name: str) -> str | None:
    """``AdamW`` for ``torch.optim.AdamW``, ``optim.AdamW`` or ``AdamW``; None otherwise."""
    for prefix in ("torch.optim.", "optim.", ""):
        if name.startswith(prefix) and name[len(prefix) :] in TORCH:
            return name[len(prefix) :]
    return None


def read_values(call: ast.Call, name: str) -> tuple[dict, list[str]]:
    """Every hyper-parameter, torch's default where not given; the dropped keywords."""
    opt = TORCH[name]
    known = {*opt.positional, *opt.defaults, *IMPLEMENTATION, "maximize"}
    bound = bind(call, f"torch.optim.{name}", opt.positional, known)
    params = bound.pop("params", None)
    if params is None:
        raise UsageError(f"torch.optim.{name} needs its parameters first, e.g. {name}(params, ...)")
    if isinstance(params, (ast.List, ast.Dict)):
        raise UsageError(
            f"torch.optim.{name}: give the parameters as one name (params) and the groups' "
            "convention with --mask (hf, ndim2, kernels)"
        )
    values, dropped = opt.defaults | {"maximize": False}, []
    for key, node in bound.items():
        what = f"torch.optim.{name} {key}"
        if key in IMPLEMENTATION:
            literal(node, what)  # a literal all the same
            dropped.append(key)
        elif isinstance(values.get(key), bool):  # torch's default is a bool
            values[key] = boolean(node, what)
        elif key == "betas":
            betas = literal(node, what)
            if not isinstance(betas, tuple) or len(betas) != 2:
                raise UsageError(f"{what} must be a tuple of two numbers, not {betas!r}")
            values[key] = tuple(number(ast.Constant(b), what) for b in betas)
        else:
            values[key] = number(node, what)
    return values, dropped


def from_torch(call: ast.Call, settings: Settings) -> tuple[Case, Case, list[str]]:
    """The torch Case SPEC describes, the optax Case equal to it, and the notes."""
    name = torch_name(dotted(call.func))
    values, dropped = read_values(call, name)
    torch_case = torch_case_of(name, values, settings)
    notes = notes_for(torch_case)
    if name == "Adam" and values["decoupled_weight_decay"] and torch_case.rule != "none":
        notes.insert(0, "torch Adam(decoupled_weight_decay=True) is AdamW (torch 2.13's AdamW is")
        notes[0] += " that Adam): translated as torch.optim.AdamW"
    if dropped:
        notes.append(
            f"{', '.join(dropped)}: torch's implementation choice, not the maths: not translated"
        )
    return torch_case, torch_to_jax(torch_case), notes


def torch_case_of(name: str, v: dict, settings: Settings) -> Case:
    """The torch Case: optimizer, rule (weight_decay when λ > 0), scheduler, clip, groups."""
    if v.get("amsgrad"):
        raise Untranslatable(
            "amsgrad=True keeps the running maximum of v: xbench has no such case and "
            "optax.adam/adamw have no amsgrad flag",
            f"torch.optim.{name}(params, ..., amsgrad=False)",
        )
    if v["maximize"]:
        raise Untranslatable(
            "maximize=True ascends the loss; optax's optimizers have no such flag",
            "maximize=False on the negated objective",
        )
    lam = v["weight_decay"]
    if settings.mask and not lam:
        raise UsageError(f"--mask {settings.mask}: torch.optim.{name} here has no weight decay")
    case = Case(
        model="mlp_norm",
        lr=v["lr"],
        rule="weight_decay" if lam else "none",
        weight_decay=lam,
        mask=settings.mask,
        steps=settings.steps or DEFAULT_STEPS,
        schedule=settings.schedule,
        warmup_steps=settings.warmup_steps,
        clip_norm=settings.clip_norm,
        clip_eps=TORCH_CLIP_EPS,
        **_optimizer_fields(name, v),
    )
    _refuse_without_counterpart(case)
    return case


def _optimizer_fields(name: str, v: dict) -> dict:
    if name == "SGD":
        mu, tau = v["momentum"], v["dampening"]
        if v["nesterov"] and (mu <= 0 or tau != 0):
            raise UsageError("torch.optim.SGD: nesterov=True needs momentum > 0 and dampening 0")
        if mu == 0:  # torch ignores dampening without momentum
            return {"optimizer": "sgd"}
        optimizer = "nesterov" if v["nesterov"] else "momentum"
        return {"optimizer": optimizer, "momentum": mu, "dampening": tau}
    if name in ("Adam", "AdamW"):
        decoupled = name == "AdamW" or v["decoupled_weight_decay"]
        b1, b2 = v["betas"]
        return {"optimizer": "adamw" if decoupled else "adam", "beta1": b1, "beta2": b2}
    if name == "RMSprop":
        keys = ("alpha", "eps", "momentum", "centered")
        return {"optimizer": "rmsprop", **{k: v[k] for k in keys}}
    return {
        "optimizer": "adagrad",
        "eps": v["eps"],
        "initial_accumulator": v["initial_accumulator_value"],
        "lr_decay": v["lr_decay"],
    }


def _refuse_without_counterpart(case: Case) -> None:
    """Untranslatable: dampening, Adagrad's lr_decay, RMSprop momentum under a schedule."""
    reason = not_applicable_reason("jax", torch_to_jax(case))  # dampening and lr_decay kept
    if reason and (case.dampening or case.lr_decay):
        nearest = (
            f"optax.sgd(learning_rate={case.lr:g}, momentum={case.momentum:g}) is torch's "
            "dampening=0 (undampened: it differs from step 2)"
            if case.dampening
            else "lr_decay=0 with a scheduler (--schedule linear, cosine or warmup_cosine), "
            "which optax has as a schedule"
        )
        raise Untranslatable(reason.split("; use --")[0], nearest)  # less xbench trace's flags
    if case.optimizer == "rmsprop" and case.momentum and case.schedule != "constant":
        raise Untranslatable(RMSPROP_MOMENTUM, "a constant learning rate, or momentum=0")


def torch_to_jax(case: Case) -> Case:
    """The optax Case equal to torch ``case`` (docs/rules.md, 'Equal, by the formulas')."""
    changes: dict = {}
    if case.clipped:
        changes["clip_eps"] = 0.0  # clip_by_global_norm has no ε
    if case.rule == "weight_decay" and case.optimizer != "adamw":
        changes["rule"] = "add_decayed_weights"  # coupled g + λw before the optimizer
    if case.optimizer == "adagrad":
        changes["eps_in_sqrt"] = True  # optax.adagrad's only form: approximately equal
    return case.replace(**changes)
