"""``xbench translate``, as data: a torch optimizer call or an optax expression, parsed with
``ast`` (never evaluated), becomes a pair of Cases, one per framework, and the conventions the
mapping had to match. Anything not understood is a UsageError (exit 2); a configuration with
no exact counterpart in the other framework is ``Untranslatable`` (exit 1)."""

from __future__ import annotations

from xbench.errors import UsageError
from xbench.translate import optax_table, torch_table
from xbench.translate.translation import (
    FRAMEWORK_NAMES,
    Settings,
    Translation,
    dotted,
    parse_expression,
)
from xbench.workloads.cases import MASKS, SCHEDULES, not_applicable_reason


def translate_spec(spec: str, settings: Settings | None = None) -> Translation:
    """SPEC parsed and mapped: a torch call (SGD, Adam, AdamW, RMSprop, Adagrad, with or
    without ``torch.optim.``) or an optax expression (``optax.…``)."""
    settings = settings or Settings()
    call = parse_expression(spec)
    name = dotted(call.func)
    if settings.to is not None and settings.to not in FRAMEWORK_NAMES:
        raise UsageError(f"unknown --to {settings.to!r}; valid: optax, torch")
    if settings.mask and settings.mask not in MASKS:
        valid = ", ".join(m for m in MASKS if m)
        raise UsageError(f"unknown --mask {settings.mask!r}; valid: {valid}")
    if settings.schedule not in SCHEDULES:
        raise UsageError(f"unknown --schedule {settings.schedule!r}; valid: {', '.join(SCHEDULES)}")
    if name.startswith("optax."):
        source, (torch_case, jax_case, notes) = "jax", optax_table.from_optax(call, settings)
    elif torch_table.torch_name(name):
        source, (torch_case, jax_case, notes) = "torch", torch_table.from_torch(call, settings)
    else:
        raise UsageError(
            f"unknown optimizer {name!r}; valid: torch.optim.{{SGD, Adam, AdamW, RMSprop, "
            "Adagrad}(...) or optax.{sgd, adam, adamw, rmsprop, adagrad, chain}(...)"
        )
    target = FRAMEWORK_NAMES.get(settings.to) or ("jax" if source == "torch" else "torch")
    for framework, case in (("torch", torch_case), ("jax", jax_case)):
        reason = not_applicable_reason(framework, case)
        if reason:  # a mapping bug: each side must run in its own framework
            raise AssertionError(f"{framework} cannot run {case.label}: {reason}")
    return Translation(source, target, torch_case, jax_case, tuple(notes))
