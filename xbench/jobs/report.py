"""Write RESULTS.md, its plots and the README's headline block from published runs.

Default inputs (no run given): under ``results/``, per machine folder, the newest bench run
(not of the quick profile when there is another) and the newest check; the folder names the
machine. Everything is read and checked before anything is written.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from xbench.analysis.grouping import Machine, machines
from xbench.present.markdown import markers, replace_block, write_if_changed
from xbench.present.results_md import COMMAND, readme_headline, write_results
from xbench.records.bench_run import load as load_run
from xbench.records.check_run import load as load_check
from xbench.records.layout import newest_inputs

HEADLINE_START, HEADLINE_END = markers(COMMAND, "headline")


@dataclass(frozen=True)
class ReportRequest:
    runs: list[Path] = field(default_factory=list)  # none: the newest under ``results``
    checks: list[Path] = field(default_factory=list)
    results: Path = Path("results")
    out: Path | None = None  # default: <results>/RESULTS.md
    readme: Path | None = None  # also update its headline block
    plots: bool = True
    overwrite: bool = False


@dataclass(frozen=True)
class Written:
    inputs: list[Path]
    files: list[Path]
    readme_changed: bool | None  # None: no README asked for


def warn(message: str) -> None:
    print(f"xbench report: warning: {message}", file=sys.stderr)


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
            warn(f"{m.label}: {w}")
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
    written = write_results(found, out, plots=request.plots, overwrite=request.overwrite)
    changed = write_if_changed(request.readme, *readme) if readme else None
    return Written([*runs, *checks], written, changed)
