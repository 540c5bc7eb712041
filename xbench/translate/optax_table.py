"""An optax expression as a pair of Cases: its own, and the torch one that equals it."""

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
    integer,
    literal,
    number,
    source,
)
from xbench.workloads.cases import Case

# optax 0.2's signatures: positional order and defaults
OPTAX = {
    "sgd": (("learning_rate", "momentum", "nesterov", "accumulator_dtype"), {"momentum": None}),
    "adam": (
        ("learning_rate", "b1", "b2", "eps", "eps_root", "mu_dtype"),
        {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 0.0},
    ),
    "adamw": (
        ("learning_rate", "b1", "b2", "eps", "eps_root", "mu_dtype", "weight_decay", "mask"),
        {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 0.0, "weight_decay": 1e-4},
    ),
    "rmsprop": (
        ("learning_rate", "decay", "eps", "initial_scale", "eps_in_sqrt", "centered")
        + ("momentum", "nesterov", "bias_correction"),
        {"decay": 0.9, "eps": 1e-8, "initial_scale": 0.0, "momentum": None},
    ),
    "adagrad": (
        ("learning_rate", "initial_accumulator_value", "eps"),
        {"initial_accumulator_value": 0.1, "eps": 1e-7},
    ),
}
BOOL_DEFAULTS = {"nesterov": False, "eps_in_sqrt": True, "centered": False}
BOOL_DEFAULTS |= {"bias_correction": False}
SCHEDULES = {
    "linear_schedule": ("init_value", "end_value", "transition_steps", "transition_begin"),
    "cosine_decay_schedule": ("init_value", "decay_steps", "alpha", "exponent"),
    "warmup_cosine_decay_schedule": (
        "init_value", "peak_value", "warmup_steps", "decay_steps", "end_value", "exponent",
    ),
}  # fmt: skip
# optax names that exist but have no torch counterpart here: exit 1, not "unknown"
BUILDING_BLOCKS = (
    "scale_by_adam", "scale_by_rms", "scale_by_learning_rate", "scale", "trace", "masked",
    "amsgrad", "adamax", "lamb", "lion", "adafactor", "nadam", "radam", "sm3", "fromage",
    "inject_hyperparams", "clip", "adaptive_grad_clip", "noisy_sgd", "scale_by_schedule",
)  # fmt: skip
WHOLE = "write the optimizer whole: optax.sgd/adam/adamw/rmsprop/adagrad"


@dataclass
class Chain:
    """A flat optax chain, read in order: clip, decay, optimizer (each at most once)."""

    clip: float | None = None
    decay: float | None = None
    decay_mask: bool = False
    name: str | None = None  # the optimizer
    values: dict | None = None


def flatten_chain(call: ast.Call) -> list[ast.Call]:
    if dotted(call.func) != "optax.chain":
        return [call]
    if call.keywords:
        raise UsageError("optax.chain takes transformations only, no keywords")
    parts = []
    for arg in call.args:
        if not isinstance(arg, ast.Call) or dotted(arg.func) is None:
            raise UsageError(f"optax.chain: {source(arg)!r} is not an optax call")
        parts += flatten_chain(arg)
    return parts


def read_chain(call: ast.Call, settings: Settings) -> Chain:
    chain = Chain()
    for part in flatten_chain(call):
        name = dotted(part.func)
        short = name.removeprefix("optax.")
        if not name.startswith("optax."):
            raise UsageError(f"unknown transformation {name!r}: SPEC mixes optax and other names")
        if short == "clip_by_global_norm":
            _order("clip", chain)
            (node,) = bind(part, name, ("max_norm",), {"max_norm"}).values() or [None]
            if node is None:
                raise UsageError("optax.clip_by_global_norm needs max_norm")
            chain.clip = number(node, "optax.clip_by_global_norm max_norm")
        elif short == "add_decayed_weights":
            _order("decay", chain)
            args = bind(part, name, ("weight_decay", "mask"), {"weight_decay", "mask"})
            wd = args.get("weight_decay")
            chain.decay = number(wd, f"{name} weight_decay") if wd is not None else 0.0
            chain.decay_mask = _mask(args.get("mask"), settings, name)
        elif short in OPTAX:
            _order("optimizer", chain)
            chain.name, chain.values = short, read_optimizer(part, short, settings)
        elif short in BUILDING_BLOCKS:
            raise Untranslatable(f"optax.{short} has no torch.optim counterpart here", WHOLE)
        else:
            raise UsageError(
                f"unknown optax name {name!r}; valid: optax.sgd, adam, adamw, rmsprop, "
                "adagrad, chain, add_decayed_weights, clip_by_global_norm"
            )
    if chain.name is None:
        raise UsageError("SPEC has no optimizer (optax.sgd, adam, adamw, rmsprop or adagrad)")
    return chain


def _order(what: str, chain: Chain) -> None:
    """Untranslatable (or a UsageError) when a part comes where torch cannot put it."""
    if (what, True) in (("optimizer", bool(chain.name)), ("clip", chain.clip is not None),
                        ("decay", chain.decay is not None)):  # fmt: skip
        raise UsageError(f"optax.chain: two {what} transformations; torch has one of each")
    if chain.name and what == "decay":
        raise Untranslatable(
            "add_decayed_weights after the optimizer (after its learning-rate scaling) adds "
            "+λ·w to the update: the weights grow; torch has no such decay",
            "optax.chain(optax.add_decayed_weights(λ), optimizer), which is torch's "
            "weight_decay=λ (torch.optim.SGD(params, lr, weight_decay=λ))",
        )
    if chain.name and what == "clip":
        raise Untranslatable(
            "clip_by_global_norm after the optimizer clips the update, not the gradient",
            "optax.chain(optax.clip_by_global_norm(c), ...) first: torch's clip_grad_norm_",
        )
    if chain.decay is not None and what == "clip":
        raise Untranslatable(
            "add_decayed_weights before clip_by_global_norm clips λ·w with g: that is an L2 "
            "penalty in the loss, not an optimizer's weight_decay",
            "λ/2·‖w‖² added to the loss with clip_grad_norm_ (xbench's rule l2_loss), or "
            "the clip first: optax.chain(optax.clip_by_global_norm(c), "
            "optax.add_decayed_weights(λ), ...)",
        )


def _mask(node: ast.AST | None, settings: Settings, where: str) -> bool:
    """Whether a mask is given; a non-literal mask needs --mask to say its convention."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return False
    if not settings.mask:
        raise UsageError(
            f"{where}: mask={source(node)} is code, not read: say which parameters it "
            "decays with --mask hf, ndim2 or kernels"
        )
    return True


def read_optimizer(call: ast.Call, name: str, settings: Settings) -> dict:
    positional, defaults = OPTAX[name]
    known = set(positional) | ({"nesterov"} if name in ("adam", "adamw") else set())
    bound = bind(call, f"optax.{name}", positional, known)
    if "learning_rate" not in bound:
        raise UsageError(f"optax.{name} needs its learning_rate")
    values = dict(defaults) | {k: v for k, v in BOOL_DEFAULTS.items() if k in known}
    for key, node in bound.items():
        what = f"optax.{name} {key}"
        if key == "learning_rate":
            values[key] = learning_rate(node)
        elif key == "mask":
            values[key] = _mask(node, settings, f"optax.{name}")
        elif key in ("accumulator_dtype", "mu_dtype"):
            if literal(node, what) is not None:
                raise UsageError(f"{what}: only None (the parameters' dtype) is supported")
        elif key in BOOL_DEFAULTS:
            values[key] = boolean(node, what)
        elif key == "momentum" and literal(node, what) is None:
            values[key] = None
        else:
            values[key] = number(node, what)
    return values


def learning_rate(node: ast.AST) -> tuple:
    """(schedule, η, horizon, warmup): a number, or one of the three optax schedules that
    a torch scheduler equals (each decaying to 0)."""
    if not isinstance(node, ast.Call):
        return ("constant", number(node, "learning_rate"), None, 0)
    name = dotted(node.func) or source(node.func)
    short = name.removeprefix("optax.")
    if short not in SCHEDULES or not name.startswith("optax."):
        raise UsageError(
            f"learning_rate {name!r}: a number or optax.{', optax.'.join(SCHEDULES)} only"
        )
    args = bind(node, name, SCHEDULES[short], set(SCHEDULES[short]))

    def value(key, default=None):
        node = args.get(key)
        return default if node is None else number(node, f"{name} {key}")

    zero = "the same schedule decaying to 0 from step 0, as torch's schedulers here do"
    if short == "linear_schedule":
        if value("end_value") != 0 or value("transition_begin", 0) != 0:
            raise Untranslatable(f"{name}: only a linear decay to 0 from step 0 is mapped", zero)
        steps = integer(args.get("transition_steps"), f"{name} transition_steps")
        return ("linear", value("init_value"), steps, 0)
    if value("exponent", 1.0) != 1.0 or value("alpha", 0.0) or value("end_value", 0.0):
        raise Untranslatable(f"{name}: only a cosine to 0 with exponent 1 is mapped", zero)
    if short == "cosine_decay_schedule":
        steps = integer(args.get("decay_steps"), f"{name} decay_steps")
        return ("cosine", value("init_value"), steps, 0)
    if value("init_value") != 0:
        raise Untranslatable(f"{name}: only a warmup from 0 is mapped", zero)
    warmup = integer(args.get("warmup_steps"), f"{name} warmup_steps")
    steps = integer(args.get("decay_steps"), f"{name} decay_steps")
    return ("warmup_cosine", value("peak_value"), steps, warmup)


def from_optax(call: ast.Call, settings: Settings) -> tuple[Case, Case, list[str]]:
    """The optax Case SPEC describes, the torch Case equal to it, and the notes."""
    if settings.schedule != "constant" or settings.clip_norm is not None:
        raise UsageError(
            "--schedule and --clip-norm describe a torch setup; in optax they are part of the "
            "expression (a schedule as learning_rate, optax.clip_by_global_norm in a chain)"
        )
    jax_case = jax_case_of(read_chain(call, settings), settings)
    torch_case = jax_to_torch(jax_case)
    return torch_case, jax_case, notes_for(torch_case)


def jax_case_of(chain: Chain, settings: Settings) -> Case:
    """The optax Case: every hyper-parameter read, optax's default where not given."""
    v = chain.values
    schedule, lr, horizon, warmup = v["learning_rate"]
    if settings.mask and not (chain.decay_mask or v.get("mask", False)):
        raise UsageError(f"--mask {settings.mask}: the expression has no mask= to describe")
    if chain.decay is not None and v.get("weight_decay"):  # optax.adamw's own λ
        raise Untranslatable(
            "a coupled decay chained before optax.adamw, and adamw's own decoupled one: a "
            "torch optimizer has one weight_decay",
            "optax.adamw(..., weight_decay=λ) (torch AdamW), or optax.chain("
            "optax.add_decayed_weights(λ), optax.adam(...)) (torch Adam(weight_decay=λ))",
        )
    rule, lam = "none", 0.0
    if chain.decay:
        rule, lam = "add_decayed_weights", chain.decay
    elif v.get("weight_decay"):
        rule, lam = "weight_decay", v["weight_decay"]
    return Case(
        model="mlp_norm",
        lr=lr,
        rule=rule,
        weight_decay=lam,
        mask=settings.mask if lam else "",  # a mask on a zero decay decays nothing either way
        schedule=schedule,
        steps=horizon or settings.steps or DEFAULT_STEPS,
        warmup_steps=warmup,
        clip_norm=chain.clip,
        clip_eps=0.0 if chain.clip is not None else TORCH_CLIP_EPS,  # Case's default unclipped
        **_optimizer_fields(chain.name, v, schedule),
    )


def _optimizer_fields(name: str, v: dict, schedule: str) -> dict:
    if name == "sgd":
        mu = v["momentum"] or 0.0
        if v["nesterov"] and not mu:
            raise UsageError("optax.sgd: nesterov=True needs a momentum > 0")
        optimizer = "sgd" if not mu else ("nesterov" if v["nesterov"] else "momentum")
        return {"optimizer": optimizer} | ({"momentum": mu} if mu else {})
    if name in ("adam", "adamw"):
        if v["nesterov"]:
            raise Untranslatable(f"optax.{name}(nesterov=True) is NAdam", "nesterov=False")
        if v["eps_root"]:
            raise Untranslatable("torch Adam has no eps_root (ε inside the root)", "eps_root=0.0")
        return {"optimizer": name, "beta1": v["b1"], "beta2": v["b2"], "eps": v["eps"]}
    if name == "rmsprop":
        return _rmsprop_fields(v, schedule)
    return {
        "optimizer": "adagrad",
        "initial_accumulator": v["initial_accumulator_value"],
        "eps": v["eps"],
        "eps_in_sqrt": True,
    }


def _rmsprop_fields(v: dict, schedule: str) -> dict:
    torch_form = "optax.rmsprop(..., eps_in_sqrt=False, initial_scale=0.0, nesterov=False, "
    torch_form += "bias_correction=False), which is torch.optim.RMSprop(alpha=decay, eps=eps)"
    if v["eps_in_sqrt"]:
        raise Untranslatable(
            "optax.rmsprop puts ε inside the square root by default (eps_in_sqrt=True), "
            "torch.optim.RMSprop outside it",
            torch_form,
        )
    for key in ("initial_scale", "nesterov", "bias_correction"):
        if v[key]:
            raise Untranslatable(
                f"torch.optim.RMSprop has no {key}: optax's {key}={v[key]}", torch_form
            )
    mu = v["momentum"] or 0.0
    if mu and schedule != "constant":
        raise Untranslatable(RMSPROP_MOMENTUM, "a constant learning rate, or momentum=None")
    return {
        "optimizer": "rmsprop",
        "alpha": v["decay"],
        "eps": v["eps"],
        "momentum": mu,
        "centered": v["centered"],
    }


def jax_to_torch(case: Case) -> Case:
    """The torch Case equal to optax ``case``: the inverse of torch_table.torch_to_jax."""
    changes: dict = {}
    if case.clipped:
        changes["clip_eps"] = TORCH_CLIP_EPS
    if case.rule == "add_decayed_weights":
        changes["rule"] = "weight_decay"  # torch's coupled weight_decay
    if case.optimizer == "adagrad":
        changes["eps_in_sqrt"] = False  # approximately equal (a note says so)
    return case.replace(**changes)
