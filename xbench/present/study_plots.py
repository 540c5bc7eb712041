"""The plots of STUDY.md: learning curves, accuracy against λ, weight histograms, confusion
matrices and, when the record has them, batch norm and the combination against the rest.
matplotlib is imported only when drawing; the same record draws the same bytes (no
timestamps, a fixed hash salt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xbench.analysis.study import (
    TARGET_VAL_LOSS,
    StudyIndex,
    has_batch_norm_conditions,
    has_combination,
    tuned_l2,
)
from xbench.records.study_run import StudyRun

PLOTS = {
    "curves": "study-learning-curves.png",
    "lambda": "study-accuracy-vs-lambda.png",
    "weights": "study-weight-histograms.png",
    "confusion": "study-confusion.png",
    "batch_norm": "study-batch-norm-and-combination.png",
}
HISTOGRAM_CONDITIONS = ("none", "l2-0.001", "l1-0.001", "l1_prox-0.001")  # λ=1e-3 per rule
LINES = (("torch", "-", 1.6), ("jax", ":", 1.0))  # framework, style, width: torch solid, JAX dotted


def draw(run: StudyRun, folder: Path) -> list[Path]:
    """The PNGs of STUDY.md into ``folder``; the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "xbench", "font.size": 9})
    study = StudyIndex(run)
    written = []
    plots = {"curves": _curves, "lambda": _lambda, "weights": _weights, "confusion": _confusion}
    if has_batch_norm_conditions(study) or has_combination(study):
        plots["batch_norm"] = _batch_norm
    for key, fn in plots.items():
        fig = fn(plt, study)
        path = folder / PLOTS[key]
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


def _curves(plt, study: StudyIndex):
    l2 = sorted(study.names("l2"), key=study.lam)
    tuned = tuned_l2(study)
    picks = ["none", tuned] + [n for n in l2 if study.lam(n) > study.lam(tuned)][:2]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for color, name in zip(colors, picks, strict=False):
        for framework, style, width in LINES:
            for ax, metric in zip(axes, ("loss", "acc"), strict=True):
                for split, alpha in (("train", 0.55), ("val", 1.0)):
                    y = study.curve(name, f"{split}_{metric}", framework).mean(axis=0)
                    label = f"{study.label(name)}, {split}" if framework == "torch" else None
                    ax.plot(y, style, color=color, alpha=alpha, lw=width, label=label)
    axes[0].set(yscale="log", ylabel="cross-entropy")
    axes[1].set(ylabel="accuracy", ylim=(0.7, 1.005))
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Learning curves: training (faint) and validation, with and without L2")
    fig.tight_layout()
    return fig


def _lambda(plt, study: StudyIndex):
    families = [f for f in ("l2", "l1", "l1_prox") if study.names(f)]
    fig, axes = plt.subplots(1, len(families), figsize=(4.4 * len(families), 4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, family in zip(axes, families, strict=True):
        names = sorted(study.names(family), key=study.lam)
        lams = [study.lam(n) for n in names]
        for split, marker in (("train", "o"), ("val", "s")):
            for framework, style, alpha in (("torch", "-", 1.0), ("jax", ":", 0.6)):
                values = np.array([study.final(n, f"{split}_acc", framework) for n in names])
                ax.errorbar(
                    lams, values.mean(axis=1), yerr=values.std(axis=1), fmt=marker + style,
                    capsize=3, label=f"{split} ({framework})", alpha=alpha,
                )  # fmt: skip
            ax.axhline(study.final("none", f"{split}_acc").mean(), ls="--", lw=0.8, color="grey")
        ax.set(xscale="log", xlabel="λ", title=study.label(names[0]).split(" λ=")[0])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy after the last epoch")
    axes[0].legend(fontsize=7)
    fig.suptitle("Accuracy against λ (dashed: no regularization; bars: ± sd over seeds)")
    fig.tight_layout()
    return fig


def _weights(plt, study: StudyIndex):
    edges = np.array(study.run.settings.histogram_edges)
    names = [n for n in HISTOGRAM_CONDITIONS if study.has(n)]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    width = edges[1] - edges[0]
    for ax, name in zip(axes, names, strict=True):
        counts = np.zeros(len(edges) - 1)
        zeros = 0
        for seed in study.seeds:
            h = study.runs[name, "torch", seed].histogram
            counts += h.counts
            counts[0] += h.below  # nonzero but below the first edge: in the first bin
            zeros += h.zeros
        total = counts.sum() + zeros
        ax.bar(edges[:-1], counts / total, width=width, align="edge", color="tab:blue")
        ax.bar([edges[0] - 1.0], [zeros / total], width=0.8, color="tab:red")
        ax.set(xticks=[edges[0] - 0.6, -6, -3, 0], xticklabels=["0", "1e-6", "1e-3", "1"])
        ax.set_title(f"{study.label(name)}\n{zeros / total:.1%} exactly 0", fontsize=8)
        ax.set_xlabel("|w|")
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("fraction of kernel weights")
    fig.tight_layout()
    return fig


def _confusion(plt, study: StudyIndex):
    l2 = sorted(study.names("l2"), key=study.lam)
    names = ["none", tuned_l2(study), l2[-2] if len(l2) > 1 else l2[-1]]
    seed = study.seeds[0]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.8))
    for ax, name in zip(axes, names, strict=True):
        torch_m = np.array(study.runs[name, "torch", seed].confusion)
        jax_m = np.array(study.runs[name, "jax", seed].confusion)
        ax.imshow(np.log1p(torch_m), cmap="Blues")
        for i in range(10):
            for j in range(10):
                if torch_m[i, j]:
                    dark = np.log1p(torch_m[i, j]) > 0.6 * np.log1p(torch_m.max())
                    color = "white" if dark else "black"
                    ax.text(j, i, torch_m[i, j], ha="center", va="center", fontsize=6, color=color)
        accuracy = np.trace(torch_m) / torch_m.sum()
        differ = int(np.abs(torch_m - jax_m).sum())
        ax.set_title(f"{study.label(name)}: {accuracy:.1%}\nJAX: Σ|Δ count| = {differ}", fontsize=8)
        ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10))
    fig.tight_layout()
    return fig


def _batch_norm(plt, study: StudyIndex):
    """Validation loss by epoch (mean over seeds): batch norm against none, and dropout + L2
    against dropout and L2 alone, with the target that measures speed."""
    groups = [
        ("Batch norm", ["none", *study.names("bn"), *study.names("bn_l2")]),
        ("Combining regularizers", ["none", *study.names("dropout"), tuned_l2(study),
                                    *study.names("dropout_l2")]),
    ]  # fmt: skip
    groups = [(title, [n for n in names if study.has(n)]) for title, names in groups]
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), sharey=True)
    axes = np.atleast_1d(axes)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, names) in zip(axes, groups, strict=True):
        for color, name in zip(colors, names, strict=False):
            for framework, style, width in LINES:
                y = study.curve(name, "val_loss", framework).mean(axis=0)
                label = study.label(name) if framework == "torch" else None
                ax.plot(y, style, color=color, lw=width, label=label)
        ax.axhline(TARGET_VAL_LOSS, color="grey", lw=0.8, ls="--")
        ax.set(title=title, xlabel="epoch", yscale="log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("validation cross-entropy")
    fig.tight_layout()
    return fig
