"""Where results live, named so that pytest-benchmark's own storage reads them (the layout:
docs/formats.md#where-they-live). Bench runs are numbered per machine folder as
pytest-benchmark numbers the runs it saves (``--benchmark-autosave``), so
``pytest-benchmark --storage file://results/<label> list`` and ``compare`` read them and label
each run distinctly (``0004_d12c7d3``); published checks live outside its folders, under
``results/checks/``, as it would try to read them as runs. A new file never replaces an
existing one: a bench run takes the next free number, another file whose name is taken gets
``-1``, ``-2``, ...
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
from collections.abc import Callable
from pathlib import Path

from xbench.errors import UsageError
from xbench.records.storage import write_atomically
from xbench.run import machine

BASELINE_CHECK = "check.json"  # the gate's baseline check, per machine
CHECK_KIND = "check"
CHECKS = "checks"  # results/checks/<label>/: the published checks
QUICK_PROFILE = "quick"
RESERVED = (CHECKS, "baseline", "study", "ab", "stability")  # not machine labels
RUN_NAME = re.compile(r"^(\d{4})_([^_]+)_([^_]+)_(\d{8}T\d{6}Z)\.json$")


def stamp(when: datetime.datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def result_name(kind: str, commit: dict, now: datetime.datetime) -> str:
    """``20261121T120000Z_check_05bfec2.json``: a check's or a study run's name."""
    short = machine.short_commit(commit, missing="nocommit")
    return f"{stamp(now)}_{kind}_{short}.json"


def run_name(number: int, profile: str, commit: dict, when: datetime.datetime) -> str:
    """``0004_05bfec2_default_20261121T120000Z.json``: a bench run's name."""
    short = machine.short_commit(commit, missing="nocommit")
    return f"{number:04d}_{short}_{profile}_{stamp(when)}.json"


def is_run(path: Path) -> bool:
    """A bench run's name (``NNNN_<commit>_<profile>_<time>.json``)."""
    return RUN_NAME.match(path.name) is not None


def run_number(path: Path) -> int:
    return int(path.name[:4])


def profile_of(path: Path) -> str:
    """The ``<profile>`` part of a bench run's name."""
    return path.name.split("_")[2]


def commit_of(path: Path) -> str:
    """The ``<commit>`` part of a bench run's name."""
    return path.name.split("_")[1]


def bench_runs(folder: Path) -> list[Path]:
    """The bench runs in ``folder``, oldest (lowest number) first."""
    return sorted((p for p in folder.glob("[0-9][0-9][0-9][0-9]_*.json") if is_run(p)),
                  key=run_number)  # fmt: skip


def name_order(path: Path) -> tuple[str, int]:
    """Sort key of time-named files: the name without its ``-N`` suffix, then N (an
    unsuffixed name is 0), so a file published in the same second as another sorts after."""
    stem, dash, number = path.stem.rpartition("-")
    if dash and number.isdigit() and "_" in stem:
        return stem, int(number)
    return path.stem, 0


def publish_run(
    data: bytes,
    folder: Path,
    profile: str,
    commit: dict | None = None,
    when: datetime.datetime | None = None,
) -> Path:
    """Write a bench run as ``folder/NNNN_<commit>_<profile>_<time>.json`` with the next
    number, never replacing a file. ``when`` is when the run started (default: now)."""
    commit = commit if commit is not None else machine.git_commit()
    when = when or datetime.datetime.now(datetime.timezone.utc)
    runs = bench_runs(folder)
    number = run_number(runs[-1]) + 1 if runs else 1
    return _first_free(
        data, folder, lambda n: run_name(number + n, profile, commit, when), "run number"
    )


def publish_new(
    data: bytes,
    folder: Path,
    kind: str,
    commit: dict | None = None,
    when: datetime.datetime | None = None,
) -> Path:
    """Write ``data`` as ``folder/<time>_<kind>_<commit>.json``, never replacing a file.

    ``when`` names the file (default: now); a name already taken gets a ``-N`` suffix.
    """
    commit = commit if commit is not None else machine.git_commit()
    name = result_name(kind, commit, when or datetime.datetime.now(datetime.timezone.utc))
    return _first_free(
        data, folder, lambda n: name.replace(".json", f"-{n}.json") if n else name, "file name"
    )


def _first_free(data: bytes, folder: Path, name: Callable[[int], str], what: str) -> Path:
    """Write ``data`` as ``folder/<name(0)>``, else ``<name(1)>``, ...: the first name free
    (100 tries), never replacing a file, one written meanwhile by another run included."""
    for attempt in range(100):
        path = folder / name(attempt)
        with contextlib.suppress(FileExistsError):
            if not path.exists():
                return write_atomically(path, lambda f: f.write(data), exclusive=True)
    raise UsageError(f"could not find a free {what} in {folder}")


def validate_label(label: str) -> str:
    """A machine label is a plain folder name, and not one of results/'s own folders."""
    if not label or "/" in label or label.startswith(".") or not label.isprintable():
        raise UsageError(f"invalid --label {label!r}; use a plain folder name")
    if label in RESERVED:
        raise UsageError(f"invalid --label {label!r}: results/{label}/ holds other files")
    return label


def writable_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write results to {folder}")
    return folder


@contextlib.contextmanager
def removed_if_left_empty(folder: Path):
    """``folder``, created and checked writable up front (``writable_folder``), around work
    that may publish into it: the folders this created are removed again if the work leaves
    them empty (an error, Ctrl-C, nothing to publish); a folder that existed stays."""
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        yield writable_folder(folder)
    finally:
        for path in created:
            try:
                path.rmdir()
            except OSError:  # not empty (published), or gone
                break


def newest_inputs(results: Path) -> tuple[list[Path], list[Path]]:
    """The runs a report shows by default: per machine folder under ``results``, the newest
    bench run (of a profile other than ``quick`` when there is one) and, with it, the
    machine's newest check (``results/checks/<label>/``). The folder's name is the
    machine's label.
    """
    if results.exists() and not results.is_dir():
        raise UsageError(f"{results}: is a file; give the results folder")
    if not results.is_dir():
        raise UsageError(f"{results}: no such folder; run `make bench` first")
    runs, checks = [], []
    for folder in sorted(p for p in results.iterdir() if p.is_dir() and p.name not in RESERVED):
        bench = bench_runs(folder)
        if not bench:
            continue
        full = [f for f in bench if profile_of(f) != QUICK_PROFILE]
        runs.append((full or bench)[-1])
        check = sorted((results / CHECKS / folder.name).glob(f"*_{CHECK_KIND}_*.json"),
                       key=name_order)  # fmt: skip
        if check:
            checks.append(check[-1])
    if not runs:
        raise UsageError(f"no bench run under {results}/<machine>/; run `make bench` first")
    return runs, checks


def baseline_check(folder: Path) -> Path:
    """The gate's baseline check of one machine: ``<baseline dir>/<label>/check.json``."""
    return folder / BASELINE_CHECK
