"""A study (``xbench study``): typed record, writer and reader of its JSON (``format``
``xbench-study/1``, its fields in docs/formats.md; ``stability`` is absent from files written
before the stability experiment, which read with none).

Written under ``<out>/runs/<start>_<profile>_<commit>.json``, never replaced.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

from xbench.errors import UsageError
from xbench.records.files import format_name, format_version, read_json
from xbench.records.layout import publish_new
from xbench.workloads.cases import FRAMEWORKS

KIND, VERSION = "study", 1
DATETIME = "%Y-%m-%dT%H:%M:%SZ"  # the document's start time, UTC
METRICS = (  # in every run's history, per epoch
    "train_loss", "val_loss", "train_acc", "val_acc", "weight_norm", "zero_frac", "small_frac",
)  # fmt: skip


@dataclass(frozen=True)
class StudySettings:
    seeds: tuple[int, ...]
    epochs: int
    small: float = 1e-3  # "near zero" for the fraction of small weights
    model: str = ""
    layers: tuple[dict, ...] = ()  # each layer as data, with its "type"
    train_size: int = 0
    val_size: int = 0
    split_seed: int = 0
    batch_size: int = 0
    learning_rate: dict[str, float] = field(default_factory=dict)  # by optimizer
    momentum: float = 0.0
    l1_ratio: float = 0.0
    dtype: str = "float32"
    implementation: dict[str, str] = field(default_factory=dict)  # by framework
    histogram_edges: tuple[float, ...] = ()  # log10 |w| bin edges of the kernel histograms
    threads: int | None = None


@dataclass(frozen=True)
class ConditionInfo:
    """One condition as recorded: what it is, and the rule each framework ran."""

    name: str
    family: str
    label: str
    optimizer: str
    lam: float  # "lambda" in the JSON
    dropout: float
    rule: dict[str, str]  # framework -> rule
    model: str = ""  # "" in records written before batch norm: the settings' model


@dataclass(frozen=True)
class Histogram:
    zeros: int  # kernel weights exactly 0
    below: int  # nonzero but below the first edge
    counts: tuple[int, ...]  # per bin of histogram_edges


@dataclass(frozen=True)
class TrainingRun:
    """One condition trained in one framework from one seed."""

    condition: str
    framework: str
    seed: int
    history: dict[str, list[float]]  # metric -> value before training, then after each epoch
    rule: str = ""
    implementation: str = ""
    seconds: float = 0.0
    confusion: tuple[tuple[int, ...], ...] = ()  # validation: rows true, columns predicted
    histogram: Histogram | None = None

    def final(self, metric: str) -> float:
        return self.history[metric][-1]


@dataclass(frozen=True)
class Distance:
    """How far two sets of final kernels are apart."""

    max_abs_diff: float
    rel_diff: float  # ‖Δw‖ / ‖w‖
    zero_pattern_mismatch: float  # fraction of weights zero on one side only


@dataclass(frozen=True)
class FrameworkDistance(Distance):
    """torch against JAX, one condition and seed."""

    condition: str = ""
    seed: int = 0


@dataclass(frozen=True)
class Contrast(Distance):
    """Condition ``a`` against condition ``b``, one seed and framework."""

    a: str = ""
    b: str = ""
    seed: int = 0
    framework: str = ""


MECHANISMS = ("weight_decay", "l2_loss")  # the optimizer's own decay; a penalty in the loss


@dataclass(frozen=True)
class StabilityCell:
    """One float32 run against the float64 reference of the same case, from the same
    float32-rounded start (``xbench.study.stability``)."""

    framework: str
    optimizer: str
    mechanism: str  # MECHANISMS: "weight_decay" (the optimizer's own) or "l2_loss"
    rule: str  # the framework's rule: weight_decay, add_decayed_weights or l2_loss
    lam: float  # "lambda" in the JSON
    lr: float
    seed: int
    steps: int
    checkpoints: tuple[int, ...]  # steps after which the error was measured; the last: steps
    rel_error: tuple[float, ...]  # ‖w32 − w64‖/‖w64‖ over every parameter, per checkpoint
    tiny: bool = False  # η·λ below float32's resolution near 1 (1 − ηλ rounds to 1)
    decay_effect: float | None = None  # ‖w64 − w64(λ=0)‖/‖w64‖ at the end: the decay's effect
    decay_effect_f32: float | None = None  # ‖w32 − w32(λ=0)‖/‖w64‖: what float32 kept of it

    @property
    def final(self) -> float:
        return self.rel_error[-1]


@dataclass(frozen=True)
class StudyRun:
    profile: str
    datetime: str
    seconds: float
    settings: StudySettings
    conditions: tuple[ConditionInfo, ...]
    machine_info: dict  # versions, cpu_model, commit
    runs: tuple[TrainingRun, ...]
    agreement: tuple[FrameworkDistance, ...] = ()  # its JSON field keeps the name
    contrasts: tuple[Contrast, ...] = ()
    bench_run: str | None = None  # the bench run used for the step-cost claim
    stability: tuple[StabilityCell, ...] = ()  # float32 against float64 (none in older files)

    @property
    def commit(self) -> dict:
        return self.machine_info.get("commit") or {}

    def replace(self, **changes) -> StudyRun:
        return replace(self, **changes)


# ----------------------------------------------------------------------------- writing


def _plain(value):
    """Tuples as lists, recursively: the JSON form."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_document(run: StudyRun) -> dict:
    settings = {k: v for k, v in asdict(run.settings).items() if k != "threads" or v is not None}
    doc = {
        "format": format_name(KIND, VERSION),
        "profile": run.profile,
        "datetime": run.datetime,
        "seconds": run.seconds,
        "settings": settings,
        "conditions": [_with_lambda(c) for c in run.conditions],
        "machine_info": run.machine_info,
        "runs": [asdict(r) for r in run.runs],
        "agreement": [asdict(a) for a in run.agreement],
        "contrasts": [asdict(c) for c in run.contrasts],
        "bench_run": run.bench_run,
    }
    if run.stability:  # absent when not measured: an older record writes back as it was read
        doc["stability"] = [_with_lambda(c) for c in run.stability]
    return _plain(doc)


def _with_lambda(record) -> dict:
    """A condition or stability cell as its JSON has it: ``lam`` as ``lambda``."""
    return {k if k != "lam" else "lambda": v for k, v in asdict(record).items()}


def to_text(run: StudyRun) -> str:
    return json.dumps(to_document(run), indent=1, sort_keys=True) + "\n"


def save(run: StudyRun, folder: Path) -> Path:
    """``<folder>/<UTC start>_<profile>_<commit>.json``, never replacing a file."""
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.strptime(run.datetime, DATETIME).replace(tzinfo=timezone.utc)
    return publish_new(to_text(run).encode(), folder, run.profile, run.commit, when=started)


# ----------------------------------------------------------------------------- reading


def _known(cls, raw: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in raw.items() if k in names}


def condition_info(c: dict) -> ConditionInfo:
    return ConditionInfo(
        c["name"], c["family"], c["label"], c["optimizer"], c["lambda"], c["dropout"],
        dict(c["rule"]), c.get("model", ""),
    )  # fmt: skip


def stability_cell(raw: dict) -> StabilityCell:
    cell = _known(StabilityCell, {k if k != "lambda" else "lam": v for k, v in raw.items()})
    cell["checkpoints"] = tuple(int(k) for k in cell["checkpoints"])
    cell["rel_error"] = tuple(float(e) for e in cell["rel_error"])
    return StabilityCell(**cell)


def from_document(doc: dict) -> StudyRun:
    """The typed record of a study document; only what it holds is required, the rest
    takes defaults (``load`` first checks that a file holds everything a page needs)."""
    s = dict(doc["settings"])
    s["seeds"] = tuple(s["seeds"])
    s.setdefault("epochs", 0)
    for key in ("layers", "histogram_edges"):
        if key in s:
            s[key] = tuple(s[key])
    runs = []
    for r in doc["runs"]:
        r = _known(TrainingRun, r)
        if "confusion" in r:
            r["confusion"] = tuple(tuple(row) for row in r["confusion"])
        if r.get("histogram") is not None:
            h = r["histogram"]
            r["histogram"] = Histogram(h["zeros"], h["below"], tuple(h["counts"]))
        runs.append(TrainingRun(**r))
    return StudyRun(
        profile=doc.get("profile", ""),
        datetime=doc.get("datetime", ""),
        seconds=doc.get("seconds", 0.0),
        settings=StudySettings(**_known(StudySettings, s)),
        conditions=tuple(condition_info(c) for c in doc["conditions"]),
        machine_info=doc.get("machine_info", {}),
        runs=tuple(runs),
        agreement=tuple(
            FrameworkDistance(**_known(FrameworkDistance, a)) for a in doc.get("agreement", [])
        ),
        contrasts=tuple(Contrast(**_known(Contrast, c)) for c in doc.get("contrasts", [])),
        bench_run=doc.get("bench_run"),
        stability=tuple(stability_cell(c) for c in doc.get("stability", [])),
    )


def load(path: Path) -> StudyRun:
    """A study file, validated enough that rendering cannot fail half-way."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such study file")
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a study JSON file")
    doc = read_json(path, "study JSON file")
    if not isinstance(doc, dict) or doc.get("format") is None:
        raise UsageError(f"{path}: not an xbench study file (no format {format_name(KIND, 1)!r})")
    format_version(doc, KIND, VERSION, path)
    keys = ("profile", "settings", "conditions", "runs", "agreement", "contrasts", "machine_info")
    for key in keys:
        if key not in doc:
            raise UsageError(f"{path}: study file without {key!r}")
    try:
        _validate(doc)
        return from_document(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: malformed study file ({type(exc).__name__}: {exc})") from None
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None


def require_baseline_conditions(families: dict[str, str], where: str = "the study") -> None:
    """A study needs ``none`` and at least one ``l2`` condition: the claims compare with
    them (``families``: condition name -> family)."""
    if "none" not in families or "l2" not in families.values():
        raise UsageError(f"{where} must include 'none' and at least one l2-* condition")


def _validate(doc: dict) -> None:
    """Everything the pages read: the conditions they need, a run of every condition ×
    framework × seed, with every metric at every epoch, and the agreement entries."""
    s = doc["settings"]
    seeds, epochs = list(s["seeds"]), int(s["epochs"])
    _require(s, "settings", ("small", "histogram_edges", "train_size", "val_size", "learning_rate"))
    families = {c["name"]: c["family"] for c in doc["conditions"]}
    require_baseline_conditions(families)
    runs = {(r["condition"], r["framework"], r["seed"]): r for r in doc["runs"]}
    for name in families:
        for framework in FRAMEWORKS:
            for seed in seeds:
                run = runs.get((name, framework, seed))
                if run is None:
                    raise UsageError(f"no {framework} run of {name} for seed {seed}")
                where = f"{framework} {name} seed {seed}"
                for metric in METRICS:
                    if len(run["history"][metric]) != epochs + 1:
                        raise UsageError(f"{where}: {metric} is not per epoch")
                if len(run["confusion"]) != 10 or "zeros" not in run["histogram"]:
                    raise UsageError(f"{where}: no confusion or histogram")
            if not any(a["condition"] == name for a in doc["agreement"]):
                raise UsageError(f"no torch/JAX agreement for {name}")
    _require(doc["machine_info"], "machine_info", ("versions", "commit", "cpu_model"))
    if not isinstance(doc.get("bench_run"), (str, type(None))):
        raise UsageError(f"bench_run {doc['bench_run']!r} is not a file path")
    _validate_stability(doc.get("stability", []))


def _validate_stability(cells: list) -> None:
    """Each stability cell: what the claim and the page read, an error per checkpoint."""
    keys = ("framework", "optimizer", "mechanism", "rule", "lambda", "lr", "seed", "steps")
    for cell in cells:
        _require(cell, "stability cell", (*keys, "checkpoints", "rel_error"))
        where = f"stability cell {cell['framework']} {cell['optimizer']} {cell['mechanism']}"
        if cell["mechanism"] not in MECHANISMS:
            raise UsageError(f"{where}: mechanism not one of {', '.join(MECHANISMS)}")
        if not cell["checkpoints"] or len(cell["checkpoints"]) != len(cell["rel_error"]):
            raise UsageError(f"{where}: not one error per checkpoint")
        if cell["checkpoints"] != cells[0]["checkpoints"]:
            raise UsageError(f"{where}: checkpoints differ from the other cells'")


def _require(mapping: dict, where: str, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise UsageError(f"{where} without {', '.join(missing)}")
