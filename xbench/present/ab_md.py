"""``xbench ab`` results as Markdown: a version change for RESULTS.md, and the proof of the
method (false alarms, slowdowns caught, the detection floor) for docs/ab.md."""

from __future__ import annotations

import statistics
from pathlib import Path

from xbench.analysis.ab_calibration import Calibration, half_widths, ratios
from xbench.analysis.paired import verdicts
from xbench.present.ab_text import benchmark_rows, verdict_counts
from xbench.present.markdown import relative_link, table
from xbench.present.units import percent
from xbench.records.ab_run import AbRun, Version


def side_text(side: Version) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in side.versions.items() if v and k != "numpy")
    if side.kind == "revision":
        return f"revision `{(side.commit or '?')[:10]}` ({versions})"
    return versions


def version_change_markdown(path: Path, run: AbRun, out_dir: Path) -> str:
    """One A/B of two environments: every benchmark's NEW/BASE with its 95% interval."""
    found = verdicts(run)
    confirmed = any(b.confirmation for b in run.benchmarks)
    order = sorted(run.benchmarks, key=lambda b: b.id)
    rows = benchmark_rows(order, found, confirmed, lambda bench_id: f"`{bench_id}`")
    headers = ["benchmark", "BASE median", "NEW median", "NEW/BASE [95%]",
               *(["confirmation [95%]"] if confirmed else []), "verdict"]  # fmt: skip
    s = run.settings
    return (
        f"### {side_text(run.base)} → {side_text(run.new)}\n\n"
        f"NEW over BASE, measured interleaved with `xbench ab` on {run.machine['cpu_model']} "
        f"({s['threads']} threads) at {run.datetime[:16].replace('T', ' ')} UTC: "
        f"{s['pairs']} fresh process pairs × {s['rounds']} alternating round pairs per "
        f"benchmark, {run.seconds / 60:.0f} min; a 95% interval, and a verdict at threshold "
        f"{percent(run.threshold)} (docs/ab.md). Data: [`{path.name}`]"
        f"({relative_link(path, out_dir)}).\n\n**{verdict_counts(found)}.**\n\n"
        + table(rows, headers)
        + "\n"
    )


def versions_section(runs: list[tuple[Path, AbRun]], out_dir: Path) -> str:
    if not runs:
        return ""
    parts = [
        "## Version changes, measured interleaved\n",
        "Each table times the same code under two environments in the same minutes "
        "(`xbench ab BASE-PYTHON NEW-PYTHON`): a ratio whose interval contains 1 is no "
        "difference resolved. The median columns are each side's median over all its rounds, "
        "for scale; only the ratio is paired.\n",
        *(version_change_markdown(path, run, out_dir) for path, run in runs),
    ]
    return "\n".join(parts)


def calibration_block(cal: Calibration, aa: list[AbRun], injected: list[AbRun],
                      folder: Path, page: Path, calibration: dict) -> str:  # fmt: skip
    """What the A/A and injected runs in ``folder`` show, at ``cal.threshold``;
    ``calibration``: what each injection adds, measured within one process."""
    runs = aa + injected
    settings = runs[0].settings
    minutes = sum(r.seconds for r in runs) / len(runs) / 60
    work = {b["id"]: b["injected_work"] for b in calibration["benchmarks"]}
    rows = []
    for bench_id, (level, hits, total) in cal.caught.items():
        found = sorted(r.estimate for r in ratios(injected, bench_id))
        widths = [r.half_width for r in ratios(aa, bench_id)]
        rows.append([
            f"`{bench_id}`", f"+{percent(work[bench_id])}", f"+{level:.1%}", f"{hits} of {total}",
            f"×{statistics.median(found):.3f} (×{found[0]:.3f}–×{found[-1]:.3f})",
            f"±{percent(statistics.median(widths))}",
        ])  # fmt: skip
    floor = cal.floor()
    reached = f"+{floor:.1%}" if floor else "not reached by any slowdown injected"
    headers = ["injected into", "extra steps", "slowdown (in-process)", "flagged regressed",
               "NEW/BASE: median (range)", "A/A half-width (median)"]  # fmt: skip
    return (
        f"Measured on {runs[0].machine['cpu_model']} at the gate's settings (`--gate`: "
        f"{settings['pairs']} process pairs, time budget {settings['time_budget']:.0f} s; "
        f"{minutes:.1f} min per run on average, confirmation included), threshold "
        f"{percent(cal.threshold)}, from [`{folder.name}/`]({relative_link(folder, page.parent)})."
        f" The slowdown of each injection is measured within one process, the injection "
        f"switched off and on in alternating rounds (`calibration.json`, "
        f"{calibration['benchmarks'][0]['round_pairs']} round pairs each).\n\n"
        f"- **A/A**, {cal.aa_runs} runs of {cal.aa_benchmark_runs // max(cal.aa_runs, 1)} "
        f"benchmarks: benchmarks flagged per run {cal.aa_flagged} (by the first measurement "
        f"alone, before confirmation: {cal.aa_first_flagged}); the 95% interval contains 1 in "
        f"{cal.aa_covered} of {cal.aa_benchmark_runs} benchmark-runs ({cal.coverage:.1%}).\n"
        f"- **Injected**, {len(injected)} runs: benchmarks without an injection flagged "
        f"{cal.others_flagged} times in {cal.others_total}; the injected ones below.\n"
        f"- **Detection floor**, the smallest injected slowdown at and above which every "
        f"injected benchmark was caught in at least 9 of 10 runs: {reached}.\n"
        f"- **More time, narrower intervals**: the median A/A half-width over all benchmarks "
        f"is ±{percent(half_widths(aa))}; recomputed from half of each pair's rounds it is "
        f"±{percent(half_widths(aa, rounds=0.5))}, and from the first "
        f"{settings['pairs'] // 2} of the {settings['pairs']} process pairs "
        f"±{percent(half_widths(aa, pairs=0.5))}. More process pairs narrow it most (Student's "
        f"t shrinks too); the floor scales with it.\n\n{table(rows, headers)}\n"
    )
