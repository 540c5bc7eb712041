"""Which results share a table, in which order, and which is fastest where: one ``Machine``
per results folder label, rows in the sweep's order, and rules the catalogue shows equal
across frameworks sharing a mechanism (``xbench.workloads.cases.mechanism``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from xbench.analysis.paired import Ratio, framework_ratio
from xbench.errors import UsageError
from xbench.records.bench_run import BenchRun, PairedCell, Result
from xbench.records.check_run import CheckRun
from xbench.workloads.benchmarks import BENCH_OPTIMIZERS, BENCH_RULES, IMPLEMENTATIONS, PAIRED_FROM
from xbench.workloads.cases import FRAMEWORKS, mechanism

HEADLINE_OPTIMIZER, HEADLINE_RULE = "adamw", "weight_decay"


def _order(values: tuple[str, ...]) -> Callable[[str], tuple[int, str]]:
    return lambda v: (values.index(v) if v in values else len(values), v)


OPTIMIZER_ORDER, RULE_ORDER = _order(BENCH_OPTIMIZERS), _order(BENCH_RULES)
FRAMEWORK_ORDER = _order(FRAMEWORKS)
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


def tables(results: Iterable[Result]) -> list[tuple[str, list[Result]]]:
    """(model, its results) per table: update steps' models, then training steps', by name."""
    return [t for kind in ("update", "train") for t in sorted(by_model(results, kind).items())]


@dataclass(frozen=True)
class Machine:
    """What one machine's section is built from: its runs merged, and its equivalence check."""

    label: str
    runs: tuple[BenchRun, ...]
    results: tuple[Result, ...]
    warnings: tuple[str, ...]
    check: CheckRun | None

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
        found.append(Machine(label, tuple(group), *merge(group), checks_by_label.get(label)))
    return found


def merge(runs: list[BenchRun]) -> tuple[tuple[Result, ...], tuple[str, ...]]:
    """Every result of ``runs`` (oldest first); a benchmark in several runs keeps the newest.
    Where their settings differ (device, threads, profile, versions, commit): a warning."""
    first = runs[0]
    warnings = [
        f"{run.path.name} and {first.path.name} differ in {key}: "
        f"{_short(run.settings[key])} vs {_short(value)}"
        for run in runs[1:]
        for key, value in first.settings.items()
        if run.settings[key] != value
    ]
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


def _fastest(results: Iterable[Result], key: Callable[[Result], Hashable]) -> dict:
    """``key`` → the result of least median among those with that key (the first of a tie)."""
    best: dict = {}
    for r in results:
        if key(r) not in best or r.median < best[key(r)].median:
            best[key(r)] = r
    return best


def _cell(r: Result) -> tuple[str, str, int]:
    """What results compared across frameworks share: optimizer, decay mechanism, size."""
    return r.optimizer, mechanism(r.optimizer, r.rule), r.params


def relative_to_fastest(results: list[Result]) -> dict[str, float]:
    """Result id → its median over the fastest of both frameworks for its optimizer, decay
    mechanism and size."""
    best = _fastest(results, _cell)
    return {r.id: r.median / best[_cell(r)].median for r in results}


@dataclass(frozen=True)
class FrameworkRatios:
    """Fastest torch over fastest JAX for one optimizer and mechanism, per size."""

    optimizer: str
    rules: dict[str, str]  # framework -> its rules on this row, comma-separated
    fastest: dict[int, tuple[Result, Result]]  # size -> (fastest torch, fastest JAX)


def framework_ratios(results: list[Result]) -> list[FrameworkRatios]:
    """One row per optimizer × mechanism timed in both frameworks, in table order."""
    fastest = _fastest(results, lambda r: (r.framework, *_cell(r)))
    rules: dict[tuple[str, str], dict[str, set[str]]] = {}
    for r in results:
        rules.setdefault(_cell(r)[:2], {}).setdefault(r.framework, set()).add(r.rule)
    sizes = sorted({r.params for r in results})
    rows = []
    for (optimizer, m), by_framework in sorted(
        rules.items(),
        key=lambda kv: (OPTIMIZER_ORDER(kv[0][0]), RULE_ORDER(min(kv[1].get("torch", {""})))),
    ):
        if set(by_framework) != set(FRAMEWORKS):
            continue
        pairs = {n: tuple(fastest.get((f, optimizer, m, n)) for f in FRAMEWORKS) for n in sizes}
        names = {f: ", ".join(sorted(by_framework[f])) for f in FRAMEWORKS}
        rows.append(FrameworkRatios(optimizer, names, {n: p for n, p in pairs.items() if all(p)}))
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


def torch_vs_jax(results: list[Result], paired: dict) -> dict[int, list[TorchOverJax]]:
    """Size → each optimizer × mechanism's ``torch_over_jax`` there, in table order."""
    found: dict[int, list[TorchOverJax]] = {}
    for row in framework_ratios(results):
        for n, fastest in row.fastest.items():
            found.setdefault(n, []).append(torch_over_jax(fastest, paired))
    return found


def paired_precision(
    results: list[Result], paired: dict, smallest: int = PRECISE_FROM
) -> tuple[int, int, int]:
    """Of ``results``' torch-vs-JAX comparisons at ``smallest`` parameters and above, those
    timed interleaved: how many, how many with an interval within ±PRECISE, how many resolved."""
    found = [c for n, cs in torch_vs_jax(results, paired).items() if n >= smallest for c in cs]
    ratios = [c.ratio for c in found if c.ratio is not None]
    precise = sum(r.half_width is not None and r.half_width <= PRECISE for r in ratios)
    return len(ratios), precise, sum(c.resolved for c in found)


def largest_adamw(results: Iterable[Result], tensors: int = 1) -> list[Result]:
    """Every AdamW ``weight_decay`` update in ``tensors`` tensors at the largest size timed,
    fastest first; or none (with one tensor: the headline's candidates)."""
    adamw = ("update", tensors, HEADLINE_OPTIMIZER, HEADLINE_RULE)
    candidates = [r for r in results if (r.kind, r.tensors, r.optimizer, r.rule) == adamw]
    largest = max((r.params for r in candidates), default=None)
    return sorted((r for r in candidates if r.params == largest), key=lambda r: r.median)


def headline_results(machine: Machine) -> tuple[int, list[Result]] | None:
    """The headline's size and its fastest result per framework, in order; None if not timed."""
    candidates = largest_adamw(machine.results)
    if not candidates:
        return None
    fastest = _fastest(candidates, lambda r: r.framework)
    return candidates[0].params, [fastest[f] for f in FRAMEWORKS if f in fastest]


def l2_over_own_decay(results: list[Result], framework: str) -> dict[tuple[str, str, int], float]:
    """(optimizer, implementation, params) → the training step's median with ``l2_loss`` over
    that with the optimizer's own decay (torch ``weight_decay``, JAX ``add_decayed_weights``),
    AdamW (decoupled, another mechanism) left out."""
    own = "weight_decay" if framework == "torch" else "add_decayed_weights"
    train = [r for r in results if r.kind == "train" and r.framework == framework]
    base = {(r.optimizer, r.implementation, r.params): r for r in train if r.rule == own}
    return {
        (r.optimizer, r.implementation, r.params): r.median / base[key].median
        for r in train
        if r.rule == "l2_loss" and (key := (r.optimizer, r.implementation, r.params)) in base
        and r.optimizer != "adamw"
    }  # fmt: skip
