"""Write RESULTS.md, its plots, the README's headline block and the docs' generated blocks
from published runs (the default inputs: docs/report.md). The docs' blocks quote the first
CPU machine. Everything is read and checked before anything is written.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from xbench.analysis.ab_calibration import calibrate, injected_levels
from xbench.analysis.grouping import Machine, machines
from xbench.analysis.repeats import repeat_spread
from xbench.errors import UsageError
from xbench.present import blocks
from xbench.present.ab_md import calibration_block
from xbench.present.markdown import markers, replace_block, splice_block, write_if_changed
from xbench.present.results_md import COMMAND, readme_headline, write_results
from xbench.records.ab_run import load as load_ab
from xbench.records.bench_run import load as load_run
from xbench.records.check_run import load as load_check
from xbench.records.layout import bench_runs, commit_of, newest_inputs

HEADLINE_START, HEADLINE_END = markers(COMMAND, "headline")
DOC_BLOCKS = ("published", "findings", "tolerances", "stability", "ab-proof")
STABILITY = "stability"  # results/stability/<label>/: repeated quick runs (the folder
# and the docs block keep their published names; the code calls them repeats)
AB_VERSIONS = Path("ab") / "versions"  # results/ab/versions/: published version changes
AB_PROOF = Path("ab") / "proof"  # results/ab/proof/: the A/A and injected runs


@dataclass(frozen=True)
class ReportRequest:
    runs: list[Path] = field(default_factory=list)  # none: the newest under ``results``
    checks: list[Path] = field(default_factory=list)
    results: Path = Path("results")
    out: Path | None = None  # default: <results>/RESULTS.md
    readme: Path | None = None  # also update its headline block
    docs: Path | None = None  # also update the generated blocks of its pages
    plots: bool = True
    overwrite: bool = False


@dataclass(frozen=True)
class Written:
    inputs: list[Path]
    files: list[Path]
    readme_changed: bool | None  # None: no README asked for
    pages_changed: dict[Path, bool] = field(default_factory=dict)  # docs pages with blocks


def load_inputs(
    run_paths: list[Path],
    check_paths: list[Path],
    run_folders: bool = False,
    check_folders: bool = False,
) -> list[Machine]:
    """Load and group the inputs. ``*_folders``: those files were found under
    results/<label>/, and that folder names their machine (as for a run made with --label);
    otherwise each file's machine_info does. Each merge warning is printed."""
    runs = [load_run(p, p.parent.name if run_folders else None) for p in run_paths]
    checks = [load_check(p, p.parent.name if check_folders else None) for p in check_paths]
    found = machines(runs, checks)
    for m in found:
        for w in m.warnings:
            print(f"xbench report: warning: {m.label}: {w}", file=sys.stderr)
    return found


def report(request: ReportRequest) -> Written:
    found_in_results = not request.runs
    runs, checks = request.runs, request.checks
    if found_in_results:
        runs, found_checks = newest_inputs(request.results)
        checks = checks or found_checks
    found = load_inputs(runs, checks, found_in_results, found_in_results and not request.checks)
    out = request.out or request.results / "RESULTS.md"
    readme = None
    if request.readme:  # everything is checked before anything is written
        block = readme_headline(found, out, request.readme)
        readme = replace_block(request.readme, block, HEADLINE_START, HEADLINE_END)
    pages = doc_pages(request.docs, found, request.results) if request.docs else {}
    # with the version changes published beside the page
    written = write_results(found, out, request.plots, request.overwrite, ab_versions(out.parent))
    changed = write_if_changed(request.readme, *readme) if readme else None
    pages_changed = {page: write_if_changed(page, *texts) for page, texts in pages.items()}
    return Written([*runs, *checks], written, changed, pages_changed)


def stability_groups(folder: Path) -> dict[str, tuple[list[Path], object, object]]:
    """Repeated runs in ``folder``, by the commit in their names: (paths, at 10%, at 50%)."""
    by_commit: dict[str, list[Path]] = {}
    for path in bench_runs(folder):
        by_commit.setdefault(commit_of(path), []).append(path)
    groups = {}
    for commit, paths in by_commit.items():
        if len(paths) > 1:
            runs = [load_run(p) for p in paths]
            groups[commit] = (paths, repeat_spread(runs, 0.10), repeat_spread(runs, 0.50))
    return groups


def ab_versions(results: Path) -> list:
    """The published version changes: (path, AbRun), in name order."""
    return [(p, load_ab(p)) for p in sorted((results / AB_VERSIONS).glob("*.json"))]


def ab_proof_block(results: Path, page: Path) -> str:
    """The proof of ``xbench ab`` from results/ab/proof/ (aa-*.json, inject-*.json and the
    slowdown each injection causes, calibration.json from results/ab/inject/calibrate.py), at
    the threshold the runs were made at."""
    folder = results / AB_PROOF
    aa = [load_ab(p) for p in sorted(folder.glob("aa-*.json"))]
    injected = [load_ab(p) for p in sorted(folder.glob("inject-*.json"))]
    if not aa or not injected or not (folder / "calibration.json").is_file():
        raise UsageError(f"{page}: its ab-proof block needs A/A runs, injected runs and "
                         f"calibration.json in {folder}")  # fmt: skip
    thresholds = {run.threshold for run in aa + injected}
    if len(thresholds) != 1:
        found = ", ".join(sorted(map(str, thresholds)))
        raise UsageError(f"{folder}: the proof's runs were made at different thresholds "
                         f"({found}); a proof is one setting")  # fmt: skip
    calibration = json.loads((folder / "calibration.json").read_text())
    # At the threshold the runs were made at: their confirmations measured exactly the
    # benchmarks that threshold flagged, so another threshold's verdicts would lack theirs.
    cal = calibrate(aa, injected, injected_levels(calibration), thresholds.pop())
    return calibration_block(cal, aa, injected, folder, page, calibration)


def block_for(name: str, machine: Machine, page: Path, results: Path) -> str:
    if name == "ab-proof":
        return ab_proof_block(results, page)
    if name == "published":
        return blocks.published_block(machine, page)
    if name == "findings":
        return blocks.findings_block(machine)
    if name == "tolerances":
        if machine.check is None:
            raise UsageError(f"{page}: its tolerances block needs a published check")
        return blocks.tolerance_block(machine.check, page)
    groups = stability_groups(results / STABILITY / machine.label)
    if not groups:
        raise UsageError(f"{page}: its stability block needs repeated runs in "
                         f"{results / STABILITY / machine.label}")  # fmt: skip
    return blocks.repeats_block(groups, page)


def doc_pages(docs: Path, found: list[Machine], results: Path) -> dict[Path, tuple[str, str]]:
    """Every page under ``docs`` with a generated block: (its text, its text updated)."""
    if not docs.is_dir():
        raise UsageError(f"--docs {docs}: {'is a file' if docs.exists() else 'no such folder'}")
    cpu = [m for m in found if m.device == "cpu"]
    pages = {}
    for page in sorted(docs.glob("*.md")):
        text = original = page.read_text(encoding="utf-8")
        for name in DOC_BLOCKS:
            start, end = markers(COMMAND, name)
            if splice_block(text, "", start, end) is None:  # the page has no such block
                continue
            if not cpu:
                raise UsageError(f"{page}: its generated blocks need a CPU bench run")
            text = splice_block(text, block_for(name, cpu[0], page, results), start, end)
            pages[page] = (original, text)
    return pages
