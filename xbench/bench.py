"""``xbench bench``: run the timed sweep under pytest-benchmark, publish its JSON in results/.

pytest-benchmark writes its JSON into a temporary folder; only a run that finished and
passed is linked into ``results/<label>/`` under a new name (time, profile, commit), so an
earlier run is never overwritten and an interrupted one leaves nothing half-written there.
torch.compile's cache also lives in that temporary folder, so compile times are cold.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from xbench import machine
from xbench.errors import UsageError
from xbench.storage import write_atomically
from xbench.sweep import PROFILES, size_label, sweep

BENCH_TESTS = machine.REPO / "tests" / "test_bench.py"
OVERHEAD_BENCHMARKS = 5  # test_overhead (torch fused, JAX jit_donate; 1e4, 1e6) + its check


@dataclass(frozen=True)
class BenchRun:
    profile: str
    device: str
    threads: int
    results: Path
    label: str | None = None
    select: str | None = None  # a pytest -k expression


def result_name(profile: str, commit: dict, now: datetime.datetime) -> str:
    """``20261121T120000Z_default_05bfec2.json`` (``-dirty`` when the tree had changes)."""
    short = machine.short_commit(commit, missing="nocommit")
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}_{profile}_{short}.json"


def pytest_command(run: BenchRun, json_path: Path) -> list[str]:
    command = [
        sys.executable, "-m", "pytest", str(BENCH_TESTS),
        "--benchmark-only", "--benchmark-enable", "--benchmark-quiet",
        f"--benchmark-json={json_path}",
        "-v", "-p", "no:cacheprovider", "--no-header", "--durations=10",
        f"--xbench-profile={run.profile}", f"--xbench-device={run.device}",
        f"--xbench-threads={run.threads}",
    ]  # fmt: skip
    return command + (["-k", run.select] if run.select else [])


def publish(raw: Path, folder: Path, profile: str, commit: dict | None = None) -> Path:
    """Link the finished JSON into ``folder`` under a name no earlier run holds."""
    data = raw.read_bytes()
    document = json.loads(data)
    if not document.get("benchmarks"):
        raise UsageError("the run produced no benchmark results; nothing published")
    return publish_new(data, folder, profile, commit)


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


def results_folder(results: Path, label: str) -> Path:
    """``results/<label>``, created; a usage error if the label or the folder is unusable."""
    if not label or "/" in label or label.startswith("."):
        raise UsageError(f"invalid --label {label!r}; use a plain folder name")
    folder = results / label
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write results to {folder}")
    return folder


def run_bench(run: BenchRun) -> int:
    if not BENCH_TESTS.is_file():
        raise UsageError(
            f"xbench bench runs {BENCH_TESTS.relative_to(machine.REPO)} of a source checkout; "
            f"not found at {BENCH_TESTS}"
        )
    folder = results_folder(run.results, run.label or machine.label(run.device, run.threads))
    total = len(sweep(run.profile, run.device)) + OVERHEAD_BENCHMARKS
    print(
        f"xbench bench: profile {run.profile}, {total} benchmarks on {run.device} with "
        f"{run.threads} thread(s){f', -k {run.select!r}' if run.select else ''}; "
        f"results to {folder}/. Progress: one line per benchmark, [percent] at its end.\n"
        f"  {run.profile}: {PROFILES[run.profile].description}",
        flush=True,
    )
    started, commit = time.perf_counter(), machine.git_commit()
    with tempfile.TemporaryDirectory(prefix="xbench-bench-") as tmp:
        raw = Path(tmp) / "run.json"
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(Path(tmp) / "inductor"))
        try:
            code = subprocess.call(pytest_command(run, raw), cwd=machine.REPO, env=env)
        except KeyboardInterrupt:
            print("\nxbench bench: interrupted; nothing written to results/", file=sys.stderr)
            return 130
        minutes = (time.perf_counter() - started) / 60
        if code == 5:
            raise UsageError(f"no benchmark matches -k {run.select!r}")
        if code == 4:
            raise UsageError(f"pytest rejected its arguments (-k {run.select!r}?); see above")
        if code != 0:
            kept = Path(tempfile.gettempdir()) / f"xbench-failed-run-{os.getpid()}.json"
            if raw.is_file():
                shutil.copyfile(raw, kept)
            print(
                f"xbench bench: pytest exited {code} after {minutes:.1f} min; nothing published"
                + (f" (the incomplete JSON is kept at {kept})" if raw.is_file() else ""),
                file=sys.stderr,
            )
            return 1
        try:
            path = publish(raw, folder, run.profile, commit)
        except OSError as exc:
            kept = Path(tempfile.gettempdir()) / f"xbench-unpublished-run-{os.getpid()}.json"
            shutil.copyfile(raw, kept)
            raise UsageError(
                f"cannot write to {folder}: {exc}; the run is kept at {kept}"
            ) from None
    print(f"\nxbench bench: {minutes:.1f} min; wrote {path}")
    print(summary(json.loads(path.read_text())))
    return 0


def summary(document: dict) -> str:
    """AdamW ``weight_decay`` update steps in one tensor at the run's largest size."""
    rows = []
    benchmarks = [b for b in document["benchmarks"] if "extra_info" in b]
    updates = [
        b
        for b in benchmarks
        if b["extra_info"].get("kind") == "update"
        and b["extra_info"]["optimizer"] == "adamw"
        and b["extra_info"]["rule"] == "weight_decay"
        and b["extra_info"]["tensors"] == 1
    ]
    if not updates:
        return ""
    largest = max(b["extra_info"]["param_count"] for b in updates)
    for b in sorted(updates, key=lambda b: b["stats"]["median"]):
        info = b["extra_info"]
        if info["param_count"] == largest:
            pct = info.get("bandwidth_pct")
            rows.append([
                f"{info['framework']} {info['implementation']}",
                f"{b['stats']['median'] * 1e6:,.0f}",
                f"{info['achieved_GBps']:.1f}",
                "-" if pct is None else f"{pct:.0f}%",
            ])  # fmt: skip
    title = f"AdamW update step, {size_label(largest)} parameters in one tensor (median):"
    headers = ["implementation", "median µs", "GB/s", "% of roofline"]
    return f"{title}\n{tabulate(rows, headers=headers, tablefmt='simple')}"
