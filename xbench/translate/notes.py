"""The conventions a translation had to match, one line each (docs/rules.md has the formulas):
the same whichever way it goes, as they depend on the torch Case only."""

from __future__ import annotations

from xbench.workloads.cases import MASKS, Case

TORCH_NAME = {
    "sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adam": "Adam", "adamw": "AdamW",
    "rmsprop": "RMSprop", "adagrad": "Adagrad",
}  # fmt: skip


def notes_for(t: Case) -> list[str]:
    """Why the optax expression is written as it is, and where it is only approximate."""
    return _decay(t) + _optimizer(t) + _mask(t) + _schedule(t) + _clip(t)


def _decay(t: Case) -> list[str]:
    lam, name = t.weight_decay, TORCH_NAME[t.optimizer]
    if t.optimizer == "adamw":
        return [
            f"torch AdamW's weight_decay (default 1e-2) is optax.adamw's weight_decay={lam:g}, "
            "given explicitly: optax.adamw's default is 1e-4; both decay w by η·λ·w "
            "outside the moments, from w before the step"
        ]
    if t.rule != "weight_decay":
        return [f"no weight decay: torch {name} weight_decay=0, no decay in the optax chain"]
    out = [
        f"torch {name}'s weight_decay is coupled, g + λ·w before the optimizer: "
        f"optax.chain(optax.add_decayed_weights({lam:g}), ...) with the decay BEFORE the "
        "optimizer (after it, i.e. after the learning rate, it grows the weights)"
    ]
    if t.optimizer == "adam":
        out.append(
            "this is Adam + L2 (λ·w passes through the moments), not AdamW: for decoupled "
            "decay use torch.optim.AdamW / optax.adamw"
        )
    return out


def _optimizer(t: Case) -> list[str]:
    o = t.optimizer
    if o in ("momentum", "nesterov"):
        return [
            "optax.sgd's momentum is a trace b ← μ·b + g, torch's buffer with dampening=0"
            + ("; nesterov=True in both" if o == "nesterov" else "")
        ]
    if o in ("adam", "adamw"):
        return ["ε outside the square root in both; optax's eps_root=0.0 (torch has none)"]
    if o == "rmsprop":
        return [
            "optax.rmsprop's defaults are not torch's (decay 0.9, ε inside the root): "
            f"decay={t.alpha:g} (torch's alpha), eps_in_sqrt=False, initial_scale=0.0, "
            "bias_correction=False, momentum=None when torch's momentum is 0"
        ]
    if o == "adagrad":
        return [
            "APPROXIMATE: optax.adagrad always divides by √(s + ε) (ε inside the root), torch "
            "by √s + ε; no option moves it. initial_accumulator_value and eps are set to "
            f"torch's ({t.initial_accumulator:g}, {t.eps:g}; optax's defaults are 0.1 and "
            "1e-7). With s₀ = 0 an element whose Σg² is near ε moves very differently; with "
            "s₀ = 0.1, ε = 1e-7 the two differ by ≤ 2e-7 relative (equal in float32, not in "
            "float64)"
        ]
    return []


def _mask(t: Case) -> list[str]:
    if t.rule == "none":
        return []
    if not t.mask:
        return [
            "no mask: every parameter is decayed, biases and norm weights too (torch's one "
            "group; optax without mask=)"
        ]
    return [
        f"mask {t.mask}: {MASKS[t.mask]}; torch's two param groups (weight_decay λ and 0) and "
        "optax's mask= (True where decayed) pick the same parameters"
    ]


def _schedule(t: Case) -> list[str]:
    if t.schedule == "constant":
        return []
    out = [
        f"{t.schedule} over {t.steps} steps: torch's scheduler stepped once after each "
        "optimizer.step() gives the update at step t the same η_t as optax's count (from 0)"
    ]
    if t.schedule in ("linear", "warmup_cosine"):
        out.append(
            f"APPROXIMATE in float64: optax computes its {t.schedule} schedule in float32 even "
            "under jax_enable_x64 (~1e-7 relative in η_t); equal in float32"
        )
    return out


def _clip(t: Case) -> list[str]:
    if not t.clipped:
        return []
    return [
        f"clip {t.clip_norm:g}: torch's clip_grad_norm_ after backward() and before step() is "
        "optax.clip_by_global_norm first in the chain, so the decay is added after the clip in "
        "both",
        "APPROXIMATE: torch divides by ‖g‖ + 1e-6, optax by ‖g‖: equal to ~1e-6 relative "
        "while clipping acts, not bit for bit (equal in float32, not in float64)",
    ]
