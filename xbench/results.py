"""Reading published runs back: pytest-benchmark JSON from ``xbench bench`` and the JSON of
``xbench check --json``, validated, as plain records the report and the gate work from.

Every problem with a file is a UsageError of one line that names the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from xbench.errors import UsageError
from xbench.machine import label_for, short_commit
from xbench.sweep import BENCH_OPTIMIZERS, BENCH_RULES, IMPLEMENTATIONS

NOISY = 0.10  # a cell whose IQR is more than this fraction of its median is flagged
FRAMEWORKS = ("torch", "jax")
MODEL_TITLES = {
    "vectors1": "Update step, parameters in one tensor",
    "vectors1000": "Update step, parameters in 1000 tensors",
    "mlp_wide": "Training step, `mlp_wide` (64 → h → h → 4, batch 32)",
}


@dataclass(frozen=True)
class Result:
    """One benchmark of one run: its case (from extra_info) and pytest-benchmark's statistics."""

    id: str
    kind: str
    framework: str
    implementation: str
    optimizer: str
    rule: str
    model: str
    params: int
    tensors: int
    device: str
    median: float  # seconds per step
    iqr: float  # seconds
    rounds: int
    achieved_GBps: float | None
    bandwidth_pct: float | None
    compile_seconds: float | None
    extra: dict  # the whole extra_info, for what a table needs beyond the case
    stats: dict  # pytest-benchmark's statistics (seconds), raw round times left out

    @property
    def spread(self) -> float:
        """IQR / median."""
        return self.iqr / self.median

    @property
    def noisy(self) -> bool:
        return self.spread > NOISY


@dataclass(frozen=True)
class Run:
    """One ``xbench bench`` JSON."""

    path: Path
    machine_info: dict
    commit: dict  # id, dirty
    datetime: str
    results: tuple[Result, ...]
    folder_label: str | None = None  # the results folder it was found in, when it was

    @property
    def label(self) -> str:
        return self.folder_label or machine_label(self.machine_info)

    @property
    def settings(self) -> dict:
        """What must agree for two runs to share a table."""
        info = self.machine_info
        return {
            "device": info.get("device_name"),
            "threads": (info.get("threads") or {}).get("requested"),
            "profile": info.get("xbench_profile"),
            "versions": info.get("versions"),
            "commit": short_commit(self.commit),
        }


@dataclass(frozen=True)
class CheckRun:
    """One ``xbench check --json`` document."""

    path: Path
    machine_info: dict
    datetime: str
    entries: tuple[dict, ...]
    folder_label: str | None = None

    @property
    def label(self) -> str | None:
        """None for a file from before checks recorded their machine."""
        if self.folder_label:
            return self.folder_label
        return machine_label(self.machine_info) if self.machine_info else None


def machine_label(info: dict) -> str:
    device = info.get("device", "cpu")
    name = info.get("device_name") or info.get("cpu_model") or "unknown"
    threads = info.get("threads")
    if isinstance(threads, dict):
        threads = threads.get("requested")
    return label_for(device, name, threads)


def _read_json(path: Path) -> object:
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a result JSON")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    if not text.strip():
        raise UsageError(f"{path}: is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON (truncated or corrupt?): {exc}") from None


def is_check_document(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("entries"), list) and "tolerances" in doc


def load_run(path: Path, folder_label: str | None = None) -> Run:
    """A pytest-benchmark JSON written by ``xbench bench``, or a one-line UsageError.

    ``folder_label``: the machine folder it was found in under results/, which names its
    machine (a run made with ``--label``); otherwise the label comes from its machine_info.
    """
    doc = _read_json(path)
    if is_check_document(doc):
        raise UsageError(f"{path}: is an `xbench check --json` file, not a bench run")
    if not (
        isinstance(doc, dict)
        and isinstance(doc.get("benchmarks"), list)
        and isinstance(doc.get("machine_info"), dict)
    ):
        raise UsageError(
            f"{path}: not a pytest-benchmark JSON (needs a 'benchmarks' list and 'machine_info')"
        )
    if not doc["benchmarks"]:
        raise UsageError(f"{path}: holds no benchmarks")
    results = []
    for index, bench in enumerate(doc["benchmarks"]):
        try:
            results.append(_result(bench))
        except (KeyError, TypeError, ValueError) as exc:
            name = bench.get("name", f"#{index}") if isinstance(bench, dict) else f"#{index}"
            raise UsageError(
                f"{path}: benchmark {name} is not an xbench result ({_what(exc)})"
            ) from None
    ids = [r.id for r in results]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise UsageError(f"{path}: benchmark {twice} appears more than once")
    commit = doc["machine_info"].get("git_commit") or doc.get("commit_info") or {}
    info = doc["machine_info"]
    return Run(path, info, commit, str(doc.get("datetime", "")), tuple(results), folder_label)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _what(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


def _result(bench: dict) -> Result:
    info, stats = bench["extra_info"], bench["stats"]
    median, iqr = float(stats["median"]), float(stats["iqr"])
    if not (math.isfinite(median) and median > 0 and math.isfinite(iqr) and iqr >= 0):
        raise ValueError(f"median {median} and IQR {iqr} must be finite, median positive")
    if int(info["param_count"]) < 1:
        raise ValueError(f"param_count {info['param_count']} must be positive")
    adjacent = info.get("adjacent_reference")
    if adjacent is not None and not (
        isinstance(adjacent, dict) and _positive(adjacent.get("median"))
    ):
        raise ValueError("adjacent_reference needs a positive median")
    return Result(
        id=info["id"],
        kind=info["kind"],
        framework=info["framework"],
        implementation=info["implementation"],
        optimizer=info["optimizer"],
        rule=info["rule"],
        model=info["model"],
        params=int(info["param_count"]),
        tensors=int(info["tensors"]),
        device=info["device"],
        median=median,
        iqr=iqr,
        rounds=int(stats["rounds"]),
        achieved_GBps=info.get("achieved_GBps"),
        bandwidth_pct=info.get("bandwidth_pct"),
        compile_seconds=info.get("compile_seconds"),
        extra=info,
        stats={k: v for k, v in stats.items() if k != "data"},
    )


def load_check(path: Path, folder_label: str | None = None) -> CheckRun:
    """An ``xbench check --json`` document, or a one-line UsageError."""
    doc = _read_json(path)
    if not is_check_document(doc):
        raise UsageError(
            f"{path}: not an `xbench check --json` file (needs 'entries', 'tolerances')"
        )
    for index, entry in enumerate(doc["entries"]):
        problem = _entry_problem(entry)
        if problem:
            name = entry.get("name", f"#{index}") if isinstance(entry, dict) else f"#{index}"
            raise UsageError(f"{path}: entry {name} {problem}")
    info = doc.get("machine_info") or {}
    return CheckRun(path, info, str(doc.get("datetime", "")), tuple(doc["entries"]), folder_label)


def _entry_problem(entry: object) -> str | None:
    """What makes ``entry`` unusable, or None."""
    if not isinstance(entry, dict):
        return "is not an object"
    missing = {"name", "left", "right", "expected", "reason", "held", "verdict"} - set(entry)
    if missing:
        return f"lacks {', '.join(sorted(missing))}"
    if not isinstance(entry["held"], bool):
        return "has a 'held' that is not true or false"
    for side in ("left", "right"):
        run = entry[side]
        if not (isinstance(run, dict) and isinstance(run.get("case"), dict)):
            return f"has no {side}.case"
        if run["case"].get("dtype") not in ("float32", "float64"):
            return f"has no float32/float64 {side}.case.dtype"
    agreement = entry.get("agreement")
    if agreement is None:
        return None
    if not isinstance(agreement, dict) or not isinstance(agreement.get("equal"), bool):
        return "has an agreement without 'equal'"
    error = agreement.get("max_abs_error")
    if not (isinstance(error, (int, float)) and math.isfinite(error) and error >= 0):
        return f"has max_abs_error {error!r}; expected a finite number ≥ 0"
    return None


# ----------------------------------------------------------------------------- grouping rows


def mechanism(optimizer: str, rule: str) -> str:
    """Rules the equivalence catalogue shows equal across frameworks share a mechanism.

    torch SGD/momentum/Adam ``weight_decay`` is g + λw, as optax ``add_decayed_weights``
    before the optimizer; torch AdamW ``weight_decay`` is optax.adamw's decoupled decay.
    """
    if rule == "weight_decay" and optimizer == "adamw":
        return "decoupled decay"
    if rule in ("weight_decay", "add_decayed_weights"):
        return "coupled decay"
    return rule


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


def by_model(results: Iterable[Result], kind: str) -> dict[str, list[Result]]:
    found: dict[str, list[Result]] = {}
    for r in results:
        if r.kind == kind:
            found.setdefault(r.model, []).append(r)
    return found


# ----------------------------------------------------------------------------- finding runs


def newest_inputs(results: Path) -> tuple[list[Path], list[Path]]:
    """The runs a report shows by default: per machine folder under ``results``, the newest
    bench run (of a profile other than ``quick`` when there is one) and, with it, the newest
    check. The folder's name is the machine's label (see load_run).

    File names start with the UTC time (``<time>_<profile>_<commit>.json``), so the newest is
    the last in name order.
    """
    if not results.is_dir():
        raise UsageError(f"{results}: no such folder; run `make bench` first")
    runs, checks = [], []
    for folder in sorted(p for p in results.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*_*_*.json"))
        bench = [f for f in files if f.name.split("_")[1] != "check"]
        if not bench:
            continue
        full = [f for f in bench if f.name.split("_")[1] != "quick"]
        runs.append((full or bench)[-1])
        check = [f for f in files if f.name.split("_")[1] == "check"]
        if check:
            checks.append(check[-1])
    if not runs:
        raise UsageError(f"no bench run under {results}/<machine>/; run `make bench` first")
    return runs, checks
