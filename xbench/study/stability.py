"""Numerical stability: is the optimizer's own ``weight_decay`` more stable in float32 than an
L2 penalty in the loss? The design is docs/study.md's ("Numerical stability").

Per framework, SGD with momentum and Adam at λ = ``LAM``, once with the optimizer's own decay
and once with ``l2_loss``, in float32 against the float64 reference from the same
float32-rounded start (the float32 Problem cast to float64, as ``xbench check`` does): the
error ‖w32 − w64‖/‖w64‖ every ``CHECK_EVERY`` steps and at the end. The tiny cells take
η·λ = ``TINY_ETA_LAM``, below float32's resolution near 1; every cell also records the decay's
own effect, in float64 and in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xbench.records.study_run import MECHANISMS, StabilityCell
from xbench.run.registry import load_adapter
from xbench.study.conditions import (
    ADAM_STRENGTHS,
    IMPLEMENTATION,
    L2_STRENGTHS,
    MODEL,
    STUDY_LR,
    StudyProfile,
    study_case,
)
from xbench.study.data import Digits, batches_per_epoch, make_problem
from xbench.workloads.cases import FRAMEWORKS, Case
from xbench.workloads.catalogue import TINY_DECAY, TINY_LR
from xbench.workloads.problems import Problem

LAM = 1e-3  # a λ both the SGD and the Adam conditions run (the published study's best L2)
assert LAM in L2_STRENGTHS and LAM in ADAM_STRENGTHS
OPTIMIZERS = ("momentum", "adam")
TINY_ETA_LAM = TINY_LR * TINY_DECAY  # 1e-8: 1 − ηλ rounds to 1.0 in float32
EPOCHS = {"full": 50, "quick": 25}  # 400 and 200 steps; a custom profile: at most 50 epochs
MAX_SEEDS = 3  # the profile's first seeds, at most this many
CHECK_EVERY = 50  # steps between checkpoints


@dataclass(frozen=True)
class Spec:
    """One cell to run in one framework, from any seed."""

    framework: str
    optimizer: str
    mechanism: str
    lam: float
    lr: float
    tiny: bool = False

    @property
    def rule(self) -> str:
        """optax.sgd and optax.adam have no weight_decay: their coupled decay is
        add_decayed_weights; AdamW's decoupled decay is weight_decay in both."""
        if self.mechanism == "l2_loss":
            return "l2_loss"
        coupled = self.framework == "jax" and self.optimizer != "adamw"
        return "add_decayed_weights" if coupled else "weight_decay"

    def case(self, seed: int, steps: int) -> Case:
        return study_case(
            self.framework, str(self), model=MODEL, optimizer=self.optimizer, rule=self.rule,
            lr=self.lr, weight_decay=self.lam, steps=steps, seed=seed,
        )  # fmt: skip


def specs(framework: str) -> tuple[Spec, ...]:
    """The cells of one framework: each optimizer × mechanism at LAM, then the tiny ones."""
    main = tuple(Spec(framework, o, m, LAM, STUDY_LR[o]) for o in OPTIMIZERS for m in MECHANISMS)
    tiny = (Spec(framework, "adamw", "weight_decay", TINY_DECAY, TINY_LR, tiny=True),) + tuple(
        Spec(framework, o, m, TINY_ETA_LAM / STUDY_LR[o], STUDY_LR[o], tiny=True)
        for o in OPTIMIZERS
        for m in MECHANISMS
    )
    return main + tiny


def groups() -> list[tuple[str, tuple[Spec, ...]]]:
    """The cells of one seed as progress items: per framework, each optimizer at LAM, then
    the tiny cells."""
    out = []
    for framework in FRAMEWORKS:
        mine = specs(framework)
        for optimizer in OPTIMIZERS:
            what = f"{framework} {optimizer} λ={LAM:g}"
            out.append((what, tuple(s for s in mine if not s.tiny and s.optimizer == optimizer)))
        out.append((f"{framework} tiny ηλ={TINY_ETA_LAM:g}", tuple(s for s in mine if s.tiny)))
    return out


def plan(profile: StudyProfile) -> tuple[tuple[int, ...], int]:
    """The seeds and the number of steps the experiment runs for ``profile``."""
    epochs = min(profile.epochs, EPOCHS.get(profile.name, EPOCHS["full"]))
    return profile.seeds[:MAX_SEEDS], epochs * batches_per_epoch()


def count(profile: StudyProfile) -> int:
    """Progress items: one per seed and group."""
    return len(plan(profile)[0]) * len(groups())


def checkpoints(steps: int) -> tuple[int, ...]:
    """Every CHECK_EVERY steps, and the last step."""
    return tuple(sorted({*range(CHECK_EVERY, steps + 1, CHECK_EVERY), steps}))


def flat(params: dict[str, np.ndarray]) -> np.ndarray:
    """Every parameter, in name order, as one float64 vector."""
    return np.concatenate([np.asarray(params[n], np.float64).ravel() for n in sorted(params)])


def relative_error(params: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    """‖w − w_ref‖/‖w_ref‖ over every parameter."""
    w, ref = flat(params), flat(reference)
    return float(np.linalg.norm(w - ref) / max(np.linalg.norm(ref), 1e-300))


class Runs:
    """Each (runner, case) of one seed trained once, its parameters kept at the checkpoints:
    float32 in a framework, or float64 in the reference from the same rounded start."""

    def __init__(self, problem: Problem, steps: int) -> None:
        self.problem, self.steps = problem, steps
        self.wide = problem.as_dtype(np.float64)
        self.at = checkpoints(steps)
        self._done: dict[tuple[str, Case], list[dict[str, np.ndarray]]] = {}

    def get(self, runner: str, case: Case) -> list[dict[str, np.ndarray]]:
        """The parameters after each checkpoint step."""
        if runner == "reference":
            case = case.replace(dtype="float64")
        key = (runner, case)
        if key not in self._done:
            if runner == "reference":
                adapter = load_adapter(runner)(self.wide, case)
            else:
                adapter = load_adapter(runner)(self.problem, case, IMPLEMENTATION[runner])
            kept = []
            for index in range(self.steps):
                adapter.step(index)
                if index + 1 in self.at:
                    kept.append(adapter.params())
            self._done[key] = kept
        return self._done[key]


def measure(spec: Spec, seed: int, runs: Runs) -> StabilityCell:
    """One cell: its error against the reference at every checkpoint; the decay's effect."""
    case = spec.case(seed, runs.steps)
    undecayed = case.replace(rule="none", weight_decay=0.0)
    w32, w64 = runs.get(spec.framework, case), runs.get("reference", case)
    end64 = flat(w64[-1])
    scale = max(float(np.linalg.norm(end64)), 1e-300)
    effect64 = np.linalg.norm(end64 - flat(runs.get("reference", undecayed)[-1])) / scale
    effect32 = np.linalg.norm(flat(w32[-1]) - flat(runs.get(spec.framework, undecayed)[-1]))
    errors = tuple(relative_error(a, b) for a, b in zip(w32, w64, strict=True))
    return StabilityCell(
        framework=spec.framework, optimizer=spec.optimizer, mechanism=spec.mechanism,
        rule=spec.rule, lam=spec.lam, lr=spec.lr, seed=seed, steps=runs.steps,
        checkpoints=runs.at, rel_error=errors,
        tiny=spec.tiny, decay_effect=float(effect64), decay_effect_f32=float(effect32 / scale),
    )  # fmt: skip


def note(cells: list[StabilityCell]) -> str:
    """A progress line's result: each cell's final error; for tiny cells also the share of
    the decay's float64 effect that float32 kept."""
    parts = []
    for c in cells:
        part = f"{c.optimizer} {c.rule} {c.final:.1e}"
        if c.tiny and c.decay_effect:
            part += f" (kept {c.decay_effect_f32 / c.decay_effect:.2f})"
        parts.append(part)
    return "final ‖Δw‖/‖w‖: " + ", ".join(parts)


def run_seed(
    data: Digits, seed: int, steps: int, progress=None, only: Callable[[Spec], bool] | None = None
) -> list[StabilityCell]:
    """Every cell of one seed (those ``only`` keeps), one ``progress`` item (a ``Progress``)
    per group."""
    epochs = -(-steps // batches_per_epoch())
    runs = Runs(make_problem(data, seed, epochs), steps)
    cells = []
    for what, group in groups():
        chosen = [s for s in group if only is None or only(s)]
        if not chosen:
            continue
        item = f"stability seed {seed} · {what}"
        if progress:
            progress.start(item)
        found = [measure(s, seed, runs) for s in chosen]
        if progress:
            progress.done(item, note=note(found))
        cells += found
    return cells


def run_all(profile: StudyProfile, data: Digits, progress=None) -> tuple[StabilityCell, ...]:
    """The experiment for ``profile``: ``count(profile)`` progress items."""
    seeds, steps = plan(profile)
    return tuple(c for seed in seeds for c in run_seed(data, seed, steps, progress))
