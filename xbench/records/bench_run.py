"""A timed run (``xbench bench``): pytest-benchmark's own JSON with xbench's fields (the
format: docs/formats.md#bench-run). Written by the benchmark suite (``xbench.suite``) through
the functions here, read back by ``load`` as a typed ``BenchRun`` of ``Result`` records. Every
problem with a file is a UsageError of one line that names the file. Over 450 lines: the
format's one home, its torch-vs-JAX ``paired`` section included, writer beside reader.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from xbench.errors import UsageError
from xbench.records.check_run import is_check_document
from xbench.records.files import format_name, format_version, read_json
from xbench.run import machine
from xbench.run.interleave import Rounds
from xbench.run.machine import machine_label, short_commit
from xbench.run.roofline import achieved_gbps, limit_for, standalone_limits
from xbench.run.timing import Timed, Timing
from xbench.workloads.benchmarks import BenchCase, benchmark_group
from xbench.workloads.cases import mechanism

KIND, VERSION = "bench", 1
NOISY_SPREAD = 0.10  # a result whose IQR is more than this fraction of its median is noisy
TRAIN_BYTES_SCOPE = "optimizer update only (forward and backward not counted)"
SELF_TEST = "harness_self_test"  # the top-level key of the perturbed harness check's result
SELF_TEST_KIND = "overhead_perturbed"  # its kind: not a benchmark, a test of the harness
NOT_SECONDS = ("rounds", "iterations", "outliers", "iqr_outliers", "stddev_outliers", "ops")


@dataclass(frozen=True)
class AdjacentReference:
    """The reference kernel timed just before and after a result, at its size."""

    kernel: str
    bytes_moved: int
    median: float  # seconds per call


@dataclass(frozen=True)
class OverheadCheck:
    """pytest-benchmark's timing against a bare perf_counter loop (``overhead`` results)."""

    reported_over_bare: float  # ratio of the two medians
    paired_over_bare: float | None  # median of adjacent rounds' ratios; None in old runs
    bare_median: float | None


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
    extra: dict  # the whole extra_info, for fields beyond the ones typed here
    stats: dict  # pytest-benchmark's statistics (seconds), raw round times left out
    adjacent: AdjacentReference | None = None
    overhead: OverheadCheck | None = None

    @property
    def group(self) -> str:
        """pytest-benchmark's group (``workloads.benchmarks.benchmark_group``)."""
        if self.kind == SELF_TEST_KIND:
            return SELF_TEST
        return benchmark_group(
            self.kind, self.optimizer, self.rule, self.params, self.tensors, self.device
        )

    @property
    def spread(self) -> float:
        return self.iqr / self.median

    @property
    def noisy(self) -> bool:
        return self.spread > NOISY_SPREAD

    def stat(self, name: str) -> float | None:
        """pytest-benchmark's ``stats.<name>`` (seconds), or None when absent or not > 0."""
        value = self.stats.get(name)
        return float(value) if isinstance(value, (int, float)) and value > 0 else None


@dataclass(frozen=True)
class PairedCell:
    """One cross-framework comparison timed interleaved (``xbench.jobs.bench_interleaved``)."""

    model: str
    kind: str
    optimizer: str
    mechanism: str
    params: int
    torch: str  # the benchmark ids compared
    jax: str
    pairs: tuple[Rounds, ...]  # one per process pair: sides "torch" and "jax"

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        """The key of the comparison it times (``analysis.grouping.paired_key``)."""
        return (self.kind, self.model, self.optimizer, self.mechanism, self.params)


@dataclass(frozen=True)
class BenchRun:
    """One ``xbench bench`` JSON."""

    path: Path
    machine_info: dict
    commit: dict  # id, dirty
    datetime: str
    results: tuple[Result, ...]
    folder_label: str | None = None  # the results folder it was found in, when it was
    format_version: int = VERSION
    paired: tuple[PairedCell, ...] = ()
    paired_settings: dict | None = None

    @property
    def label(self) -> str:
        return self.folder_label or machine_label(self.machine_info)

    @property
    def profile(self) -> str | None:
        return self.machine_info.get("xbench_profile")

    @property
    def benchmarks(self) -> tuple[Result, ...]:
        """The results that are benchmarks: all but the harness self-test."""
        return tuple(r for r in self.results if r.kind != SELF_TEST_KIND)

    def rows(self) -> list[dict]:
        """One row per benchmark, for a table (``to_frame``, ``xbench export --format csv``):
        the run (file, machine, commit, profile, time), the benchmark (``name``, ``group``,
        its case), pytest-benchmark's statistics in seconds (``median_s``, ``iqr_s``, ...;
        ``rounds``, ``iterations``) and every other ``extra_info`` field (a nested one as
        ``adjacent_reference.median``). Every row has every column; a missing value is None."""
        run = {"run": self.path.name, "machine": self.label, "commit": short_commit(self.commit),
               "profile": self.profile, "datetime": self.datetime}  # fmt: skip
        rows = []
        for r in self.benchmarks:
            row = {**run, "name": r.id, "group": r.group, "kind": r.kind,
                   "framework": r.framework, "implementation": r.implementation,
                   "optimizer": r.optimizer, "rule": r.rule,
                   "mechanism": mechanism(r.optimizer, r.rule) if r.optimizer else "",
                   "model": r.model, "size": r.params, "params": r.params,
                   "tensors": r.tensors, "device": r.device}  # fmt: skip
            for key, value in r.stats.items():
                row[key if key in NOT_SECONDS else f"{key}_s"] = value
            for key, value in _flat(r.extra).items():
                row.setdefault(key, value)
            rows.append(row)
        columns = list(dict.fromkeys(key for row in rows for key in row))
        return [{key: row.get(key) for key in columns} for row in rows]

    def to_frame(self):
        """``rows`` as a pandas DataFrame (pandas is an optional extra: ``xbench[frames]``)."""
        try:
            import pandas
        except ImportError:
            raise UsageError(
                "BenchRun.to_frame needs pandas, which is not installed; "
                'pip install "xbench[frames]"'
            ) from None
        return pandas.DataFrame(self.rows())

    @property
    def settings(self) -> dict:
        """What must agree for two runs to share a table."""
        info = self.machine_info
        return {
            "device": info.get("device_name"),
            "threads": (info.get("threads") or {}).get("requested"),
            "profile": self.profile,
            "versions": info.get("versions"),
            "commit": short_commit(self.commit),
        }


# ----------------------------------------------------------------------------- reading


def load(path: Path | str, folder_label: str | None = None) -> BenchRun:
    """A pytest-benchmark JSON written by ``xbench bench``, or a one-line UsageError.

    ``folder_label``: the machine folder it was found in under results/, which names its
    machine (a run made with ``--label``); otherwise the label comes from its machine_info.
    """
    path = Path(path)
    doc = read_json(path)
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
    version = format_version(doc, KIND, VERSION, path)
    if not doc["benchmarks"]:
        raise UsageError(f"{path}: holds no benchmarks")
    self_test = doc.get(SELF_TEST, [])
    if not isinstance(self_test, list):
        raise UsageError(f"{path}: its '{SELF_TEST}' is not a list")
    results = []
    for index, bench in enumerate(doc["benchmarks"] + self_test):
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
    info = doc["machine_info"]
    commit = info.get("git_commit") or doc.get("commit_info") or {}
    datetime = str(doc.get("datetime", ""))
    section = doc.get("paired")
    try:
        paired = _paired(section, {r.id: r.framework for r in results}) if section else ()
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: its 'paired' section is malformed ({_what(exc)})") from None
    settings = section.get("settings") if isinstance(section, dict) else None
    return BenchRun(
        path, info, commit, datetime, tuple(results), folder_label, version, paired, settings
    )


def paired_section(cells: list, rounds: list[list[Rounds]], settings: dict) -> dict:
    """The run JSON's ``paired`` section, as ``_paired`` reads it back: the stage's
    ``settings`` and, per cell (``model``, ``kind``, ``optimizer``, ``mechanism``,
    ``params``, and the ``torch`` and ``jax`` BenchCase compared), its process pairs'
    rounds."""
    sides = ("torch", "jax")
    return {
        "settings": settings,
        "cells": [
            {
                **{k: getattr(cell, k) for k in ("model", "kind", "optimizer", "mechanism")},
                "params": cell.params,
                **{f: getattr(cell, f).id for f in sides},
                "cases": {f: asdict(getattr(cell, f)) for f in sides},
                "iterations": pairs[0].iterations,
                "warmup": pairs[0].warmup,
                "pairs": [{**{f: r.seconds[f] for f in sides}, "first": r.letters} for r in pairs],
            }
            for cell, pairs in zip(cells, rounds, strict=True)
        ],
    }


def _paired(section: dict, ids: dict[str, str]) -> tuple[PairedCell, ...]:
    """The ``paired`` section's cells; ``ids`` maps the run's benchmark ids to their framework."""
    cells = []
    for cell in section["cells"]:
        for framework in ("torch", "jax"):
            if ids.get(cell[framework]) != framework:
                raise ValueError(f"{cell[framework]} is not a {framework} benchmark of this run")
        pairs = []
        for pair in cell["pairs"]:
            seconds = {"torch": list(pair["torch"]), "jax": list(pair["jax"])}
            try:
                pairs.append(Rounds.recorded(seconds, str(pair["first"]) or "?"))
            except ValueError as exc:
                raise ValueError(f"{cell['torch']}: {exc}") from None
        if not pairs:
            raise ValueError(f"{cell['torch']}: no process pair")
        strings = [str(cell[k]) for k in ("model", "kind", "optimizer", "mechanism")]
        compared = str(cell["torch"]), str(cell["jax"])
        cells.append(PairedCell(*strings, int(cell["params"]), *compared, tuple(pairs)))
    return tuple(cells)


def _flat(info: dict, prefix: str = "") -> dict:
    """``info`` with nested dicts flattened (``a.b``) and lists as JSON text."""
    flat = {}
    for key, value in info.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, (list, tuple)):
            flat[f"{prefix}{key}"] = json.dumps(value)
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _what(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


def _adjacent(info: dict) -> AdjacentReference | None:
    adjacent = info.get("adjacent_reference")
    if adjacent is None:
        return None
    median = adjacent.get("median") if isinstance(adjacent, dict) else None
    if not (isinstance(median, (int, float)) and math.isfinite(median) and median > 0):
        raise ValueError("adjacent_reference needs a positive median")
    return AdjacentReference(
        str(adjacent.get("kernel", "")), int(adjacent.get("bytes_moved", 0)), median
    )


def _overhead(info: dict) -> OverheadCheck | None:
    if "reported_over_bare" not in info:
        return None
    return OverheadCheck(
        float(info["reported_over_bare"]), info.get("paired_over_bare"), info.get("bare_median")
    )


def _result(bench: dict) -> Result:
    info, stats = bench["extra_info"], bench["stats"]
    median, iqr = float(stats["median"]), float(stats["iqr"])
    if not (math.isfinite(median) and median > 0 and math.isfinite(iqr) and iqr >= 0):
        raise ValueError(f"median {median} and IQR {iqr} must be finite, median positive")
    if int(info["param_count"]) < 1:
        raise ValueError(f"param_count {info['param_count']} must be positive")
    return Result(
        **{key: info[key] for key in ("id", "kind", "framework", "implementation")},
        **{key: info[key] for key in ("optimizer", "rule", "model")},
        params=int(info["param_count"]),
        tensors=int(info["tensors"]),
        device=info["device"],
        median=median,
        iqr=iqr,
        rounds=int(stats["rounds"]),
        **{key: info.get(key) for key in ("achieved_GBps", "bandwidth_pct", "compile_seconds")},
        extra=info,
        stats={k: v for k, v in stats.items() if k != "data"},
        adjacent=_adjacent(info),
        overhead=_overhead(info),
    )


# ----------------------------------------------------------------------------- writing


def case_info(bench: BenchCase) -> dict:
    """``extra_info`` that says what was timed: the BenchCase, its model, size and bytes."""
    info = asdict(bench)
    info.update(
        model=bench.model, bytes_moved=bench.bytes_moved, param_count=bench.params, id=bench.id
    )
    if bench.kind == "train":
        info["bytes_scope"] = TRAIN_BYTES_SCOPE
    return info


def built_info(bench: BenchCase, built: Timed) -> dict:
    """``extra_info`` that says what was built: the pinned flags or the kernel, compile time."""
    info: dict = {}
    if built.kernel is not None:
        info.update(kernel=built.kernel, elements=bench.elements)
    if built.implementation_flags:
        info["implementation_flags"] = built.implementation_flags
    return info | {"compile_seconds": built.compile_seconds}


def timing_info(timing: Timing | None, kernel: BenchCase | None = None, code: str = "") -> dict:
    """``extra_info`` that says how it was timed: rounds, iterations, and the adjacent
    reference kernel (``kernel`` timed with ``code``) when there was one."""
    if timing is None:
        return {}
    info = {"rounds": timing.rounds, "iterations": timing.iterations}
    if kernel is not None and timing.reference_seconds is not None:
        info["adjacent_reference"] = {
            "kernel": f"{kernel.implementation}: {code}",
            "bytes_moved": kernel.bytes_moved,
            "median": timing.reference_seconds,
        }
    return info


def machine_info(device: str, device_name: str, threads: dict, profile: str, commit: dict) -> dict:
    """What xbench adds to pytest-benchmark's ``machine_info``."""
    return {
        "versions": machine.versions(), "threads": threads, "cpu_model": machine.cpu_model(),
        "device": device, "device_name": device_name, "git_commit": commit,
        "xbench_profile": profile,
    }  # fmt: skip


def finish(output_json: dict) -> dict:
    """Complete a finished run's JSON: the ``format`` field, and each result's bandwidth.

    Adds ``achieved_GBps``, ``reference_GBps``, ``reference_kernel``, ``reference_params`` and
    ``bandwidth_pct`` to every result with ``bytes_moved`` (None without a limit on its
    device), and the standalone kernels' GB/s per device and size to
    ``machine_info.measured_bandwidth_GBps``.
    """
    benchmarks = output_json.get("benchmarks", [])
    standalone = standalone_limits(
        (info["device"], info["param_count"], _gbps(bench), info["implementation"])
        for bench in benchmarks
        if (info := bench.get("extra_info", {})).get("kind") == "reference"
    )
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        if "bytes_moved" not in info:
            continue
        gbps = _gbps(bench)
        if adjacent := info.get("adjacent_reference"):
            adjacent = (adjacent["kernel"], adjacent["bytes_moved"], adjacent["median"])
        limit = limit_for(info["device"], info["param_count"], adjacent, standalone)
        info.update(
            achieved_GBps=gbps,
            reference_GBps=limit and limit.gbps,
            reference_kernel=limit and limit.kernel,
            reference_params=limit and limit.params,
            bandwidth_pct=None if limit is None else 100.0 * gbps / limit.gbps,
        )
    output_json.setdefault("machine_info", {})["measured_bandwidth_GBps"] = {
        device: {
            str(n): {"GBps": gbps, "kernel": kernel} for n, (gbps, kernel) in sorted(s.items())
        }
        for device, s in standalone.items()
    }
    output_json["format"] = format_name(KIND, VERSION)
    self_test = [b for b in benchmarks if b.get("extra_info", {}).get("kind") == SELF_TEST_KIND]
    if self_test:  # a test of the harness, not a benchmark: kept beside them
        output_json["benchmarks"] = [b for b in benchmarks if b not in self_test]
        output_json[SELF_TEST] = self_test
    return output_json


def _gbps(bench: dict) -> float:
    return achieved_gbps(bench["extra_info"]["bytes_moved"], bench["stats"]["median"])


def labelled(doc: dict) -> dict:
    """A run's JSON with each benchmark's ``group`` and JSON ``params`` filled in from its
    ``extra_info``, and the harness self-test moved out of ``benchmarks`` (runs published
    before they were recorded; ``xbench migrate``). Nothing else changes."""
    benchmarks, self_test = [], list(doc.get(SELF_TEST, []))
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        if info.get("kind") == SELF_TEST_KIND:
            self_test.append(bench)
            continue
        case = case_of(info)
        bench["group"], bench["params"] = case.group, case.labels
        benchmarks.append(bench)
    for bench in self_test:
        labels = case_of({**bench["extra_info"], "kind": "overhead"}).labels
        bench["group"], bench["params"] = SELF_TEST, {**labels, "kind": SELF_TEST_KIND}
    doc["benchmarks"] = benchmarks
    if self_test:
        doc[SELF_TEST] = self_test
    return doc


def case_of(info: dict) -> BenchCase:
    """The BenchCase a benchmark timed, from its ``extra_info`` (``case_info`` wrote it)."""
    return BenchCase(**{f.name: info[f.name] for f in fields(BenchCase)})
