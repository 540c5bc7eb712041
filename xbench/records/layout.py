"""Where results live: ``results/<machine label>/<UTC time>_<kind>_<commit>.json``.

``kind`` is the bench profile (``default``, ``quick``), ``check`` for an equivalence check,
or the study profile under ``results/study/runs/``; the time is when the run started. Names
sort by time (``name_order``), so the newest file is the last. A new file never replaces an
existing one: a name already taken gets ``-1``, ``-2``, ... The committed gate baseline is
``results/baseline/<label>/``.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from xbench.errors import UsageError
from xbench.records import machine
from xbench.records.storage import write_atomically

BASELINE_CHECK = "check.json"  # the gate's baseline check, per machine
CHECK_KIND = "check"
QUICK_PROFILE = "quick"


def result_name(kind: str, commit: dict, now: datetime.datetime) -> str:
    """``20261121T120000Z_default_05bfec2.json`` (``-dirty`` when the tree had changes)."""
    short = machine.short_commit(commit, missing="nocommit")
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}_{kind}_{short}.json"


def name_order(path: Path) -> tuple[str, int]:
    """Sort key: the name without its ``-N`` suffix, then N (an unsuffixed name is 0), so a
    file published in the same second as another sorts after it."""
    stem, dash, number = path.stem.rpartition("-")
    if dash and number.isdigit() and "_" in stem:
        return stem, int(number)
    return path.stem, 0


def kind_of(path: Path) -> str:
    """The ``<kind>`` part of a result file's name."""
    return path.name.split("_")[1]


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
    for attempt in range(100):
        path = folder / (name if not attempt else name.replace(".json", f"-{attempt}.json"))
        if path.exists():
            continue
        try:
            return write_atomically(path, lambda f: f.write(data), exclusive=True)
        except FileExistsError:
            continue
    raise UsageError(f"could not find a free file name in {folder}")


def validate_label(label: str) -> str:
    """A machine label is a plain folder name."""
    if not label or "/" in label or label.startswith("."):
        raise UsageError(f"invalid --label {label!r}; use a plain folder name")
    return label


def results_folder(results: Path, label: str) -> Path:
    """``results/<label>``, created; a usage error if the label or the folder is unusable."""
    folder = results / validate_label(label)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write results to {folder}")
    return folder


def newest_inputs(results: Path) -> tuple[list[Path], list[Path]]:
    """The runs a report shows by default: per machine folder under ``results``, the newest
    bench run (of a profile other than ``quick`` when there is one) and, with it, the newest
    check. The folder's name is the machine's label.
    """
    if results.exists() and not results.is_dir():
        raise UsageError(f"{results}: is a file; give the results folder")
    if not results.is_dir():
        raise UsageError(f"{results}: no such folder; run `make bench` first")
    runs, checks = [], []
    for folder in sorted(p for p in results.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*_*_*.json"), key=name_order)
        bench = [f for f in files if kind_of(f) != CHECK_KIND]
        if not bench:
            continue
        full = [f for f in bench if kind_of(f) != QUICK_PROFILE]
        runs.append((full or bench)[-1])
        check = [f for f in files if kind_of(f) == CHECK_KIND]
        if check:
            checks.append(check[-1])
    if not runs:
        raise UsageError(f"no bench run under {results}/<machine>/; run `make bench` first")
    return runs, checks


def baseline_check(folder: Path) -> Path:
    """The gate's baseline check of one machine: ``<baseline dir>/<label>/check.json``."""
    return folder / BASELINE_CHECK
