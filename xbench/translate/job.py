"""``xbench translate`` from Python (docs/translate.md): SPEC and its counterpart in the other
framework, as data and as code; ``verify()`` runs both."""

from __future__ import annotations

from dataclasses import dataclass

from xbench.run.equivalence import FLOAT64_TOLERANCE, Agreement, compare
from xbench.run.registry import run_case
from xbench.translate.code import Code, optax_code, torch_code
from xbench.translate.parse import translate_spec
from xbench.translate.translation import Settings, Translation, Untranslatable
from xbench.workloads.cases import Case

__all__ = ["Translated", "Untranslatable", "Verification", "translate", "verify_case"]

VERIFY_MODELS = ("mlp_norm", "transformer")
VERIFY_STEPS = 20  # as the catalogue's entries


@dataclass(frozen=True)
class ModelCheck:
    model: str
    original: Case  # as run (float64, VERIFY_STEPS)
    translation: Case
    agreement: Agreement

    def line(self) -> str:
        a = self.agreement
        return (
            f"{self.model}: {'equal' if a.equal else 'NOT equal'}: {a.describe()}; "
            f"largest |Δ| {a.max_abs_error:.2e}, err/tol {a.max_error_ratio:.2g}"
        )


@dataclass(frozen=True)
class Verification:
    checks: tuple[ModelCheck, ...]
    scaled: str | None = None  # how the schedule's horizon was fitted to VERIFY_STEPS

    @property
    def holds(self) -> bool:
        return all(c.agreement.equal for c in self.checks)


@dataclass(frozen=True)
class Translated:
    """A translation: both Cases and the notes (``translation``), and the code printed."""

    translation: Translation
    code: Code

    @property
    def text(self) -> str:
        """What ``xbench translate`` prints: setup, the expression, ``after``, the notes."""
        c = self.code
        return "\n".join([*c.setup, c.expression, *c.after, *(f"# {n}" for n in self.notes)])

    @property
    def expression(self) -> str:
        return self.code.expression

    @property
    def notes(self) -> tuple[str, ...]:
        return self.translation.notes

    @property
    def source_case(self) -> Case:
        return self.translation.source_case

    @property
    def target_case(self) -> Case:
        return self.translation.target_case

    def verify(self, models: tuple[str, ...] = VERIFY_MODELS) -> Verification:
        return verify_case(self.translation, models)


def translate(
    spec: str,
    to: str | None = None,
    mask: str = "",
    schedule: str = "constant",
    warmup_steps: int = 0,
    steps: int | None = None,
    clip_norm: float | None = None,
) -> Translated:
    """SPEC in the other framework (or ``to``); UsageError for a malformed SPEC,
    Untranslatable when it has no exact counterpart."""
    translation = translate_spec(spec, Settings(to, mask, schedule, warmup_steps, steps, clip_norm))
    code_of = torch_code if translation.target == "torch" else optax_code
    return Translated(translation, code_of(translation.target_case))


def for_verify(case: Case, model: str) -> tuple[Case, str | None]:
    """``case`` in float64 for VERIFY_STEPS on ``model``; a schedule's horizon becomes
    VERIFY_STEPS (its warmup scaled with it)."""
    changes = {"model": model, "dtype": "float64", "steps": VERIFY_STEPS, "seed": 0}
    scaled = None
    if case.schedule != "constant" and case.steps != VERIFY_STEPS:
        scaled = f"the {case.schedule} schedule's horizon {case.steps} scaled to {VERIFY_STEPS}"
        if case.warmup_steps:
            w = round(case.warmup_steps * VERIFY_STEPS / case.steps)
            changes["warmup_steps"] = min(max(w, 1), VERIFY_STEPS - 1)
            scaled += f" (warmup {case.warmup_steps} to {changes['warmup_steps']})"
    return case.replace(**changes), scaled


def verify_case(translation: Translation, models: tuple[str, ...] = VERIFY_MODELS) -> Verification:
    """The original in its framework and the translation in the other, as ``xbench check``
    runs them: float64, every step, FLOAT64_TOLERANCE."""
    checks, scaled = [], None
    for model in models:
        original, scaled = for_verify(translation.source_case, model)
        translated, _ = for_verify(translation.target_case, model)
        a = run_case(translation.source, original)
        b = run_case(translation.target, translated)
        checks.append(ModelCheck(model, original, translated, compare(b, a, FLOAT64_TOLERANCE)))
    return Verification(tuple(checks), scaled)
