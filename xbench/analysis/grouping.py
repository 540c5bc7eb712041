"""Which results share a table, in which order, and which is fastest where.

One ``Machine`` per results folder label: its runs merged (a benchmark in several runs keeps
the newest) and its equivalence check. Rows go optimizer × rule × framework ×
implementation in the sweep's order; rules the catalogue shows equal across frameworks
share a mechanism (``xbench.spec.cases.mechanism``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from xbench.analysis.paired import Ratio, framework_ratio
from xbench.errors import UsageError
from xbench.records.bench_run import BenchRun, PairedCell, Result
from xbench.records.check_run import CheckRun
from xbench.spec.benchmarks import BENCH_OPTIMIZERS, BENCH_RULES, IMPLEMENTATIONS, PAIRED_FROM
from xbench.spec.cases import FRAMEWORKS, mechanism

HEADLINE_OPTIMIZER, HEADLINE_RULE = "adamw", "weight_decay"


def _order(values: tuple[str, ...]) -> Callable[[str], tuple[int, str]]:
    return lambda v: (values.index(v) if v in values else len(values), v)


OPTIMIZER_ORDER, RULE_ORDER, FRAMEWORK_ORDER = (
    _order(BENCH_OPTIMIZERS),
    _order(BENCH_RULES),
    _order(FRAMEWORKS),
)
IMPLEMENTATION_ORDER = _order(tuple(i for impls in IMPLEMENTATIONS.values() for i in impls))


def row_key(r: Result) -> tuple:
    """Rows in a fixed order: optimizer × rule × framework × implementation."""
    return (
        OPTIMIZER_ORDER(r.optimizer),
        RULE_ORDER(r.rule),
        FRAMEWORK_ORDER(r.framework),
        IMPLEMENTATION_ORDER(r.implementation),
    )


def paired_key(r: Result) -> tuple[str, str, str, str, int]:
    """The comparison a result belongs to in a torch-vs-JAX table: kind, model, optimizer,
    decay mechanism, size (``Machine.paired``'s keys)."""
    return (r.kind, r.model, r.optimizer, mechanism(r.optimizer, r.rule), r.params)


def by_model(results: Iterable[Result], kind: str) -> dict[str, list[Result]]:
    found: dict[str, list[Result]] = {}
    for r in results:
        if r.kind == kind:
            found.setdefault(r.model, []).append(r)
    return found


# ----------------------------------------------------------------------------- machines


@dataclass(frozen=True)
class Machine:
    """What one machine's section is built from: its runs merged, and its equivalence check."""

    label: str
    runs: tuple[BenchRun, ...]
    results: tuple[Result, ...]
    check: CheckRun | None
    warnings: tuple[str, ...]

    @property
    def device(self) -> str:
        return self.runs[0].machine_info.get("device", "cpu")

    @property
    def paired(self) -> dict[tuple[str, str, str, str, int], PairedCell]:
        """The torch-vs-JAX comparisons timed interleaved, by ``paired_key``; a comparison
        in several runs keeps the newest run's."""
        return {cell.key: cell for run in self.runs for cell in run.paired}


def machines(runs: list[BenchRun], checks: list[CheckRun]) -> list[Machine]:
    """Group runs by machine label; merge each group, warning where settings differ."""
    by_label: dict[str, list[BenchRun]] = {}
    for run in runs:
        by_label.setdefault(run.label, []).append(run)
    checks_by_label: dict[str, CheckRun] = {}
    for check in checks:
        label = check.label
        if label is None:  # no machine recorded: it can only belong to the one machine here
            if len(by_label) != 1:
                raise UsageError(
                    f"{check.path}: records no machine, so it cannot be matched with one of "
                    f"{len(by_label)} machines; pass it with that machine's runs only"
                )
            label = next(iter(by_label))
        if label in checks_by_label:
            raise UsageError(
                f"two check files for machine {label}: {checks_by_label[label].path} "
                f"and {check.path}; pass one"
            )
        checks_by_label[label] = check
    unmatched = set(checks_by_label) - set(by_label)
    if unmatched:
        raise UsageError(
            f"check file {checks_by_label[min(unmatched)].path} is from machine {min(unmatched)}, "
            f"which has no bench run here (machines: {', '.join(sorted(by_label))})"
        )
    found = []
    for label in sorted(by_label):
        group = sorted(by_label[label], key=lambda r: (r.datetime, str(r.path)))
        results, warnings = merge(group)
        found.append(Machine(label, tuple(group), results, checks_by_label.get(label), warnings))
    return found


def merge(runs: list[BenchRun]) -> tuple[tuple[Result, ...], tuple[str, ...]]:
    """Every result of ``runs`` (oldest first); a benchmark in several runs keeps the newest.

    Runs whose settings differ (device, threads, profile, versions, commit) are merged, but
    each difference becomes a warning printed with the table.
    """
    warnings = []
    first = runs[0]
    for run in runs[1:]:
        for key, value in first.settings.items():
            if run.settings[key] != value:
                warnings.append(
                    f"{run.path.name} and {first.path.name} differ in {key}: "
                    f"{_short(run.settings[key])} vs {_short(value)}"
                )
    kept: dict[str, Result] = {}
    repeated = []
    for run in runs:
        for result in run.results:
            if result.id in kept:
                repeated.append(result.id)
            kept[result.id] = result
    if repeated:
        warnings.append(
            f"{len(repeated)} benchmark(s) are in more than one run, e.g. {repeated[0]}; "
            "the newest run's result is shown"
        )
    return tuple(kept.values()), tuple(warnings)


def _short(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


# ----------------------------------------------------------------------------- fastest


def fastest_by_cell(results: list[Result]) -> dict[tuple[str, str, int], Result]:
    """(optimizer, mechanism, params) → the fastest result there, over both frameworks."""
    best: dict[tuple[str, str, int], Result] = {}
    for r in results:
        key = (r.optimizer, mechanism(r.optimizer, r.rule), r.params)
        if key not in best or r.median < best[key].median:
            best[key] = r
    return best


def relative_to_fastest(r: Result, best: dict[tuple[str, str, int], Result]) -> float:
    """``r``'s median over the fastest of both frameworks for its optimizer, mechanism, size."""
    return r.median / best[(r.optimizer, mechanism(r.optimizer, r.rule), r.params)].median


@dataclass(frozen=True)
class FrameworkRatios:
    """Fastest torch over fastest JAX for one optimizer and mechanism, per size."""

    optimizer: str
    rules: dict[str, str]  # framework -> its rules on this row, comma-separated
    fastest: dict[int, tuple[Result, Result]]  # size -> (fastest torch, fastest JAX)


def framework_ratios(results: list[Result]) -> list[FrameworkRatios]:
    """One row per optimizer × mechanism timed in both frameworks, in table order."""
    fastest: dict[tuple[str, str, str, int], Result] = {}
    rules: dict[tuple[str, str], dict[str, set[str]]] = {}
    for r in results:
        m = mechanism(r.optimizer, r.rule)
        key = (r.framework, r.optimizer, m, r.params)
        if key not in fastest or r.median < fastest[key].median:
            fastest[key] = r
        rules.setdefault((r.optimizer, m), {}).setdefault(r.framework, set()).add(r.rule)
    rows = []
    for (optimizer, m), by_framework in sorted(
        rules.items(),
        key=lambda kv: (OPTIMIZER_ORDER(kv[0][0]), RULE_ORDER(min(kv[1].get("torch", {""})))),
    ):
        if set(by_framework) != set(FRAMEWORKS):
            continue
        by_size = {}
        for n in sorted({r.params for r in results}):
            t, j = fastest.get(("torch", optimizer, m, n)), fastest.get(("jax", optimizer, m, n))
            if t and j:
                by_size[n] = (t, j)
        names = {f: ", ".join(sorted(by_framework[f])) for f in FRAMEWORKS}
        rows.append(FrameworkRatios(optimizer, names, by_size))
    return rows


@dataclass(frozen=True)
class TorchOverJax:
    """Fastest torch over fastest JAX at one size: where timed interleaved, the ``cell`` and
    its ``ratio`` with a 95% interval; else None, the ``estimate`` of two medians (unpaired)."""

    estimate: float
    cell: PairedCell | None
    ratio: Ratio | None

    @property
    def resolved(self) -> bool:
        """Timed interleaved, with a 95% interval that excludes 1."""
        return self.ratio is not None and self.ratio.low is not None and not self.ratio.contains(1)


def torch_over_jax(fastest: tuple[Result, Result], paired: dict) -> TorchOverJax:
    """A ``FrameworkRatios.fastest`` value, timed interleaved where ``Machine.paired`` has it."""
    torch, jax = fastest
    cell = paired.get(paired_key(torch))
    if cell is None:
        return TorchOverJax(torch.median / jax.median, None, None)
    ratio = framework_ratio(cell)
    return TorchOverJax(ratio.estimate, cell, ratio)


PRECISE = 0.05  # an interval within ±5% (half its width in log space)
PRECISE_FROM = PAIRED_FROM  # parameters: below, a step is a few µs and call overhead dominates


def paired_precision(results: list[Result], paired: dict) -> tuple[int, int, int]:
    """Of ``results``' torch-vs-JAX comparisons at PRECISE_FROM parameters and above, those
    timed interleaved: how many, how many with an interval within ±PRECISE, how many resolved."""
    found = [torch_over_jax(fastest, paired) for row in framework_ratios(results)
             for n, fastest in row.fastest.items() if n >= PRECISE_FROM]  # fmt: skip
    ratios = [c.ratio for c in found if c.ratio is not None]
    precise = sum(r.half_width is not None and r.half_width <= PRECISE for r in ratios)
    return len(ratios), precise, sum(c.resolved for c in found)


def headline_candidates(results: Iterable[Result]) -> list[Result]:
    """Every AdamW ``weight_decay`` update in one tensor at the largest size timed, or none."""
    headline = ("update", 1, HEADLINE_OPTIMIZER, HEADLINE_RULE)
    candidates = [r for r in results if (r.kind, r.tensors, r.optimizer, r.rule) == headline]
    largest = max((r.params for r in candidates), default=None)
    return [r for r in candidates if r.params == largest]


def headline_results(machine: Machine) -> tuple[int, list[Result]] | None:
    """The headline's size and its fastest result per framework, in order; None if not timed."""
    found = headline_candidates(machine.results)
    if not found:
        return None
    mine = {f: [r for r in found if r.framework == f] for f in FRAMEWORKS}
    return found[0].params, [min(rs, key=lambda r: r.median) for rs in mine.values() if rs]
