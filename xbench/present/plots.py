"""PNG plots for ``xbench report``: time per step and achieved bandwidth against parameter
count, log–log, one line per framework and implementation, the measured bandwidth as the
roofline. Headless (Agg); matplotlib is imported only here.
"""

from __future__ import annotations

from pathlib import Path

from xbench.analysis.grouping import OPTIMIZER_ORDER, Machine, tables
from xbench.present.labels import MODEL_TITLES
from xbench.records.bench_run import Result
from xbench.workloads.benchmarks import bytes_per_param
from xbench.workloads.cases import mechanism

COLORS = {
    ("torch", "forloop"): "#9ecae1",
    ("torch", "foreach"): "#4292c6",
    ("torch", "fused"): "#08306b",
    ("torch", "compiled"): "#6a51a3",
    ("jax", "jit"): "#fdae6b",
    ("jax", "jit_donate"): "#d94801",
    ("jax", "jit_flat"): "#7f2704",
}
RULE_STYLES = {"none": "-", "optimizer's decay": "--", "l2_loss": ":"}
ROOFLINE = "roofline: measured in-place add"


def plot_name(label: str, model: str) -> str:
    return f"{label}-{model}.png"


def plot_machine(machine: Machine, out_dir: Path) -> list[Path]:
    """One PNG per model of ``machine``; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    written = []
    for model, results in tables(machine.results):
        written.append(out_dir / plot_name(machine.label, model))
        _plot_model(machine, model, results, written[-1])
    return written


def _plot_model(machine: Machine, model: str, results: list[Result], path: Path) -> None:
    import matplotlib.pyplot as plt

    optimizers = sorted({r.optimizer for r in results}, key=OPTIMIZER_ORDER)
    update = results[0].kind == "update"
    rows = 2 if update else 1
    fig, axes = plt.subplots(
        rows, len(optimizers), figsize=(3.6 * len(optimizers) + 1.0, 3.3 * rows + 1.0),
        squeeze=False, sharex=True,
    )  # fmt: skip
    roofline = _roofline(machine)
    for col, optimizer in enumerate(optimizers):
        _plot_optimizer(axes[:, col], optimizer, results, update, roofline)
    axes[0][0].set_ylabel("seconds per step (median)")
    if update:
        axes[1][0].set_ylabel("achieved GB/s")
    handles = _legend(results, update and bool(roofline))
    columns = 4
    fig.legend(
        handles, [h.get_label() for h in handles], loc="lower center",
        ncol=columns, fontsize=8, frameon=False,
    )  # fmt: skip
    title = MODEL_TITLES.get(model, model).replace("`", "")
    fig.suptitle(f"{machine.label}: {title}", fontsize=11)
    legend_rows = -(-len(handles) // columns)
    fig.tight_layout(rect=(0, (0.028 * legend_rows + 0.01) * (3 - rows), 1, 1))
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _plot_optimizer(
    column, optimizer: str, results: list[Result], update: bool, roofline: dict[int, float]
) -> None:
    """One optimizer's column: time (and, for update steps, GB/s) against parameters."""
    mine = sorted((r for r in results if r.optimizer == optimizer), key=lambda r: r.params)
    shown = _shown_rules(optimizer, mine, update)
    lines: dict[tuple, list[Result]] = {}
    for r in mine:
        rule = shown.get(mechanism(r.optimizer, r.rule))
        if rule and not (update and r.achieved_GBps is None):
            lines.setdefault((r.framework, r.implementation, rule), []).append(r)
    time_ax = column[0]
    for (framework, impl, rule), points in lines.items():
        style = dict(
            color=COLORS.get((framework, impl), "grey"),
            linestyle=RULE_STYLES[rule] if not update else "-",
            marker="o" if framework == "torch" else "s",
            markersize=3.5,
        )
        sizes = [p.params for p in points]
        time_ax.plot(sizes, [p.median for p in points], **style)
        if update:
            column[1].plot(sizes, [p.achieved_GBps for p in points], **style)
    if update and roofline:
        sizes = sorted(roofline)
        floor = [n * bytes_per_param(optimizer) / (roofline[n] * 1e9) for n in sizes]
        time_ax.plot(sizes, floor, "k--", linewidth=1)
        column[1].plot(sizes, [roofline[n] for n in sizes], "k--", linewidth=1)
    time_ax.set_title(f"{optimizer}, {next(iter(shown))}" if update else optimizer, fontsize=10)
    for ax in column:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.3)
    column[-1].set_xlabel("parameters")


def _shown_rules(optimizer: str, results: list[Result], update: bool) -> dict[str, str]:
    """mechanism → line style name. Update plots: the optimizer's own decay where it was
    timed, else no decay. Training plots: no decay, the optimizer's decay and l2_loss."""
    decay = "decoupled decay" if optimizer == "adamw" else "coupled decay"
    present = {mechanism(r.optimizer, r.rule) for r in results}
    if update:
        return {decay: "optimizer's decay"} if decay in present else {"none": "none"}
    return {"none": "none", decay: "optimizer's decay", "l2_loss": "l2_loss"}


def _legend(results: list[Result], roofline: bool) -> list:
    from matplotlib.lines import Line2D

    present = {(r.framework, r.implementation) for r in results}
    handles = [
        Line2D([], [], color=color, marker="o" if fw == "torch" else "s", markersize=3.5,
               label=f"{fw} {impl}")
        for (fw, impl), color in COLORS.items()
        if (fw, impl) in present
    ]  # fmt: skip
    if results[0].kind == "train":
        handles += [
            Line2D([], [], color="black", linestyle=style, label=f"rule: {rule}")
            for rule, style in RULE_STYLES.items()
        ]
    if roofline:
        handles.append(Line2D([], [], color="black", linestyle="--", linewidth=1, label=ROOFLINE))
    return handles


def _roofline(machine: Machine) -> dict[int, float]:
    """Parameter count → GB/s of the standalone in-place-add kernel (the machine's roofline)."""
    return {
        r.params: r.achieved_GBps
        for r in machine.results
        if r.kind == "reference" and r.implementation == "inplace_add" and r.achieved_GBps
    }
