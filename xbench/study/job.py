"""The study as a job: every condition × seed × framework trained, the record saved under
``<out>/runs/`` (never replaced), STUDY.md and its plots written, and optionally the claims
block of another page (``--readme``, docs/study.md); or only the pages, from a saved record
(``--render``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from xbench.errors import UsageError
from xbench.present import study_md, study_plots
from xbench.present.markdown import relative_link, replace_block, write_if_changed
from xbench.present.progress import Progress
from xbench.records import study_run
from xbench.records.bench_run import BenchRun
from xbench.records.bench_run import load as load_run
from xbench.records.layout import newest_inputs
from xbench.records.study_run import (
    Contrast,
    FrameworkDistance,
    StudyRun,
    StudySettings,
    require_baseline_conditions,
)
from xbench.run import machine
from xbench.study import stability
from xbench.study.conditions import (
    BATCH_SIZE,
    CONTRASTS,
    IMPLEMENTATION,
    L1_RATIO,
    MODEL,
    MOMENTUM,
    STUDY_LR,
    Condition,
    StudyProfile,
)
from xbench.study.data import SPLIT_SEED, Digits, load_digits, make_problem
from xbench.study.training import HISTOGRAM_EDGES, SMALL, distance, train
from xbench.workloads.cases import FRAMEWORKS
from xbench.workloads.models import MODELS
from xbench.workloads.problems import Problem

FULL = "full"


def settings(profile: StudyProfile, data: Digits, threads: int) -> StudySettings:
    layers = tuple(asdict(layer) | {"type": type(layer).__name__} for layer in MODELS[MODEL].layers)
    return StudySettings(
        seeds=profile.seeds, epochs=profile.epochs, small=SMALL, model=MODEL, layers=layers,
        train_size=len(data.x_train), val_size=len(data.x_val), split_seed=SPLIT_SEED,
        batch_size=BATCH_SIZE, learning_rate=STUDY_LR, momentum=MOMENTUM, l1_ratio=L1_RATIO,
        dtype="float32", implementation=IMPLEMENTATION, histogram_edges=HISTOGRAM_EDGES,
        threads=threads,
    )  # fmt: skip


def train_seed(seed, conditions, profile, data, progress) -> tuple[list, list, list]:
    """One seed: every condition in both frameworks; (runs, agreements, contrasts)."""
    runs, agreements = [], []
    problems: dict[tuple[str, float], Problem] = {}
    finals: dict[str, dict] = {}  # condition -> framework -> final parameters
    for condition in conditions:
        key = (condition.model, condition.dropout)
        if key not in problems:
            problems[key] = make_problem(data, seed, profile.epochs, key[1], key[0])
        mine = finals[condition.name] = {}
        for framework in FRAMEWORKS:
            what = f"seed {seed} · {condition.label} · {framework}"
            run, mine[framework] = train(
                framework, condition, seed, profile.epochs, data, problems[key],
                lambda e, what=what: progress.start(f"{what}  epoch {e}/{profile.epochs}"),
            )  # fmt: skip
            progress.done(what, note=(
                f"{run.seconds:5.1f} s  train {run.final('train_acc'):.1%}  "
                f"val {run.final('val_acc'):.1%}  zeros {run.final('zero_frac'):.1%}"
            ))  # fmt: skip
            runs.append(run)
        apart = distance(mine["torch"], mine["jax"])
        agreements.append(FrameworkDistance(**asdict(apart), condition=condition.name, seed=seed))
    contrasts = [
        Contrast(**asdict(distance(finals[a][f], finals[b][f])), a=a, b=b, seed=seed, framework=f)
        for a, b in CONTRASTS
        if a in finals and b in finals
        for f in FRAMEWORKS
    ]
    return runs, agreements, contrasts


def study(
    profile: StudyProfile,
    conditions: tuple[Condition, ...],
    threads: int,
    bench: BenchRun | None,
    stream=None,
) -> StudyRun:
    """Every condition × seed × framework, trained in this process with ``threads`` threads
    for both frameworks; the record, with the bench run behind its cost claim."""
    from xbench.run.threads import set_threads

    set_threads(threads)
    data = load_digits()
    total = len(conditions) * len(profile.seeds) * len(FRAMEWORKS) + stability.count(profile)
    started = datetime.now(timezone.utc)
    commit = machine.git_commit()
    runs, agreements, contrasts = [], [], []
    with Progress(total, "xbench study", stream=stream) as progress:
        for seed in profile.seeds:
            found = train_seed(seed, conditions, profile, data, progress)
            for into, part in zip((runs, agreements, contrasts), found, strict=True):
                into += part
        cells = stability.run_all(profile, data, progress)
    return StudyRun(
        profile=profile.name,
        datetime=started.strftime(study_run.DATETIME),
        seconds=round(progress.elapsed, 1),
        settings=settings(profile, data, threads),
        conditions=tuple(c.info() for c in conditions),
        machine_info={
            "versions": machine.versions((*machine.PACKAGES, "scikit-learn")),
            "cpu_model": machine.cpu_model(),
            "commit": commit,
        },
        runs=tuple(runs),
        agreement=tuple(agreements),
        contrasts=tuple(contrasts),
        bench_run=bench.path.as_posix() if bench else None,
        stability=cells,
    )


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class Pages:
    """Where the pages go, and what they quote."""

    out: Path  # STUDY.md and the PNGs
    plots: bool = True
    readme: Path | None = None  # also put the claims block in this page (full study only)
    overwrite: bool = False  # replace a STUDY.md not written by xbench study


def check_pages(pages: Pages, profile: str | None = None) -> None:
    """Everything about the outputs that can fail, checked before any work."""
    if pages.out.exists() and not pages.out.is_dir():
        raise UsageError(f"--out {pages.out} is a file; give a folder")
    study_md.ensure_ours(pages.out / "STUDY.md", pages.overwrite)
    if pages.readme and profile is not None and profile != FULL:
        raise UsageError(f"--readme quotes the full study only, not a {profile} run")
    if pages.readme:
        replace_block(pages.readme, "", study_md.CLAIMS_START, study_md.CLAIMS_END)


def find_bench(
    given: Path | None, recorded: str | None, results: Path, threads: int
) -> BenchRun | None:
    """The bench run behind the step-cost claim: ``given``, else the one the study
    recorded, else the newest for this machine under ``results``; or None (the claim then
    says so)."""
    if given or recorded:
        path = given or Path(recorded)
        if not given and not path.exists():
            raise UsageError(f"the study used bench run {path}, which is gone; give --bench")
        return load_run(path, path.parent.name)
    try:
        runs, _ = newest_inputs(results)
    except UsageError:
        return None
    label = machine.label("cpu", threads)
    mine = [p for p in runs if p.parent.name == label] or (runs if len(runs) == 1 else [])
    return load_run(mine[0], mine[0].parent.name) if mine else None


def write_pages(
    run: StudyRun, doc_path: Path, bench: BenchRun | None, pages: Pages
) -> tuple[list[Path], bool | None]:
    """STUDY.md and its plots; the claims block of ``pages.readme`` when asked. (Files
    written, whether that page changed, or None when it was not asked for.)"""
    pages.out.mkdir(parents=True, exist_ok=True)
    text = study_md.render(run, bench, doc_path, plots=pages.plots)
    written = [study_md.write_page(text, pages.out / "STUDY.md", pages.overwrite)]
    if pages.plots:
        written += study_plots.draw(run, pages.out)
    if not pages.readme:
        return written, None
    link = relative_link(pages.out / "STUDY.md", pages.readme.parent)
    block = study_md.readme_block(run, bench, link)
    old, new = replace_block(pages.readme, block, study_md.CLAIMS_START, study_md.CLAIMS_END)
    return written, write_if_changed(pages.readme, old, new)


def check_conditions(conditions: tuple[Condition, ...]) -> None:
    require_baseline_conditions({c.name: c.family for c in conditions}, "--conditions")
