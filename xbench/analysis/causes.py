"""The known causes of a difference between two trajectories, for ``xbench explain``
(``xbench.analysis.explain``): each a *hypothesis*, one small function, ``Case`` (and
``Setting``) in, a list of ``Candidate`` float64 reference runs out; one that cannot apply to
a case (eps placement under SGD, or a change ``Case`` validation refuses) proposes nothing.
``HYPOTHESES`` lists them, simpler causes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xbench.errors import UsageError
from xbench.run.equivalence import Agreement, Tolerance, compare
from xbench.run.registry import load_adapter
from xbench.run.trajectory import Trajectory, record
from xbench.workloads.cases import MASKS, Case, decayed_names
from xbench.workloads.problems import Problem

COUPLED_RULES = ("weight_decay", "add_decayed_weights", "l2_loss")


# ---------------------------------------------------------------- reference runs


@dataclass(frozen=True)
class Trial:
    """One float64 reference run: a case, its decay started ``decay_delay`` steps late, and
    ``undecayed`` tensors taken out of the decay whatever the mask says."""

    case: Case
    decay_delay: int = 0
    undecayed: frozenset[str] = frozenset()


def reference_run(problem: Problem, trial: Trial) -> Trajectory:
    adapter = load_adapter("reference")(problem, trial.case, decay_delay=trial.decay_delay)
    if trial.undecayed:
        adapter.decayed = adapter.decayed - trial.undecayed
    return record(adapter, trial.case)


@dataclass
class Setting:
    """What a hypothesis may look at: the recorded problem and the side to reproduce."""

    problem: Problem
    target: Trajectory
    tolerance: Tolerance

    def run(self, trial: Trial) -> Trajectory:
        return reference_run(self.problem, trial)

    def agreement(self, trial: Trial) -> Agreement:
        return compare(self.target, self.run(trial), self.tolerance)


@dataclass(frozen=True)
class Candidate:
    """A hypothesis made concrete for one case: the run, and what it changed."""

    trial: Trial
    change: str  # "variant after_lr", "λ × 1.37"
    tensors: tuple[str, ...] = ()  # the tensors concerned (mask, no gradient)
    factor: float | None = None  # the estimated factor (λ or η scaled)


# ---------------------------------------------------------------- the hypotheses


def _toggle_variant(case: Case, variant: str, **changes) -> Case | None:
    """``case`` with ``variant`` set (or removed, if it has it); None over another variant."""
    if case.variant not in ("", variant):
        return None
    return case.replace(variant="" if case.variant == variant else variant, **changes)


def _one(case: Case | None, change: str) -> list[Candidate]:
    return [] if case is None else [Candidate(Trial(case), change)]


def coupling(case: Case, setting: Setting) -> list[Candidate]:
    """Coupled (g + λw, torch Adam/SGD weight_decay, add_decayed_weights, an L2 loss) vs
    decoupled (w·(1 − ηλ): AdamW, SGD variant decoupled) decay."""
    if case.decoupled:
        if case.optimizer == "adamw":
            return _one(case.replace(optimizer="adam"), "coupled decay (Adam weight_decay)")
        return _one(case.replace(variant=""), "coupled decay (weight_decay, no variant)")
    if case.rule not in COUPLED_RULES or case.variant not in ("", "decoupled"):
        return []
    if case.optimizer in ("adam", "adamw"):
        new = case.replace(optimizer="adamw", rule="weight_decay", variant="")
        return _one(new, "decoupled decay (AdamW)")
    if case.optimizer in ("sgd", "momentum", "nesterov"):
        new = case.replace(rule="weight_decay", variant="decoupled")
        return _one(new, "decoupled decay (variant decoupled)")
    return []


def missing_half(case: Case, setting: Setting) -> list[Candidate]:
    """λ vs 2λ: an L2 penalty written λ‖w‖² (variant no_half), or weight_decay doubled."""
    if case.rule == "l2_loss" and case.variant in ("", "no_half"):
        change = "variant no_half (λ‖w‖²)" if not case.variant else "the ½ restored (λ/2·‖w‖²)"
        return _one(_toggle_variant(case, "no_half"), change)
    if case.rule in COUPLED_RULES and case.weight_decay > 0:
        return _one(case.replace(weight_decay=2 * case.weight_decay), "λ × 2 (the ½ missing)")
    return []


def after_lr(case: Case, setting: Setting) -> list[Candidate]:
    """The decay added after the learning-rate scaling: −η·d + λ·w (variant after_lr)."""
    if case.rule == "add_decayed_weights":
        change = "decay after the learning rate" if not case.variant else "decay before η"
        return _one(_toggle_variant(case, "after_lr"), change + " (variant after_lr toggled)")
    if case.rule not in COUPLED_RULES or case.variant or case.weight_decay == 0:
        return []
    optimizer = "adam" if case.optimizer == "adamw" else case.optimizer
    new = case.replace(optimizer=optimizer, rule="add_decayed_weights", variant="after_lr")
    return _one(new, "add_decayed_weights after the learning rate (variant after_lr)")


def mask(case: Case, setting: Setting) -> list[Candidate]:
    """Another mask convention: one candidate per distinct set of decayed tensors."""
    if case.rule == "none" or case.weight_decay == 0:
        return []
    params = setting.problem.params
    own = decayed_names(params, case)
    by_set: dict[frozenset[str], list[str]] = {}
    for convention in MASKS:
        if convention != case.mask:
            other = decayed_names(params, case.replace(mask=convention))
            if other != own:
                by_set.setdefault(other, []).append(convention or "none")
    out = []
    for decayed, conventions in by_set.items():
        flipped = tuple(sorted(own ^ decayed))
        change = f"mask {' or '.join(conventions)} (decay on {', '.join(flipped)} toggled)"
        trial = Trial(case.replace(mask=conventions[0].replace("none", "")))
        out.append(Candidate(trial, change, flipped))
    return out


def no_gradient(case: Case, setting: Setting) -> list[Candidate]:
    """Decayed tensors whose gradient is identically zero (outside the forward pass) left
    undecayed: torch skips a parameter whose ``.grad`` is None, decay included."""
    if case.rule == "none" or case.weight_decay == 0:
        return []
    still = setting.run(Trial(case.replace(weight_decay=0.0)))  # no decay: only g moves w
    frozen = {
        n for n, v in still.params.items() if np.array_equal(v, np.broadcast_to(v[0], v.shape))
    }
    tensors = tuple(sorted(frozen & decayed_names(setting.problem.params, case)))
    if not tensors:
        return []
    change = f"no decay on {', '.join(tensors)} (no gradient)"
    return [Candidate(Trial(case, undecayed=frozenset(tensors)), change, tensors)]


def late_decay(case: Case, setting: Setting) -> list[Candidate]:
    """The decay started one step late (the reference's ``decay_delay=1``)."""
    if case.rule == "none" or case.weight_decay == 0:
        return []
    return [Candidate(Trial(case, decay_delay=1), "the decay from step 2 on")]


def eps_placement(case: Case, setting: Setting) -> list[Candidate]:
    """ε inside (1/√(v + ε), optax) or outside (1/(√v + ε), torch) the root: rmsprop,
    adagrad. Adam's placement is not a Case field: not tried."""
    if case.optimizer not in ("rmsprop", "adagrad"):
        return []
    where = "inside" if not case.eps_in_sqrt else "outside"
    return _one(case.replace(eps_in_sqrt=not case.eps_in_sqrt), f"ε {where} the square root")


def schedule_per_epoch(case: Case, setting: Setting) -> list[Candidate]:
    """A torch scheduler stepped once per epoch (variant schedule_per_epoch)."""
    if case.schedule == "constant":
        return []
    return _one(_toggle_variant(case, "schedule_per_epoch"), "variant schedule_per_epoch toggled")


def schedule_early(case: Case, setting: Setting) -> list[Candidate]:
    """``scheduler.step()`` before ``optimizer.step()`` (variant schedule_early)."""
    if case.schedule == "constant":
        return []
    return _one(_toggle_variant(case, "schedule_early"), "variant schedule_early toggled")


def clip_order(case: Case, setting: Setting) -> list[Candidate]:
    """Under clipping: the decay clipped with g (an L2 loss, add_decayed_weights before the
    clip) or added after the clip (torch weight_decay, add_decayed_weights after it)."""
    if not case.clipped or case.decoupled or case.weight_decay == 0:
        return []
    if case.rule == "add_decayed_weights" and case.variant in ("", "decay_before_clip"):
        return _one(_toggle_variant(case, "decay_before_clip"), "variant decay_before_clip toggled")
    if case.rule == "weight_decay" and not case.variant:
        new = case.replace(rule="add_decayed_weights", variant="decay_before_clip")
        return _one(new, "the decay clipped with g (an L2 loss, or decay before the clip)")
    if case.rule == "l2_loss" and not case.variant:
        return _one(case.replace(rule="weight_decay"), "the decay added after the clip")
    return []


# ---------------------------------------------------------------- a factor, estimated


def _residual(setting: Setting, make: Callable[[float], Case], f: float) -> np.ndarray | None:
    """(steps, n): the reference run at factor ``f`` minus the target, every parameter."""
    try:
        run = setting.run(Trial(make(f)))
    except UsageError:
        return None
    target = setting.target.params
    steps = len(run.loss)
    rows = [(run.params[n][1:] - target[n][1:]).reshape(steps, -1) for n in sorted(target)]
    r = np.concatenate(rows, axis=1)
    return r if np.isfinite(r).all() else None


def _gauss_newton(residual, f: float, rows: int | None, iterations: int) -> float:
    """Least squares in one unknown: Gauss-Newton steps with a finite-difference slope and
    step halving; only the first ``rows`` steps count when given (the first update)."""
    r = residual(f)
    for _ in range(iterations):
        r_h = residual(f * (1 + 1e-6))
        if r is None or r_h is None:
            return f
        slope = ((r_h - r) / (f * 1e-6))[:rows].ravel()
        now = r[:rows].ravel()
        if not slope @ slope:
            return f
        step, t = -(slope @ now) / (slope @ slope), 1.0
        while t > 1e-3:
            new_r = residual(f + t * step) if f + t * step > 0 else None
            if new_r is not None and np.linalg.norm(new_r[:rows]) < np.linalg.norm(now):
                break
            t /= 2
        else:
            return f
        f, r = f + t * step, new_r
        if abs(t * step) <= 1e-13 * f:
            break
    return f


def estimate_factor(setting: Setting, make: Callable[[float], Case]) -> float | None:
    """The factor k for which ``make(k)`` best reproduces the target: a first estimate from
    the first update, refined by Gauss-Newton on every step, then rounded to 2, 3 or 4
    significant digits when the rounded value reproduces the target too."""
    residual = lambda f: _residual(setting, make, f)  # noqa: E731
    starts = [1.0, _gauss_newton(residual, 1.0, rows=1, iterations=2)]
    norms = [np.linalg.norm(r) if (r := residual(s)) is not None else np.inf for s in starts]
    f = _gauss_newton(residual, starts[int(np.argmin(norms))], rows=None, iterations=8)
    if not np.isfinite(f) or f <= 0:
        return None
    for digits in (2, 3, 4):
        rounded = float(f"{f:.{digits}g}")
        if rounded > 0 and setting.agreement(Trial(make(rounded))).equal:
            return rounded
    return f


def _scaled(case: Case, setting: Setting, name: str, field: str) -> list[Candidate]:
    value = getattr(case, field)
    make = lambda k: case.replace(**{field: value * k})  # noqa: E731
    k = estimate_factor(setting, make)
    if k is None or abs(k - 1) < 1e-9:  # 1: the case itself, not a cause
        return []
    return [Candidate(Trial(make(k)), f"{name} × {k:.4g}", factor=k)]


def lambda_scale(case: Case, setting: Setting) -> list[Candidate]:
    """λ multiplied by a constant (estimated): λ given per batch, as a percentage, ×η..."""
    if case.rule == "none" or case.weight_decay == 0:
        return []
    return _scaled(case, setting, "λ", "weight_decay")


def lr_scale(case: Case, setting: Setting) -> list[Candidate]:
    """η multiplied by a constant (estimated): a scaled learning rate or schedule."""
    return _scaled(case, setting, "η", "lr")


# ---------------------------------------------------------------- the catalogue of causes


@dataclass(frozen=True)
class Hypothesis:
    key: str
    title: str
    fix: str
    propose: Callable[[Case, Setting], list[Candidate]]


HYPOTHESES = (  # simpler causes first: ties in the ranking keep this order
    Hypothesis("coupling", "coupled vs decoupled decay",
               "torch AdamW = optax.adamw (decoupled, η·λ·w); torch Adam(weight_decay=λ) = "
               "optax.chain(add_decayed_weights(λ), adam) (coupled, λ·w in the moments)",
               coupling),
    Hypothesis("missing_half", "λ vs 2λ (the missing ½)",
               "an L2 penalty is λ/2·‖w‖² (gradient λ·w, = weight_decay=λ): write "
               "0.5 * wd * sum(w**2), or halve λ where λ‖w‖² is used", missing_half),
    Hypothesis("after_lr", "decay after the learning rate",
               "optax: chain add_decayed_weights before the optimizer, not after "
               "scale_by_learning_rate", after_lr),
    Hypothesis("mask", "a mask difference",
               "decay the same tensors on both sides: build torch's param groups and the "
               "optax mask from one rule (xbench.workloads.cases.decayed_names)", mask),
    Hypothesis("no_gradient", "a parameter without a gradient",
               "torch skips a parameter whose .grad is None (no decay either); in optax "
               "mask it out of the decay, or use it in the forward pass", no_gradient),
    Hypothesis("late_decay", "decay one step late",
               "apply the decay from the first update (look for a warm-up or an "
               "`if step > 0` around it)", late_decay),
    Hypothesis("eps_placement", "ε placement",
               "torch puts ε outside the root, 1/(√v + ε): optax.rmsprop(eps_in_sqrt=False); "
               "optax.adagrad has ε inside only", eps_placement),
    Hypothesis("schedule_per_epoch", "a schedule stepped per epoch",
               "step the torch scheduler after every optimizer.step(), with its horizon in "
               "steps (optax counts updates)", schedule_per_epoch),
    Hypothesis("schedule_early", "a schedule one step early",
               "call scheduler.step() after optimizer.step(), not before", schedule_early),
    Hypothesis("clip_order", "clipping before or after the decay",
               "torch clip_grad_norm_ + weight_decay = chain(clip_by_global_norm, "
               "add_decayed_weights, opt); an L2 loss = chain(add_decayed_weights, clip, opt)",
               clip_order),
    Hypothesis("lambda_scale", "λ scaled by a constant",
               "pass the same λ on both sides (check per-batch or ×η scaling, percentages)",
               lambda_scale),
    Hypothesis("lr_scale", "η scaled by a constant",
               "pass the same learning rate on both sides (check batch-size scaling, "
               "schedules' peak values)", lr_scale),
)  # fmt: skip
