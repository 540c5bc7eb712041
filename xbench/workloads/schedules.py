"""Learning-rate schedules as formulas: η_t = η·factor(t) for the update at step t = 0, 1, …

The horizon T is the run's ``steps``; W is ``warmup_steps``. Each schedule's torch and optax
form, and why both use factor(t) at step t: ``docs/rules.md`` (Learning-rate schedules). Two
torch port errors, kept runnable as variants: ``schedule_per_epoch`` steps the scheduler once
per EPOCH_STEPS steps with a horizon in epochs (the update at t uses factor(E·⌊t/E⌋)), and
``schedule_early`` calls ``scheduler.step()`` before ``optimizer.step()`` (factor(t + 1)).
"""

from __future__ import annotations

import math

from xbench.workloads.cases import EPOCH_STEPS, Case


def factor(schedule: str, t: int, horizon: int, warmup: int = 0) -> float:
    """The multiplier of η at step ``t`` (0-based) of ``horizon``."""
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - t / horizon
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t / horizon))
    if t < warmup:
        return t / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (t - warmup) / (horizon - warmup)))


def lr_at(case: Case, t: int) -> float:
    """η for the update at step ``t`` (0-based), the case's variant included."""
    if case.variant == "schedule_per_epoch":
        t = EPOCH_STEPS * (t // EPOCH_STEPS)
    elif case.variant == "schedule_early":
        t = t + 1
    return case.lr * factor(case.schedule, t, case.steps, case.warmup_steps)
