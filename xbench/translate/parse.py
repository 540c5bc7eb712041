"""``xbench translate``, as data: a torch optimizer call or an optax expression, parsed with
``ast`` (never evaluated), becomes a pair of Cases, one per framework, and the conventions the
mapping had to match (docs/translate.md).

Anything not understood is a UsageError (exit 2); a configuration with no exact counterpart
in the other framework is ``Untranslatable`` (exit 1), with the reason and the nearest
configuration that exists.
"""

from __future__ import annotations

from xbench.errors import UsageError
from xbench.spec.cases import MASKS, SCHEDULES, not_applicable_reason
from xbench.translate import optax_table, torch_table
from xbench.translate.translation import (
    FRAMEWORK_NAMES,
    Settings,
    Translation,
    Untranslatable,
    dotted,
    parse_expression,
)

__all__ = ["Settings", "Translation", "Untranslatable", "translate_spec"]

# ----------------------------------------------------------------------------- entry point


def translate_spec(spec: str, settings: Settings | None = None) -> Translation:
    """SPEC parsed and mapped: a torch call (SGD, Adam, AdamW, RMSprop, Adagrad, with or
    without ``torch.optim.``) or an optax expression (``optax.…``)."""
    settings = settings or Settings()
    call = parse_expression(spec)
    name = dotted(call.func)
    if settings.to is not None and settings.to not in FRAMEWORK_NAMES:
        raise UsageError(f"unknown --to {settings.to!r}; valid: optax, torch")
    _check_settings(settings)
    if name.startswith("optax."):
        source, pair = "jax", optax_table.from_optax(call, settings)
    elif torch_table.torch_name(name):
        source, pair = "torch", torch_table.from_torch(call, settings)
    else:
        raise UsageError(
            f"unknown optimizer {name!r}; valid: torch.optim.{{SGD, Adam, AdamW, RMSprop, "
            "Adagrad}(...) or optax.{sgd, adam, adamw, rmsprop, adagrad, chain}(...)"
        )
    target = (
        FRAMEWORK_NAMES[settings.to] if settings.to else {"torch": "jax", "jax": "torch"}[source]
    )
    torch_case, jax_case, notes = pair
    for framework, case in (("torch", torch_case), ("jax", jax_case)):
        reason = not_applicable_reason(framework, case)
        if reason:  # a mapping bug: each side must run in its own framework
            raise AssertionError(f"{framework} cannot run {case.label}: {reason}")
    return Translation(source, target, torch_case, jax_case, tuple(notes))


def _check_settings(settings: Settings) -> None:
    if settings.mask and settings.mask not in MASKS:
        valid = ", ".join(m for m in MASKS if m)
        raise UsageError(f"unknown --mask {settings.mask!r}; valid: {valid}")
    if settings.schedule not in SCHEDULES:
        raise UsageError(f"unknown --schedule {settings.schedule!r}; valid: {', '.join(SCHEDULES)}")
