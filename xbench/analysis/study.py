"""The study's claims as numbers and verdicts, from a study record and a bench run.

Each ``claim_*`` function measures one claim and decides its verdict by a stated rule (the
thresholds below); ``xbench.present.study_md`` words the rules for the page (``RULES``) and
the numbers around each verdict (``word_*``). Over 450 lines: eight claims, each with its
result type, rule and verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbench.records.bench_run import BenchRun
from xbench.records.study_run import MECHANISMS, StabilityCell, StudyRun
from xbench.workloads.cases import FRAMEWORKS

FIT = 0.99  # a model "fits the training set" at this training accuracy or more
UNDERFIT_DROP = 0.05  # "underfits": training accuracy this far below the unregularized model's
CONTRAST_DIFFERENT = 0.10  # ‖Δw‖/‖w‖ above this: "not the same model"
MATCHED_NORM = 0.05  # L1 pairs whose final kernel norms are this close are "matched"
SPARSE = 0.01  # a rule "makes exact zeros" when more than this fraction of weights are zero
ULPS = 1e-6  # ‖Δw‖/‖w‖ up to this: a few float32 roundings (float32 ε is 1.2e-7)
NOT_MEASURED = "not measured"


def by_key(items, key) -> dict:
    """``items`` grouped by ``key(item)``, in the order each key first appears."""
    groups: dict = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


class StudyIndex:
    """The study record, indexed: final metrics per (condition, framework) over seeds."""

    def __init__(self, run: StudyRun) -> None:
        self.run = run
        self.conditions = {c.name: c for c in run.conditions}
        self.seeds = list(run.settings.seeds)
        self.runs = {(r.condition, r.framework, r.seed): r for r in run.runs}

    def has(self, name: str) -> bool:
        return name in self.conditions

    def names(self, family: str) -> list[str]:
        return [n for n, c in self.conditions.items() if c.family == family]

    def final(self, name: str, metric: str, framework: str = "torch") -> np.ndarray:
        """The last epoch's ``metric``, one value per seed."""
        return np.array([self.runs[name, framework, s].final(metric) for s in self.seeds])

    def both(self, name: str, metric: str) -> np.ndarray:
        """(2, seeds): torch and JAX."""
        return np.stack([self.final(name, metric, f) for f in FRAMEWORKS])

    def curve(self, name: str, metric: str, framework: str = "torch") -> np.ndarray:
        """(seeds, epochs + 1)."""
        return np.array([self.runs[name, framework, s].history[metric] for s in self.seeds])

    def agreement(self, name: str) -> list:
        return [a for a in self.run.agreement if a.condition == name]

    def contrast(self, a: str, b: str) -> list:
        return [c for c in self.run.contrasts if c.a == a and c.b == b]

    def lam(self, name: str) -> float:
        return self.conditions[name].lam

    def label(self, name: str) -> str:
        return self.conditions[name].label


def tuned_l2(study: StudyIndex) -> str:
    """The L2 strength with the lowest mean validation loss (torch)."""
    return min(study.names("l2"), key=lambda n: (study.final(n, "val_loss").mean(), study.lam(n)))


def matched_l1(study: StudyIndex) -> list[tuple[str, str]]:
    """(subgradient, proximal) pairs of about the same strength: for each proximal λ, the
    subgradient λ whose final kernel norm is nearest, when within ``MATCHED_NORM``. With
    momentum μ the subgradient's push accumulates in the momentum buffer (up to 1/(1 − μ))
    and the proximal threshold η·λ does not, so equal λ is not equal strength."""
    pairs = []
    for prox in sorted(study.names("l1_prox"), key=study.lam):
        norm = study.final(prox, "weight_norm").mean()
        sub = min(study.names("l1"), key=lambda k: abs(study.final(k, "weight_norm").mean() - norm))
        if abs(study.final(sub, "weight_norm").mean() / norm - 1) < MATCHED_NORM:
            pairs.append((sub, prox))
    return pairs


# ---------------------------------------------------------------- claim 1: the gap


@dataclass(frozen=True)
class Gap:
    tuned: str  # the L2 condition with the lowest validation loss
    lowest_epoch: int  # where the unregularized validation loss (mean over seeds) is lowest
    lowest_loss: float
    rise: float  # from that lowest point to the last epoch, as a fraction
    loss_gap: dict[str, np.ndarray]  # condition -> (2, seeds): validation − training loss
    acc_gap: dict[str, np.ndarray]  # condition -> (2, seeds): training − validation accuracy
    loss_smaller: np.ndarray  # per seed: smaller in both frameworks, validation loss lower
    acc_smaller: np.ndarray  # per seed: smaller in both frameworks
    verdict: str


def claim_gap(study: StudyIndex) -> Gap:
    name = tuned_l2(study)
    pair = ("none", name)
    loss_gap = {k: study.both(k, "val_loss") - study.both(k, "train_loss") for k in pair}
    acc_gap = {k: study.both(k, "train_acc") - study.both(k, "val_acc") for k in pair}
    # a gap that shrinks only because training got worse is not less overfitting
    better = (study.both(name, "val_loss") < study.both("none", "val_loss")).all(axis=0)
    loss_smaller = (loss_gap[name] < loss_gap["none"]).all(axis=0) & better
    acc_smaller = (acc_gap[name] < acc_gap["none"]).all(axis=0)
    curve = study.curve("none", "val_loss").mean(axis=0)
    lowest = int(np.argmin(curve))
    if loss_smaller.all() and acc_smaller.all():
        verdict = "held"
    elif loss_smaller.all():
        verdict = (
            "depends on the measure: held for the loss gap, "
            "not for the accuracy gap (which did not shrink in every seed)"
        )
    elif acc_smaller.all():
        verdict = "depends on the measure: held for the accuracy gap, not for the loss gap"
    else:
        verdict = "did not hold"
    rise = float(curve[-1] / curve[lowest] - 1)
    return Gap(
        name, lowest, float(curve[lowest]), rise, loss_gap, acc_gap, loss_smaller, acc_smaller,
        verdict,
    )  # fmt: skip


# ---------------------------------------------------------------- claim 2: underfitting


@dataclass(frozen=True)
class Underfit:
    strongest: str  # the strongest L2 condition
    best_val: str  # the condition (L2 or none) with the best validation accuracy
    onset: str | None  # the weakest L2 whose training accuracy falls below FIT
    verdict: str


def claim_underfit(study: StudyIndex) -> Underfit:
    names = sorted(study.names("l2"), key=study.lam)
    strongest = names[-1]
    best_val = max(names + ["none"], key=lambda k: study.final(k, "val_acc").mean())
    dropped = (
        study.both(strongest, "train_acc") < study.both("none", "train_acc") - UNDERFIT_DROP
    ).all(axis=0)
    worse = (study.both(strongest, "val_acc") < study.both(best_val, "val_acc")).all(axis=0)
    onset = next((k for k in names if study.final(k, "train_acc").mean() < FIT), None)
    verdict = "held" if dropped.all() and worse.all() else "did not hold at the strongest λ tried"
    return Underfit(strongest, best_val, onset, verdict)


# ---------------------------------------------------------------- claim 3: sparsity


@dataclass(frozen=True)
class Sparsity:
    l2_zero: float  # the most exact zeros of any L2 condition, any seed and framework
    sub_zero: float  # the same for the L1 subgradient
    prox_zero: float  # the same for the proximal L1
    prox_name: str
    sub_small: str  # the subgradient condition with the most weights below ``small``
    tuned: str  # the tuned L2 condition, whose norm is compared with none's
    matched: list[tuple[str, str]]  # (subgradient, proximal) of about the same strength
    verdict: str


def claim_sparsity(study: StudyIndex) -> Sparsity:
    def zeros(family: str) -> tuple[float, str]:
        best = max(study.names(family), key=lambda k: study.both(k, "zero_frac").mean())
        return float(study.both(best, "zero_frac").max()), best

    l2_zero, _ = zeros("l2")
    sub_zero, _ = zeros("l1")
    prox_zero, prox_name = zeros("l1_prox")
    sub_small = max(study.names("l1"), key=lambda k: study.final(k, "small_frac").mean())
    prox_sparse, sub_sparse = prox_zero > SPARSE, sub_zero > SPARSE
    if l2_zero == 0 and prox_sparse and not sub_sparse:
        verdict = (
            "depends on how L1 is applied: the proximal step makes exact zeros; the subgradient "
            "makes weights small but not zero; L2 only shrinks"
        )
    elif l2_zero == 0 and prox_sparse and sub_sparse:
        verdict = "held, for both the subgradient and the proximal step"
    else:
        verdict = "did not hold"
    return Sparsity(
        l2_zero, sub_zero, prox_zero, prox_name, sub_small, tuned_l2(study), matched_l1(study),
        verdict,
    )  # fmt: skip


def has_sparsity_conditions(study: StudyIndex) -> bool:
    return bool(study.names("l1") and study.names("l1_prox"))


# ---------------------------------------------------------------- claim 4: step cost


BASE_RULE = {"torch": "weight_decay", "jax": "add_decayed_weights"}
COST_OPTIMIZERS = ("sgd", "momentum", "adam")  # where the optimizer's decay is L2 (coupled)
SLOWER, FASTER, SAME = "slower", "faster", "same"


@dataclass(frozen=True)
class CostCell:
    """One training step timed with l2_loss and with the optimizer's own decay."""

    model: str
    framework: str
    optimizer: str
    implementation: str
    params: int
    ratio: float  # l2_loss median / optimizer-decay median
    verdict: str  # SLOWER, FASTER or SAME (within the noise)


def cost_cells(run: BenchRun) -> list[CostCell]:
    """Training steps of the bench run: l2_loss over the optimizer's own decay, per cell."""
    steps = {
        (r.model, r.framework, r.optimizer, r.rule, r.implementation, r.params, r.tensors): r
        for r in run.results
        if r.kind == "train"
    }
    cells = []
    for (model, framework, optimizer, rule, impl, params, tensors), l2 in sorted(steps.items()):
        if rule != "l2_loss" or optimizer not in COST_OPTIMIZERS:
            continue
        base = steps.get((model, framework, optimizer, BASE_RULE[framework], impl, params, tensors))
        if base is None:
            continue
        ratio = l2.median / base.median
        noise = (l2.spread + base.spread) / 2
        verdict = SLOWER if ratio - 1 > noise else FASTER if 1 - ratio > noise else SAME
        cells.append(CostCell(model, framework, optimizer, impl, params, ratio, verdict))
    return cells


@dataclass(frozen=True)
class Cost:
    run: BenchRun | None
    cells: list[CostCell]
    verdicts: dict[str, str]  # framework -> held / did not hold / mixed
    verdict: str


def framework_cost_verdict(cells: list[CostCell]) -> str:
    """Held when more than half the steps are slower, not when fewer than a quarter are."""
    slower = sum(c.verdict == SLOWER for c in cells)
    if slower > len(cells) / 2:
        return "held"
    return "did not hold" if slower < len(cells) / 4 else "mixed"


def claim_cost(run: BenchRun | None) -> Cost:
    cells = cost_cells(run) if run is not None else []
    verdicts = {
        f: framework_cost_verdict(mine)
        for f in FRAMEWORKS
        if (mine := [c for c in cells if c.framework == f])
    }
    if not verdicts:
        verdict = NOT_MEASURED
    elif len(set(verdicts.values())) == 1:
        verdict = next(iter(verdicts.values()))
    else:
        verdict = "depends on the framework: " + ", ".join(
            f"{v} in {k}" for k, v in verdicts.items()
        )
    return Cost(run, cells, verdicts, verdict)


# ---------------------------------------------------------------- claim 5: Adam + L2 vs AdamW


@dataclass(frozen=True)
class AdamContrast:
    """Adam + L2 and AdamW at one λ, against each other and against plain Adam."""

    lam: float
    l2: str  # the Adam + L2 condition
    adamw: str  # the AdamW condition
    apart: np.ndarray  # ‖Δw‖/‖w‖ between them, per seed and framework
    from_adam: dict[str, float]  # condition -> median ‖Δw‖/‖w‖ from plain Adam
    different: bool
    adamw_closer: bool  # AdamW's median distance from plain Adam is the smaller


@dataclass(frozen=True)
class SameModel:
    contrasts: list[AdamContrast]
    verdict: str


def adam_lambdas(study: StudyIndex) -> list[float]:
    """The λ at which both Adam + L2 and AdamW ran."""
    return sorted(
        {study.lam(n) for n in study.names("adam_l2")}
        & {study.lam(n) for n in study.names("adamw")}
    )


def has_adam_conditions(study: StudyIndex) -> bool:
    return study.has("adam") and bool(adam_lambdas(study))


def claim_same_model(study: StudyIndex) -> SameModel:
    contrasts = []
    for lam in adam_lambdas(study):
        a, b = f"adam_l2-{lam:g}", f"adamw-{lam:g}"
        apart = np.array([c.rel_diff for c in study.contrast(a, b)])
        from_adam = {
            k: float(np.median([c.rel_diff for c in study.contrast("adam", k)])) for k in (a, b)
        }
        different = bool(apart.min() > CONTRAST_DIFFERENT)
        contrasts.append(
            AdamContrast(lam, a, b, apart, from_adam, different, from_adam[b] < from_adam[a])
        )
    if all(c.different for c in contrasts):
        verdict = "did not hold: at the same λ they train different models"
        if all(c.adamw_closer for c in contrasts):
            verdict += (
                "; AdamW stays closer to plain Adam than Adam + L2 does (its decay is η·λ·w "
                "per step, while L2 passes through Adam's normalisation)"
            )
    elif not any(c.different for c in contrasts):
        verdict = "held"
    else:
        verdict = "depends on λ"
    return SameModel(contrasts, verdict)


# ---------------------------------------------------------------- claim 6: float32 stability


STABLER = 2.0  # one mechanism's float32 error over the other's beyond this: "more stable"
KEPT = 0.5  # float32 moved the weights by at least this share of the decay's float64 effect
MORE, LESS, AS = "more stable", "less stable", "as stable"


@dataclass(frozen=True)
class StabilityPair:
    """One framework × optimizer: each mechanism's final float32 error (median over seeds)."""

    framework: str
    optimizer: str
    lam: float
    seeds: int
    steps: int
    decay: float  # the optimizer's own decay
    l2: float  # the penalty in the loss
    verdict: str  # weight_decay is MORE, LESS or AS stable as L2

    @property
    def ratio(self) -> float:
        """L2's error over weight_decay's."""
        return self.l2 / self.decay if self.decay else float("inf")


@dataclass(frozen=True)
class TinyDecay:
    """One cell with η·λ below float32's resolution near 1 (medians over seeds)."""

    framework: str
    optimizer: str
    mechanism: str
    rule: str
    lam: float
    lr: float
    error: float  # final ‖w32 − w64‖/‖w64‖
    effect: float  # the decay's own effect in float64, ‖w64 − w64(λ=0)‖/‖w64‖
    kept: float  # float32's effect over float64's: 0 when the decay is lost, 1 when kept

    @property
    def decoupled(self) -> bool:
        """AdamW's decay: w·(1 − ηλ) outside the gradient, not λw added to it."""
        return self.optimizer == "adamw"

    @property
    def lost(self) -> bool:
        return self.kept < KEPT


@dataclass(frozen=True)
class Stability:
    pairs: list[StabilityPair]
    tiny: list[TinyDecay]
    verdict: str


def _median(cells: list[StabilityCell], value) -> float:
    return float(np.median([value(c) for c in cells]))


def stability_pairs(cells: tuple[StabilityCell, ...]) -> list[StabilityPair]:
    """Each framework × optimizer measured with both mechanisms (not the tiny cells)."""
    pairs = []
    main = by_key([c for c in cells if not c.tiny], lambda c: (c.framework, c.optimizer))
    for (framework, optimizer), mine in main.items():
        by = by_key(mine, lambda c: c.mechanism)
        if not all(m in by for m in MECHANISMS):
            continue
        decay, l2 = (_median(by[m], lambda c: c.final) for m in MECHANISMS)
        verdict = MORE if l2 > STABLER * decay else LESS if decay > STABLER * l2 else AS
        first, seeds = by["weight_decay"][0], len({c.seed for c in mine})
        pairs.append(
            StabilityPair(framework, optimizer, first.lam, seeds, first.steps, decay, l2, verdict)
        )
    return pairs


def tiny_decays(cells: tuple[StabilityCell, ...]) -> list[TinyDecay]:
    """The tiny cells, one per framework × optimizer × mechanism, medians over seeds."""
    tiny = [c for c in cells if c.tiny and c.decay_effect]
    out = []
    for key, mine in by_key(tiny, lambda c: (c.framework, c.optimizer, c.mechanism)).items():
        final, effect = _median(mine, lambda c: c.final), _median(mine, lambda c: c.decay_effect)
        kept = _median(mine, lambda c: c.decay_effect_f32 / c.decay_effect)
        out.append(TinyDecay(*key, mine[0].rule, mine[0].lam, mine[0].lr, final, effect, kept))
    return out


def stability_verdict(pairs: list[StabilityPair], tiny: list[TinyDecay]) -> str:
    """Held when weight_decay is more stable in every framework × optimizer, did not hold
    when in none, else mixed; and which tiny decays float32 loses."""
    if not pairs:
        return NOT_MEASURED
    more = [p for p in pairs if p.verdict == MORE]
    if len(more) == len(pairs):
        verdict = "held"
    elif not more:
        verdict = "did not hold"
        if all(p.verdict == AS for p in pairs):
            verdict += ": as stable in every framework × optimizer"
        else:
            less = [f"{p.framework} {p.optimizer}" for p in pairs if p.verdict == LESS]
            verdict += f": L2 in the loss is more stable in {', '.join(less)}"
    else:
        verdict = "mixed: more stable in " + ", ".join(f"{p.framework} {p.optimizer}" for p in more)
    lost = [t for t in tiny if t.lost]
    if lost:
        names = ", ".join(f"{t.framework} {t.optimizer} {t.rule}" for t in lost)
        how = " (decoupled: w·(1 − ηλ) rounds to w)" if all(t.decoupled for t in lost) else ""
        coupled = [t for t in tiny if not t.decoupled]
        both = coupled and not any(t.lost for t in coupled)
        verdict += (
            f"; at η·λ below float32's resolution near 1, float32 loses the decay in {names}"
            f"{how}" + ("; the coupled decay and L2 in the loss are both kept" if both else "")
        )
    return verdict


def claim_stability(cells: tuple[StabilityCell, ...]) -> Stability:
    pairs, tiny = stability_pairs(cells), tiny_decays(cells)
    return Stability(pairs, tiny, stability_verdict(pairs, tiny))


# ---------------------------------------------------------------- batch norm


TARGET_VAL_LOSS = 0.25  # "reaches" this validation loss: the speed measure of batch norm
# Spread across seeds smaller by more than this factor: "steadier". A standard deviation from
# 5 seeds is known to about ±35%, so a ratio of two is within reach of noise below ~×2.
STEADIER = 2.0


@dataclass(frozen=True)
class BatchNormEffect:
    """Batch norm against the same model without it (SGD with momentum, no other regularizer)."""

    epochs: dict[str, np.ndarray]  # condition -> (2, seeds): first epoch at ≤ TARGET_VAL_LOSS
    spread: dict[str, np.ndarray]  # condition -> (2,): sd over seeds of val loss, epoch mean
    faster: np.ndarray  # per seed: fewer epochs in both frameworks
    steadier: bool | None  # spread smaller by more than STEADIER in both; None with one seed
    verdict: str


def epochs_to(study: StudyIndex, name: str, framework: str, target: float) -> np.ndarray:
    """Per seed, the first epoch whose validation loss is ≤ ``target`` (inf: never)."""
    reached = study.curve(name, "val_loss", framework) <= target
    return np.where(reached.any(axis=1), reached.argmax(axis=1), np.inf)


def has_batch_norm_conditions(study: StudyIndex) -> bool:
    return study.has("none") and study.has("bn")


def seed_spread(study: StudyIndex, name: str) -> np.ndarray:
    """(2,): per framework, the sd over seeds of the validation loss, averaged over epochs."""
    if len(study.seeds) < 2:
        return np.full(len(FRAMEWORKS), np.nan)
    return np.array(
        [study.curve(name, "val_loss", f).std(axis=0, ddof=1).mean() for f in FRAMEWORKS]
    )


def claim_batch_norm(study: StudyIndex) -> BatchNormEffect:
    pair = ("none", "bn")
    epochs = {
        k: np.stack([epochs_to(study, k, f, TARGET_VAL_LOSS) for f in FRAMEWORKS]) for k in pair
    }
    faster = (epochs["bn"] < epochs["none"]).all(axis=0)
    spread = {k: seed_spread(study, k) for k in pair}
    several = len(study.seeds) > 1
    steadier = bool((spread["bn"] * STEADIER < spread["none"]).all()) if several else None
    higher = study.final("bn", "val_loss").mean() > study.final("none", "val_loss").mean()
    if faster.all() and steadier:
        verdict = "held"
    elif faster.all() and steadier is None:
        verdict = "held for speed; stability needs two seeds or more"
    elif faster.all():
        change = spread["bn"][0] / spread["none"][0]
        verdict = (
            f"held for speed; stability not shown: the spread across seeds changed "
            f"×{change:.2f}, short of the ×{STEADIER:g} that {len(study.seeds)} seeds can resolve"
        )
    elif steadier:
        verdict = "held for stability, not for speed"
    else:
        verdict = "did not hold"
    if higher and verdict != "did not hold":
        verdict += "; it ends at a higher validation loss"
    return BatchNormEffect(epochs, spread, faster, steadier, verdict)


# ---------------------------------------------------------------- combining regularizers


SINGLE_FAMILIES = ("l2", "l1", "l1_prox", "dropout")  # one regularizer each, SGD with momentum


@dataclass(frozen=True)
class Combination:
    combined: str  # the dropout + L2 condition
    best_single: str  # the single regularizer with the lowest mean validation loss (torch)
    mismatch: str  # "" when the combination's λ and rate are this run's best single ones
    better: np.ndarray  # per seed: lower validation loss than best_single in both frameworks
    worse: np.ndarray  # per seed: higher in both frameworks
    verdict: str


def has_combination(study: StudyIndex) -> bool:
    return bool(study.names("dropout_l2")) and any(study.names(f) for f in SINGLE_FAMILIES)


def lowest_val_loss(study: StudyIndex, names: list[str]) -> str:
    return min(names, key=lambda n: (study.final(n, "val_loss").mean(), n))


def combination_mismatch(study: StudyIndex, combined: str) -> str:
    """What about the combination is not this run's best single strength ("" if nothing)."""
    info = study.conditions[combined]
    wrong = []
    if study.names("l2") and info.lam != study.lam(tuned_l2(study)):
        wrong.append(f"the best L2 alone is λ={study.lam(tuned_l2(study)):g}")
    if study.names("dropout"):
        best = study.conditions[lowest_val_loss(study, study.names("dropout"))].dropout
        if info.dropout != best:
            wrong.append(f"the best dropout alone is rate {best:g}")
    return "; ".join(wrong)


def claim_combination(study: StudyIndex) -> Combination:
    combined = study.names("dropout_l2")[0]
    singles = [n for f in SINGLE_FAMILIES for n in study.names(f)]
    best = lowest_val_loss(study, singles)
    mine, theirs = study.both(combined, "val_loss"), study.both(best, "val_loss")
    better, worse = (mine < theirs).all(axis=0), (mine > theirs).all(axis=0)
    if better.all():
        verdict = "held"
    elif worse.all():
        verdict = f"did not hold: higher validation loss than {study.label(best)} in every seed"
    else:
        verdict = "no clear difference: lower in some seeds, higher in others"
    mismatch = combination_mismatch(study, combined)
    if mismatch:
        verdict = f"not measured as stated ({mismatch}); at the strengths run: {verdict}"
    return Combination(combined, best, mismatch, better, worse, verdict)
