"""The study: what regularization does to a real model, trained the same way in torch and JAX.

Data: scikit-learn's bundled ``digits`` (8×8 images, 10 classes, no download), pixels scaled
to [0, 1]. One fixed split from ``SPLIT_SEED``: ``TRAIN_SIZE`` training images, the rest for
validation. The training set is small on purpose, so that the unregularized model overfits.

Model: ``mlp_digits`` (64 → 64 → 64 → 10, tanh), softmax cross-entropy, float32. For each
training seed NumPy draws the initial weights, the order of the batches of every epoch and the
dropout masks; both frameworks receive those very numbers (a ``Problem``) and run their own
optimizer, regularizer and autodiff (the adapters of ``xbench check``). Every condition decays
the kernels only (biases exempt, ``mask=True``).

After every epoch one NumPy function (float64, no dropout) evaluates each framework's
parameters: train and validation loss and accuracy, the kernels' norm, and the fraction of
kernel weights exactly zero and below ``SMALL`` in magnitude.

Nothing here imports torch or jax until a run starts.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from xbench.cases import Case, not_applicable_reason
from xbench.errors import UsageError
from xbench.models import MODELS, Tanh, init_params
from xbench.problems import Problem

MODEL = "mlp_digits"
SPLIT_SEED = 0
TRAIN_SIZE = 256
BATCH_SIZE = 32
SMALL = 1e-3  # "near zero" for the fraction of small weights
FRAMEWORKS = ("torch", "jax")
IMPLEMENTATION = {"torch": "forloop", "jax": "jit"}
LEARNING_RATE = {"momentum": 0.05, "adam": 3e-3, "adamw": 3e-3}
MOMENTUM = 0.9
L1_RATIO = 0.5  # ElasticNet: λ·(α‖w‖₁ + (1 − α)/2·‖w‖²)
HISTOGRAM_EDGES = tuple(float(e) for e in np.arange(-9.0, 1.01, 0.25))  # log10 |w| of kernels
FORMAT = "xbench-study/1"
DATETIME = "%Y-%m-%dT%H:%M:%SZ"  # the document's start time, UTC


@dataclass(frozen=True)
class Profile:
    name: str
    seeds: tuple[int, ...]
    epochs: int


PROFILES = {
    "full": Profile("full", (0, 1, 2, 3, 4), 150),
    "quick": Profile("quick", (0,), 60),
}


@dataclass(frozen=True)
class Condition:
    """One way to regularize (or not), run identically in both frameworks.

    family: none, l2, l1, l1_prox, elastic_net, dropout (SGD with momentum), and adam, adam_l2,
    adamw (Adam) for the question whether L2 in Adam and AdamW's decay train the same model.
    """

    family: str
    lam: float = 0.0
    dropout: float = 0.0

    @property
    def optimizer(self) -> str:
        return {"adam": "adam", "adam_l2": "adam", "adamw": "adamw"}.get(self.family, "momentum")

    @property
    def name(self) -> str:
        if self.family == "dropout":
            return f"dropout-{self.dropout:g}"
        return self.family if self.lam == 0 else f"{self.family}-{self.lam:g}"

    @property
    def label(self) -> str:
        what = FAMILY_LABELS[self.family]
        if self.family == "dropout":
            return f"{what} rate {self.dropout:g}"
        return what if self.lam == 0 else f"{what} λ={self.lam:g}"

    def rule(self, framework: str) -> str:
        """The rule each framework uses. The optimizer's own coupled weight decay is
        ``weight_decay`` in torch and ``add_decayed_weights`` in optax (``xbench check`` proves
        them equal); optax.sgd and optax.adam have no weight_decay argument."""
        if self.family in ("l2", "adam_l2"):
            return "weight_decay" if framework == "torch" else "add_decayed_weights"
        return {
            "adamw": "weight_decay",
            "l1": "l1_loss",
            "l1_prox": "l1_prox",
            "elastic_net": "elastic_net_loss",
        }.get(self.family, "none")

    def case(self, framework: str, seed: int, steps: int) -> Case:
        case = Case(
            model=MODEL,
            optimizer=self.optimizer,
            rule=self.rule(framework),
            lr=LEARNING_RATE[self.optimizer],
            weight_decay=self.lam,
            momentum=MOMENTUM,
            l1_ratio=L1_RATIO,
            mask=True,
            steps=steps,
            seed=seed,
            batch_size=BATCH_SIZE,
            dtype="float32",
        )
        reason = not_applicable_reason(framework, case)
        assert reason is None, f"{self.name} in {framework}: {reason}"
        return case


FAMILY_LABELS = {
    "none": "none",
    "l2": "L2 (weight decay)",
    "l1": "L1 subgradient",
    "l1_prox": "L1 proximal",
    "elastic_net": "ElasticNet α=0.5",
    "dropout": "dropout",
    "adam": "Adam, none",
    "adam_l2": "Adam + L2",
    "adamw": "AdamW",
}
L2_STRENGTHS = (1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1)  # from too little to far too much
L1_STRENGTHS = (1e-4, 1e-3, 1e-2)
ADAM_STRENGTHS = (1e-3, 1e-2)  # Adam + L2 and AdamW at the same λ
CONDITIONS = (
    Condition("none"),
    *(Condition("l2", lam) for lam in L2_STRENGTHS),
    *(Condition("l1", lam) for lam in L1_STRENGTHS),
    *(Condition("l1_prox", lam) for lam in L1_STRENGTHS),
    Condition("elastic_net", 1e-3),
    Condition("dropout", dropout=0.2),
    Condition("dropout", dropout=0.5),
    Condition("adam"),
    *(Condition("adam_l2", lam) for lam in ADAM_STRENGTHS),
    *(Condition("adamw", lam) for lam in (*ADAM_STRENGTHS, 1e-1)),
)
CONDITION_NAMES = tuple(c.name for c in CONDITIONS)
# Pairs of conditions whose final kernels are compared (same seed, same framework): does L2 in
# Adam train the model AdamW trains at the same λ, and how far is each from plain Adam?
CONTRASTS = tuple(
    pair
    for lam in ADAM_STRENGTHS
    for pair in (
        (f"adam_l2-{lam:g}", f"adamw-{lam:g}"),
        ("adam", f"adam_l2-{lam:g}"),
        ("adam", f"adamw-{lam:g}"),
    )
)


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray  # (TRAIN_SIZE, 64), float64 in [0, 1]
    y_train: np.ndarray  # (TRAIN_SIZE,) int labels
    x_val: np.ndarray
    y_val: np.ndarray


def load_digits() -> Digits:
    """The fixed split: a permutation from SPLIT_SEED, the first TRAIN_SIZE for training."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:
        raise UsageError(
            "xbench study needs scikit-learn (its bundled digits dataset); "
            "`make install` or pip install scikit-learn"
        ) from exc
    digits = sklearn_digits()
    x = digits.data / 16.0
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    train, val = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    return Digits(x[train], y[train], x[val], y[val])


def one_hot(labels: np.ndarray, classes: int = 10) -> np.ndarray:
    return np.eye(classes)[labels]


def batches_per_epoch() -> int:
    return TRAIN_SIZE // BATCH_SIZE


def make_problem(data: Digits, seed: int, epochs: int, dropout: float = 0.0) -> Problem:
    """Initial weights, every epoch's batches and the dropout masks, from ``seed``; float32.

    Each epoch visits the training set in a new order, ``BATCH_SIZE`` at a time. Dropout masks
    come from their own stream, one uniform draw per unit and step, kept where u ≥ rate and
    scaled by 1/(1 − rate): a larger rate drops a superset of the units a smaller one drops.
    """
    model = MODELS[MODEL]
    rng = np.random.default_rng(seed)
    params = init_params(model, rng)
    per_epoch = batches_per_epoch()
    order = np.concatenate(
        [rng.permutation(TRAIN_SIZE)[: per_epoch * BATCH_SIZE] for _ in range(epochs)]
    ).reshape(epochs * per_epoch, BATCH_SIZE)
    x, y = data.x_train[order], one_hot(data.y_train[order])
    keep: tuple[np.ndarray, ...] = ()
    if dropout:
        masks = np.random.default_rng([seed, 1])
        widths, width = [], model.input_shape[-1]
        for layer in model.layers:  # the width each Tanh sees: the output of the layer before
            width = getattr(layer, "fan_out", width)
            if isinstance(layer, Tanh):
                widths.append(width)
        keep = tuple(
            (masks.random((len(order), BATCH_SIZE, w)) >= dropout) / (1.0 - dropout) for w in widths
        )
    return Problem(model, params, x, y, "cross_entropy", keep).as_dtype(np.float32)


# ---------------------------------------------------------------- evaluation


def _forward():
    from xbench.registry import import_adapters_package

    import_adapters_package()
    from xbench_adapters.reference import forward, log_softmax

    return forward, log_softmax


def kernels(params: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([v.ravel() for n, v in sorted(params.items()) if n.endswith("/kernel")])


def evaluate(params: dict[str, np.ndarray], data: Digits) -> dict[str, float]:
    """Loss and accuracy on both sets, and the kernels' norm and sparsity, in float64."""
    forward, log_softmax = _forward()
    model = MODELS[MODEL]
    w64 = {n: np.asarray(v, np.float64) for n, v in params.items()}
    out: dict[str, float] = {}
    for split, x, y in (("train", data.x_train, data.y_train), ("val", data.x_val, data.y_val)):
        log_p = log_softmax(forward(model, w64, x)[0])
        out[f"{split}_loss"] = float(-np.mean(log_p[np.arange(len(y)), y]))
        out[f"{split}_acc"] = float(np.mean(log_p.argmax(axis=-1) == y))
    w = kernels(params)
    out["weight_norm"] = float(np.sqrt(np.sum(np.asarray(w, np.float64) ** 2)))
    out["zero_frac"] = float(np.mean(w == 0))
    out["small_frac"] = float(np.mean(np.abs(w) < SMALL))
    return out


def confusion(params: dict[str, np.ndarray], data: Digits) -> list[list[int]]:
    """Validation confusion matrix: rows the true digit, columns the predicted one."""
    forward, _ = _forward()
    w64 = {n: np.asarray(v, np.float64) for n, v in params.items()}
    predicted = forward(MODELS[MODEL], w64, data.x_val)[0].argmax(axis=-1)
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (data.y_val, predicted), 1)
    return matrix.tolist()


def histogram(params: dict[str, np.ndarray]) -> dict:
    """Kernel weights by log10 |w| over HISTOGRAM_EDGES, and the exact zeros apart."""
    w = np.abs(kernels(params).astype(np.float64))
    nonzero = w[w > 0]
    counts, _ = np.histogram(np.log10(nonzero), bins=np.array(HISTOGRAM_EDGES))
    below = int(np.sum(np.log10(nonzero) < HISTOGRAM_EDGES[0])) if nonzero.size else 0
    return {"zeros": int(np.sum(w == 0)), "below": below, "counts": counts.tolist()}


def agreement(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """How far two frameworks' final kernels are apart."""
    wa, wb = kernels(a).astype(np.float64), kernels(b).astype(np.float64)
    return {
        "max_abs_diff": float(np.max(np.abs(wa - wb))),
        "rel_diff": float(np.linalg.norm(wa - wb) / max(np.linalg.norm(wb), 1e-300)),
        "zero_pattern_mismatch": float(np.mean((wa == 0) != (wb == 0))),
    }


# ---------------------------------------------------------------- training


class Diverged(Exception):
    """A run's loss became NaN or Inf."""


def train(
    framework: str,
    condition: Condition,
    seed: int,
    epochs: int,
    data: Digits,
    problem: Problem,
    on_epoch: Callable[[int], None] | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Train one condition in one framework; per-epoch metrics and the final parameters."""
    from xbench.registry import load_adapter

    per_epoch = batches_per_epoch()
    case = condition.case(framework, seed, epochs * per_epoch)
    adapter = load_adapter(framework)(problem, case, IMPLEMENTATION[framework])
    history = [evaluate(adapter.params(), data)]
    start = time.perf_counter()
    for epoch in range(epochs):
        for index in range(epoch * per_epoch, (epoch + 1) * per_epoch):
            adapter.step(index)
        history.append(evaluate(adapter.params(), data))
        if not math.isfinite(history[-1]["train_loss"]):
            raise Diverged(
                f"{condition.name} diverged in {framework} (seed {seed}) at epoch {epoch + 1}; "
                "nothing was saved: lower the learning rate in xbench/study.py or drop the "
                "condition with --conditions"
            )
        if on_epoch:
            on_epoch(epoch + 1)
    seconds = time.perf_counter() - start
    final = adapter.params()
    run = {
        "condition": condition.name,
        "framework": framework,
        "seed": seed,
        "rule": case.rule,
        "implementation": IMPLEMENTATION[framework],
        "seconds": round(seconds, 3),
        "history": {k: [h[k] for h in history] for k in history[0]},
        "confusion": confusion(final, data),
        "histogram": histogram(final),
    }
    return run, final


class Progress:
    """One line per finished run; on a terminal, the epoch counter of the run in progress."""

    def __init__(self, total: int, stream=None) -> None:
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()

    def epoch(self, what: str, epoch: int, epochs: int) -> None:
        if self.live:
            self.stream.write(f"\r[{self.done + 1:3d}/{self.total}] {what}  epoch {epoch}/{epochs}")
            self.stream.flush()

    def finished(self, what: str, run: dict) -> None:
        self.done += 1
        last = {k: v[-1] for k, v in run["history"].items()}
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        line = (
            f"[{self.done:3d}/{self.total}] {what:<42} {run['seconds']:5.1f} s  "
            f"train {last['train_acc']:.1%}  val {last['val_acc']:.1%}  "
            f"zeros {last['zero_frac']:.1%}  (elapsed {elapsed:.0f} s, ~{eta:.0f} s left)"
        )
        self.stream.write(("\r" if self.live else "") + line + "\n")
        self.stream.flush()


def select(names: list[str] | None) -> tuple[Condition, ...]:
    if not names:
        return CONDITIONS
    unknown = [n for n in names if n not in CONDITION_NAMES]
    if unknown:
        raise UsageError(f"unknown condition {unknown[0]!r}; valid: {', '.join(CONDITION_NAMES)}")
    return tuple(c for c in CONDITIONS if c.name in names)


def run_study(
    profile: Profile, conditions: tuple[Condition, ...] = CONDITIONS, stream=None
) -> dict:
    """Every condition × seed × framework; the study document (see ``save``)."""
    from xbench.machine import PACKAGES, cpu_model, git_commit, versions

    data = load_digits()
    total = len(conditions) * len(profile.seeds) * len(FRAMEWORKS)
    progress = Progress(total, stream)
    started = datetime.now(timezone.utc)
    commit = git_commit()
    runs, agreements, contrasts = [], [], []
    for seed in profile.seeds:
        problems: dict[float, Problem] = {}
        finals_by_condition: dict[str, dict] = {}
        for condition in conditions:
            rate = condition.dropout
            if rate not in problems:
                problems[rate] = make_problem(data, seed, profile.epochs, rate)
            finals = {}
            for framework in FRAMEWORKS:
                what = f"seed {seed} · {condition.label} · {framework}"
                run, finals[framework] = train(
                    framework,
                    condition,
                    seed,
                    profile.epochs,
                    data,
                    problems[rate],
                    lambda e, what=what: progress.epoch(what, e, profile.epochs),
                )
                progress.finished(what, run)
                runs.append(run)
            agreements.append(
                {"condition": condition.name, "seed": seed}
                | agreement(finals["torch"], finals["jax"])
            )
            finals_by_condition[condition.name] = finals
        for a, b in CONTRASTS:
            if a in finals_by_condition and b in finals_by_condition:
                for framework in FRAMEWORKS:
                    contrasts.append(
                        {"a": a, "b": b, "seed": seed, "framework": framework}
                        | agreement(
                            finals_by_condition[a][framework], finals_by_condition[b][framework]
                        )
                    )
    return {
        "format": FORMAT,
        "profile": profile.name,
        "datetime": started.strftime(DATETIME),
        "seconds": round(time.perf_counter() - progress.start, 1),
        "settings": settings(profile, data),
        "conditions": [condition_info(c) for c in conditions],
        "machine_info": {
            "versions": versions((*PACKAGES, "scikit-learn")),
            "cpu_model": cpu_model(),
            "commit": commit,
        },
        "runs": runs,
        "agreement": agreements,
        "contrasts": contrasts,
    }


def settings(profile: Profile, data: Digits) -> dict:
    model = MODELS[MODEL]
    return {
        "seeds": list(profile.seeds),
        "epochs": profile.epochs,
        "model": MODEL,
        "layers": [asdict(layer) | {"type": type(layer).__name__} for layer in model.layers],
        "train_size": len(data.x_train),
        "val_size": len(data.x_val),
        "split_seed": SPLIT_SEED,
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "momentum": MOMENTUM,
        "l1_ratio": L1_RATIO,
        "small": SMALL,
        "dtype": "float32",
        "implementation": IMPLEMENTATION,
        "histogram_edges": list(HISTOGRAM_EDGES),
    }


def condition_info(c: Condition) -> dict:
    return {
        "name": c.name,
        "family": c.family,
        "label": c.label,
        "optimizer": c.optimizer,
        "lambda": c.lam,
        "dropout": c.dropout,
        "rule": {f: c.rule(f) for f in FRAMEWORKS},
    }


# ---------------------------------------------------------------- files


def save(doc: dict, folder: Path) -> Path:
    """``<folder>/<UTC start>_<profile>_<commit>.json``, never replacing a file."""
    from xbench.bench import publish_new

    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.strptime(doc["datetime"], DATETIME).replace(tzinfo=timezone.utc)
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    commit = doc["machine_info"]["commit"]
    return publish_new(text.encode(), folder, doc["profile"], commit, when=started)


def load(path: Path) -> dict:
    """A study document, validated enough that rendering cannot fail half-way."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no such study file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; give a study JSON file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a readable study JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UsageError(f"{path}: not an xbench study file (no format {FORMAT!r})")
    keys = ("profile", "settings", "conditions", "runs", "agreement", "contrasts", "machine_info")
    for key in keys:
        if key not in doc:
            raise UsageError(f"{path}: study file without {key!r}")
    try:
        _validate(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: malformed study file ({type(exc).__name__}: {exc})") from None
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None
    return doc


METRICS = (
    "train_loss",
    "val_loss",
    "train_acc",
    "val_acc",
    "weight_norm",
    "zero_frac",
    "small_frac",
)


def _validate(doc: dict) -> None:
    """Everything the report reads: the conditions it needs, a run of every condition ×
    framework × seed, with every metric at every epoch, and the agreement entries."""
    s = doc["settings"]
    seeds, epochs = list(s["seeds"]), int(s["epochs"])
    _require(s, "settings", ("small", "histogram_edges", "train_size", "val_size", "learning_rate"))
    families = {c["name"]: c["family"] for c in doc["conditions"]}
    if "none" not in families or "l2" not in families.values():
        raise UsageError("the study needs the 'none' condition and at least one l2-* condition")
    runs = {(r["condition"], r["framework"], r["seed"]): r for r in doc["runs"]}
    for name in families:
        for framework in FRAMEWORKS:
            for seed in seeds:
                run = runs.get((name, framework, seed))
                if run is None:
                    raise UsageError(f"no {framework} run of {name} for seed {seed}")
                for metric in METRICS:
                    if len(run["history"][metric]) != epochs + 1:
                        raise UsageError(
                            f"{framework} {name} seed {seed}: {metric} is not per epoch"
                        )
                if len(run["confusion"]) != 10 or "zeros" not in run["histogram"]:
                    raise UsageError(f"{framework} {name} seed {seed}: no confusion or histogram")
            if not any(a["condition"] == name for a in doc["agreement"]):
                raise UsageError(f"no torch/JAX agreement for {name}")
    _require(doc["machine_info"], "machine_info", ("versions", "commit", "cpu_model"))


def _require(mapping: dict, where: str, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise UsageError(f"{where} without {', '.join(missing)}")
