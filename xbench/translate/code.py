"""The code ``xbench translate`` prints: the optax expression that
``xbench_adapters.jax_adapter.make_transform`` builds for a Case, or the torch constructor
call that ``torch_adapter.make_optimizer`` builds, each with every hyper-parameter explicit."""

from __future__ import annotations

from dataclasses import dataclass

from xbench.translate.notes import TORCH_NAME
from xbench.workloads.cases import Case

WIDTH = 100


@dataclass(frozen=True)
class Code:
    setup: tuple[str, ...]  # statements the expression needs (a mask), in order
    expression: str  # the optimizer: one Python expression
    after: tuple[str, ...] = ()  # comment lines: a torch scheduler, clipping


def num(x: float) -> str:
    """The shortest text that reads back as ``x``: 0.0003, 1e-08 → 1e-8."""
    text = repr(float(x))
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa.removesuffix('.0')}e{int(exponent)}"
    return text


def call(name: str, args: list[str], depth: int = 0) -> str:
    """``name(a, b)`` on one line when it fits at ``depth`` levels of indentation, else one
    argument per line (a nested call's lines indented with it)."""
    one = f"{name}({', '.join(args)})"
    if 4 * depth + len(one) <= WIDTH and "\n" not in one:
        return one
    lines = ["    " + a.replace("\n", "\n    ") + "," for a in args]
    return f"{name}(\n" + "\n".join(lines) + "\n)"


# ----------------------------------------------------------------------------- optax

OPTAX_MASKS = {
    "kernels": "mask = lambda params: jax.tree_util.tree_map_with_path("
    'lambda path, p: path[-1].key == "kernel", params)',
    "hf": "mask = lambda params: jax.tree_util.tree_map_with_path("
    'lambda path, p: path[-1].key not in ("bias", "scale"), params)',
    "ndim2": "mask = lambda params: jax.tree_util.tree_map(lambda p: p.ndim >= 2, params)",
}


def optax_learning_rate(case: Case, depth: int) -> str:
    lr, steps = num(case.lr), case.steps
    if case.schedule == "linear":
        return f"optax.linear_schedule(init_value={lr}, end_value=0.0, transition_steps={steps})"
    if case.schedule == "cosine":
        return f"optax.cosine_decay_schedule(init_value={lr}, decay_steps={steps}, alpha=0.0)"
    if case.schedule == "warmup_cosine":
        return call(
            "optax.warmup_cosine_decay_schedule",
            ["init_value=0.0", f"peak_value={lr}", f"warmup_steps={case.warmup_steps}"]
            + [f"decay_steps={steps}", "end_value=0.0"],
            depth,
        )
    return lr


def optax_optimizer(case: Case, depth: int) -> tuple[str, list[str]]:
    """``base_optimizer``'s call: its name and arguments."""
    lr = f"learning_rate={optax_learning_rate(case, depth + 1)}"
    o = case.optimizer
    if o in ("adam", "adamw"):
        args = [lr, f"b1={num(case.beta1)}", f"b2={num(case.beta2)}", f"eps={num(case.eps)}"]
        args.append("eps_root=0.0")
        if o == "adamw":
            lam = case.weight_decay if case.rule == "weight_decay" else 0.0
            args.append(f"weight_decay={num(lam)}")
            args += ["mask=mask"] if case.mask and lam else []
        return f"optax.{o}", args
    if o == "rmsprop":
        momentum = num(case.momentum) if case.momentum else "None"
        return "optax.rmsprop", [
            lr, f"decay={num(case.alpha)}", f"eps={num(case.eps)}", "initial_scale=0.0",
            "eps_in_sqrt=False", f"centered={case.centered}", f"momentum={momentum}",
            "nesterov=False", "bias_correction=False",
        ]  # fmt: skip
    if o == "adagrad":
        args = [lr, f"initial_accumulator_value={num(case.initial_accumulator)}"]
        return "optax.adagrad", args + [f"eps={num(case.eps)}"]
    momentum = "None" if o == "sgd" else num(case.momentum)
    return "optax.sgd", [lr, f"momentum={momentum}", f"nesterov={o == 'nesterov'}"]


def optax_code(case: Case) -> Code:
    """``make_transform(case, mask)`` as text (rules none, weight_decay, add_decayed_weights)."""
    parts = []
    if case.clipped:
        parts.append(f"optax.clip_by_global_norm(max_norm={num(case.clip_norm)})")
    if case.rule == "add_decayed_weights":
        mask = ", mask=mask" if case.mask else ""
        parts.append(f"optax.add_decayed_weights(weight_decay={num(case.weight_decay)}{mask})")
    depth = 1 if parts else 0
    name, args = optax_optimizer(case, depth)
    parts.append(call(name, args, depth))
    setup = (OPTAX_MASKS[case.mask],) if case.mask and case.rule != "none" else ()
    return Code(setup, parts[0] if len(parts) == 1 else call("optax.chain", parts))


# ----------------------------------------------------------------------------- torch

TORCH_MASKS = {
    "kernels": "decayed = lambda module, name, p: name == 'weight' and isinstance("
    "module, (torch.nn.Linear, torch.nn.modules.conv._ConvNd))",
    "hf": "decayed = lambda module, name, p: name != 'bias' and not isinstance(module, ("
    "torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.RMSNorm, "
    "torch.nn.modules.batchnorm._NormBase))",
    "ndim2": "decayed = lambda module, name, p: p.ndim >= 2",
}
GROUPS = (
    "groups = lambda model, decay: [{'params': [p for m in model.modules() for n, p in "
    "m.named_parameters(recurse=False) if decayed(m, n, p) == d], 'weight_decay': decay if d "
    "else 0.0} for d in (True, False)]"
)


def torch_optimizer(case: Case) -> tuple[str, list[str]]:
    """``make_optimizer``'s call, after ``params`` (or the groups): name and keywords."""
    lr, lam = f"lr={num(case.lr)}", f"weight_decay={num(case.weight_decay)}"
    o = case.optimizer
    if o in ("sgd", "momentum", "nesterov"):
        momentum = "0.0" if o == "sgd" else num(case.momentum)
        args = [lr, f"momentum={momentum}", f"dampening={num(case.dampening)}", lam]
        return "SGD", args + [f"nesterov={o == 'nesterov'}"]
    if o in ("adam", "adamw"):
        betas = f"betas=({num(case.beta1)}, {num(case.beta2)})"
        return TORCH_NAME[o], [lr, betas, f"eps={num(case.eps)}", lam, "amsgrad=False"]
    if o == "rmsprop":
        return "RMSprop", [
            lr, f"alpha={num(case.alpha)}", f"eps={num(case.eps)}", lam,
            f"momentum={num(case.momentum)}", f"centered={case.centered}",
        ]  # fmt: skip
    return "Adagrad", [
        lr, f"lr_decay={num(case.lr_decay)}", lam,
        f"initial_accumulator_value={num(case.initial_accumulator)}", f"eps={num(case.eps)}",
    ]  # fmt: skip


def torch_scheduler(case: Case) -> str | None:
    t, w = case.steps, case.warmup_steps
    if case.schedule == "linear":
        return (
            "torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, "
            f"total_iters={t})"
        )
    if case.schedule == "cosine":
        return f"torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={t}, eta_min=0.0)"
    if case.schedule == "warmup_cosine":
        return (
            f"torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: t / {w} if t < {w} else "
            f"0.5 * (1 + math.cos(math.pi * (t - {w}) / {t - w})))"
        )
    return None


def torch_code(case: Case) -> Code:
    """The constructor call; a mask as two param groups (``groups(model, λ)``)."""
    name, args = torch_optimizer(case)
    first, setup, after = "params", (), []
    if case.mask and case.rule != "none":
        args = [a for a in args if not a.startswith("weight_decay=")]
        first = f"groups(model, {num(case.weight_decay)})"
        setup = (TORCH_MASKS[case.mask], GROUPS)
    if scheduler := torch_scheduler(case):
        after += [f"# scheduler = {scheduler}", "# scheduler.step() after each optimizer.step()"]
    if case.clipped:
        after.append(
            f"# torch.nn.utils.clip_grad_norm_(params, max_norm={num(case.clip_norm)}) after "
            "loss.backward(), before optimizer.step()"
        )
    return Code(setup, call(f"torch.optim.{name}", [first, *args]), tuple(after))
