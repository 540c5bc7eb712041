"""Run the equivalence catalogue and record it: ``--json`` to a chosen path, ``--publish``
into ``results/checks/<label>/<time>_check_<commit>.json`` (never overwriting)."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

from xbench.errors import UsageError
from xbench.present.progress import Progress
from xbench.records import check_run, layout
from xbench.records.check_run import CheckRun
from xbench.records.storage import ensure_writable, write_new
from xbench.run import machine
from xbench.run.check import Filters, run_catalogue
from xbench.run.registry import build
from xbench.run.threads import available_cpus, resolve_jobs
from xbench.workloads.cases import REFERENCE, Case
from xbench.workloads.catalogue import Entry, default_catalogue


@dataclass(frozen=True)
class CheckRequest:
    filters: Filters
    device: str = "cpu"
    json: Path | None = None  # also write the record here
    overwrite: bool = False  # ... replacing an existing file
    publish: bool = False  # also publish it under results/<label>/
    results: Path = Path("results")
    label: str | None = None
    jobs: int | None = None  # worker processes (None: one per usable CPU, 1 on a GPU; 1: here)
    costs: dict | None = None  # filled with what each run cost: (framework, Case) -> RunCost


def selected(filters: Filters) -> list[Entry]:
    entries = [e for e in default_catalogue() if filters.keep(e)]
    if not entries:
        raise UsageError("no catalogue entry matches these filters; try `xbench check --list`")
    return entries


def require_device(device: str, frameworks: set[str]) -> None:
    """Build a one-step case on ``device`` in each framework: a UsageError if it cannot."""
    for framework in sorted(frameworks - {REFERENCE}):
        build(framework, Case(device=device, steps=1))


def announce(bar: Progress):
    """``run_catalogue``'s progress callback (called as each trajectory ends) on ``bar``."""

    def step(finished: int, total: int, key) -> None:
        framework, case = key
        bar.set_total(total)
        bar.done(f"{framework} {case.label} {case.dtype}")

    return step


def run_check(request: CheckRequest, stream=None) -> tuple[CheckRun, list[Path]]:
    """The check's record, and the files written. Every path is checked before running;
    progress goes to ``stream`` (default standard error: a bar, or a line per trajectory).

    Only the whole catalogue is published: the report takes the newest published check as
    the machine's equivalence matrix, so a filtered one would replace it with a part.
    """
    if request.publish and request.filters != Filters():
        raise UsageError(
            "--publish saves the whole catalogue only (the report shows the newest one); "
            "drop the filters, or write a filtered check with --json"
        )
    # on a GPU each worker would hold CUDA contexts beside this process's: one run at a time
    jobs = resolve_jobs(1 if request.jobs is None and request.device != "cpu" else request.jobs)
    entries = selected(request.filters)
    if request.json:
        ensure_writable(request.json, request.overwrite)
    if request.device != "cpu":
        require_device(request.device, {s.framework for e in entries for s in (e.left, e.right)})
    if request.publish:
        label = layout.validate_label(
            request.label or machine.label(request.device, available_cpus())
        )
        with layout.removed_if_left_empty(request.results / layout.CHECKS / label) as folder:
            return checked(request, entries, jobs, stream, folder)
    return checked(request, entries, jobs, stream, None)


def checked(request: CheckRequest, entries, jobs: int, stream, folder: Path | None):
    """Run ``entries`` and write the record: to ``request.json``, published in ``folder``."""
    commit = machine.git_commit()  # as of the start, as `xbench bench` records it
    started, when = time.perf_counter(), datetime.datetime.now(datetime.timezone.utc)
    with Progress(0, "xbench check", stream=stream) as bar:
        outcomes = run_catalogue(entries, request.device, announce(bar), jobs, request.costs)
    record = check_run.from_outcomes(
        outcomes, time.perf_counter() - started, request.device, commit
    )
    data = check_run.to_bytes(record)
    written = []
    if request.json:
        written.append(write_new(request.json, lambda f: f.write(data), request.overwrite))
    if folder is not None:
        written.append(layout.publish_new(data, folder, layout.CHECK_KIND, commit, when))
    return record, written
