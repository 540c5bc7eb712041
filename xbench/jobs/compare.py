"""The regression gate as a job: compare two recorded runs (and checks); or, against the
committed baseline, run the equivalence check now and time this checkout against the
baseline *revision* interleaved (``xbench ab --gate``), or make this commit the baseline.

The baseline is ``results/baseline/revision.json`` (the commit timing is compared with, and
why it was chosen) and ``results/baseline/<machine>/check.json`` (the equivalence check). On
a machine with no recorded check the baseline revision is checked here first. docs/compare.md
says why: timing is never compared with numbers recorded earlier, nor a check with one made
on another CPU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from xbench.analysis.compare import (
    BenchGate,
    EquivalenceGate,
    compare_checks,
    compare_runs,
    setting_differences,
)
from xbench.analysis.paired import REGRESSED, verdicts
from xbench.errors import UsageError
from xbench.jobs.ab import GATE_BUDGET, GATE_PAIRS, AbRequest, run_ab, stderr_log
from xbench.jobs.check import CheckRequest, run_check
from xbench.records import layout
from xbench.records.ab_run import AbRun, now
from xbench.records.bench_run import load as load_run
from xbench.records.check_run import load as load_check
from xbench.records.files import read_json
from xbench.records.scratch import scratch
from xbench.records.storage import interrupts_deferred, write_atomically
from xbench.run import lifeline
from xbench.run.check import Filters
from xbench.run.machine import git
from xbench.run.sides import prepare_revision


@dataclass(frozen=True)
class Verdict:
    """A gate's outcome: what was compared, and whether it fails."""

    base: Path
    new: Path
    warnings: list[str]  # settings that differ between the runs
    bench: BenchGate
    equivalence: EquivalenceGate | None
    warn_only: bool

    @property
    def failed(self) -> bool:
        broken = bool(self.equivalence and self.equivalence.regressions)
        return broken or (bool(self.bench.regressions) and not self.warn_only)


def gate_files(
    runs: tuple[Path, Path],
    checks: tuple[Path | None, Path | None],
    threshold: float,
    stat: str = "median",
    warn_only: bool = False,
) -> Verdict:
    """Compare two bench runs (and their checks, when both are given). Every input is read
    and validated before anything is compared."""
    base, new = load_run(runs[0]), load_run(runs[1])
    both_checks = [load_check(p) for p in checks] if checks[0] and checks[1] else None
    bench = compare_runs(base, new, threshold, stat)
    equivalence = compare_checks(*both_checks) if both_checks else None
    return Verdict(runs[0], runs[1], setting_differences(base, new), bench, equivalence, warn_only)


REVISION = "revision.json"
COMMIT_ID = re.compile(r"[0-9a-f]{7,64}")


@dataclass(frozen=True)
class BaselineRevision:
    """The commit the gate times against, when it was chosen and why."""

    commit: str
    reason: str
    datetime: str


def read_revision(against: Path) -> BaselineRevision:
    """The baseline revision, every field checked before any work: three strings, the
    commit a commit id; else a one-line UsageError naming the file."""
    path = against / REVISION
    if not path.is_file():
        raise UsageError(f"no baseline revision {path}; create it with `make baseline REASON=...`")
    doc = read_json(path, "baseline revision")
    names = [f.name for f in fields(BaselineRevision)]
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: not a baseline revision (a JSON object with {names})")
    wrong = [f"missing {n!r}" for n in names if n not in doc]
    wrong += [f"unknown field {n!r}" for n in sorted(set(doc) - set(names))]
    if wrong:
        raise UsageError(f"{path}: not a baseline revision ({', '.join(wrong)})")
    for name in names:
        if not isinstance(doc[name], str):
            raise UsageError(f"{path}: not a baseline revision ({name!r} must be a string, "
                             f"not {type(doc[name]).__name__})")  # fmt: skip
    if not COMMIT_ID.fullmatch(doc["commit"]):  # never a path: ab would run it as Python
        raise UsageError(f"{path}: not a baseline revision ('commit' must be a commit id, "
                         f"7 to 64 hex digits, not {doc['commit'][:80]!r})")  # fmt: skip
    return BaselineRevision(**doc)


def clean_head() -> str:
    """The commit checked out, refusing uncommitted changes to tracked files: the baseline
    names a commit, so it must be exactly what is checked out."""
    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        raise UsageError("the baseline names a commit: run from a git checkout of xbench")
    if git("status", "--porcelain", "--untracked-files=no").stdout.strip():
        raise UsageError("uncommitted changes: commit them first (the baseline names a commit)")
    return head.stdout.strip()


def write_revision(against: Path, commit: str, reason: str) -> Path:
    record = BaselineRevision(commit, reason, now())
    text = json.dumps(asdict(record), indent=1) + "\n"
    against.mkdir(parents=True, exist_ok=True)
    return write_atomically(against / REVISION, lambda f: f.write(text.encode()))


def recorded_check(against: Path, label: str) -> Path:
    """Where ``label``'s baseline check is recorded; a broken one is refused (one line)."""
    target = layout.baseline_check(against / layout.validate_label(label))
    if target.is_file():
        load_check(target)
    return target


def check_revision(commit: str, device: str, folder: Path, filters: tuple[str, ...] = ()) -> Path:
    """``xbench check`` of the revision ``commit``, run here by that revision's own code (in
    an environment built from its constraints.txt when it differs from this checkout's),
    into ``folder``; its JSON path. ``filters``: check options such as ``--model linear``."""
    work = folder / "baseline-revision"
    work.mkdir()
    check, output = folder / "baseline-check.json", folder / "baseline-check.txt"
    try:
        side = prepare_revision(commit, "baseline", work, stderr_log)
        command = [side.python, "-m", "xbench", "check", "--json", str(check), *filters]
        command += ["--device", device] if device != "cpu" else []
        paths = [str(side.code), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        print(f"xbench compare: checking the baseline revision {commit[:10]} with its own code "
              f"(its output: {output})", flush=True)  # fmt: skip
        with open(output, "wb") as log:
            done = lifeline.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=work, env=env)
    finally:  # the revision's source: done with, or failed
        shutil.rmtree(work, ignore_errors=True)
    if done.returncode not in (0, 1) or not check.is_file():  # 1: an entry failed back then
        raise UsageError(f"xbench check of the baseline revision {commit[:10]} failed (exit "
                         f"{done.returncode}; its output: {output})")  # fmt: skip
    return check


def check_now(device: str, folder: Path) -> Path:
    """Run the equivalence catalogue now, into ``folder``; its JSON path."""
    print("xbench compare: running the equivalence catalogue (xbench check)", flush=True)
    check = folder / "check.json"
    run_check(CheckRequest(Filters(), device=device, json=check))
    return check


@dataclass(frozen=True)
class GateNow:
    """``make compare``: the equivalence check against the baseline's, and the timing of this
    checkout against the baseline revision, interleaved."""

    revision: BaselineRevision
    equivalence: EquivalenceGate
    timing: AbRun
    warn_only: bool
    folder: Path  # where the check and the timing's JSON are kept

    @property
    def timing_regressed(self) -> list[str]:
        return [k for k, v in verdicts(self.timing).items() if v == REGRESSED]

    @property
    def failed(self) -> bool:
        return bool(self.equivalence.regressions) or (
            bool(self.timing_regressed) and not self.warn_only
        )


def gate_now(
    against: Path, label: str, device: str, threads: int, threshold: float, warn_only: bool
) -> GateNow:
    """The check now against the baseline check (recorded on this machine, else made now
    from the baseline revision); this checkout's code under this interpreter against the
    baseline revision, interleaved (``xbench ab --gate``)."""
    target = recorded_check(against, label)
    revision = read_revision(against)
    recorded = target.is_file()
    if not recorded:
        print(f"xbench compare: no check recorded for {label!r} ({target}): the baseline "
              "revision is checked here too, after this checkout", flush=True)  # fmt: skip
    with scratch("compare", keep=True) as folder:  # kept for inspection once the gate ran
        check = check_now(device, folder)
        if not recorded:
            target = check_revision(revision.commit, device, folder)
        equivalence = compare_checks(load_check(target), load_check(check))
        print(f"\nxbench compare: timing this checkout against the baseline revision "
              f"{revision.commit[:10]} (xbench ab --gate)", flush=True)  # fmt: skip
        timing = run_ab(
            AbRequest(
                base=revision.commit, new=sys.executable, gate=True, threshold=threshold,
                time_budget=GATE_BUDGET, pairs=GATE_PAIRS, threads=threads, device=device,
                json=folder / "ab.json",
            )
        )  # fmt: skip
    return GateNow(revision, equivalence, timing, warn_only, folder)


def update_baseline(against: Path, label: str, device: str, reason: str) -> tuple[Path, Path]:
    """Make the checked-out commit the baseline revision and this check the baseline check."""
    if not reason.strip():
        raise UsageError("a new baseline needs a reason: make baseline REASON='why it moves'")
    target = layout.baseline_check(against / layout.validate_label(label))
    commit = clean_head()
    with scratch("baseline") as folder:
        data = check_now(device, folder).read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    with interrupts_deferred():  # the check and the revision move together
        write_atomically(target, lambda f: f.write(data))
        return write_revision(against, commit, reason.strip()), target
