"""Interrupted and concurrent runs lose nothing (docs/robustness.md).

Real ``xbench`` processes are interrupted (SIGINT to the process group, as Ctrl-C does) or
killed (SIGKILL) at seeded random moments, each in a copy of a results folder under tmp_path;
afterwards nothing there changed except complete new files, no temporary file is left after
SIGINT, and the same command run again succeeds. A signal while the Python interpreter itself
starts is Python's to handle: the moments count from when xbench is imported and about to
run (a wrapper touches a file then). Two runs started in the same second write
two distinct complete files. These process tests are marked ``long``: ``make test`` leaves
them out; ``make robustness TRIALS=0`` (in CI) sends SIGINT at one moment to each command
and SIGKILL to bench, and ``make robustness`` (XBENCH_ROBUSTNESS_TRIALS=N, default 5) N more
moments per command and signal, SIGKILL on every command.

The check and the baseline update run the whole catalogue (about a minute on 2 cores); here a
wrapper process cuts the catalogue to two linear entries (and lets the baseline name a fixed
commit), everything else as the command line runs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from xbench.records import ab_run, bench_run, check_run, layout, storage, study_run
from xbench.run.lifeline import children_ignore_terminal

REPO = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("XBENCH_ROBUSTNESS_TRIALS", "0"))  # more, at other moments
RNG = random.Random(int(os.environ.get("XBENCH_ROBUSTNESS_SEED", "21")))
PY = sys.executable
# Each run goes through this wrapper: it touches the READY file once the interpreter has
# started and xbench is imported, and the seeded moments count from then (on a busy machine
# the interpreter's own start takes seconds, and a signal there is Python's, not xbench's).
RUN = """import os, sys
from pathlib import Path
from xbench.cli import entry
{patch}
Path(os.environ["XBENCH_TEST_READY"]).touch()
entry()
"""
SMALL = """from xbench.jobs import check, compare
full = check.selected
check.selected = lambda filters: [e for e in full(filters) if "linear" in e.name][:2]
compare.clean_head = lambda: "f" * 40
"""
XBENCH = [PY, "-c", RUN.format(patch="")]
SMALL_XBENCH = [PY, "-c", RUN.format(patch=SMALL)]
BENCH = ["bench", "--quick", "-k", "reference-copy-1e4", "--paired-budget", "0", "--label", "m"]
PAIRED = ["bench", "--quick", "-k", "update and sgd and 1e4 and (forloop or jit_donate)",
          "--paired-budget", "10", "--label", "m"]  # fmt: skip
CHECK = ["check", "--publish", "--label", "m", "--jobs", "1"]
STUDY = ["study", "--quick", "--conditions", "none,l2-0.001", "--epochs", "2", "--no-plots"]
AB = ["ab", PY, PY, "-k", "update-sgd-none-torch-forloop-1e4-one", "--pairs", "2"]
AB += ["--time-budget", "12s", "--no-confirm", "--seed", "1"]
BASELINE = ["compare", "--against", "RESULTS/baseline", "--update-baseline", "--reason", "t"]
BASELINE += ["--label", "m"]
COMPARE = ["compare", "--against", "RESULTS/baseline", "--label", "m"]


def trial_moments(first: float, last: float) -> list[float]:
    """One seeded moment, and XBENCH_ROBUSTNESS_TRIALS more (make robustness TRIALS=N)."""
    return [round(RNG.uniform(first, last), 2) for _ in range(1 + TRIALS)]


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def complete(path: Path) -> None:
    """The file reads back whole, by its own reader."""
    name = path.name
    if layout.is_run(path):
        bench_run.load(path, path.parent.name)
    elif path.parent.parent.name == layout.CHECKS or name == layout.BASELINE_CHECK:
        check_run.load(path)
    elif path.parent.name == "runs":
        study_run.load(path)
    elif name == "ab.json":
        ab_run.load(path)
    elif name == "revision.json":
        assert json.loads(path.read_text())["commit"]
    elif name == "STUDY.md":
        assert path.read_text().endswith("\n")
    else:
        raise AssertionError(f"unexpected file {path}")


def xbench(argv: list[str], root: Path, runner=XBENCH, env: dict | None = None):
    """Start ``xbench argv`` in its own process group, with its temporary files in root
    (``env``: more environment)."""
    argv = [a.replace("RESULTS", str(root / "results")) for a in argv]
    env = dict(os.environ, TMPDIR=str(root / "tmp"), PYTHONUNBUFFERED="1", **(env or {}))
    env["XBENCH_TEST_READY"] = str(root / "ready")
    (root / "tmp").mkdir(exist_ok=True)
    # its output into files, never a pipe that could fill while nobody reads it
    logs = root / f"output-{time.monotonic_ns()}.out", root / f"output-{time.monotonic_ns()}.err"
    with open(logs[0], "w") as out, open(logs[1], "w") as err:
        process = subprocess.Popen([*runner, *argv], cwd=root, env=env, start_new_session=True,
                                   stdout=out, stderr=err)  # fmt: skip
    process.logs = logs
    return process


def output(process: subprocess.Popen, timeout: float = 600) -> tuple[str, str]:
    """Wait for the run to end; what it printed (stdout, stderr)."""
    process.wait(timeout=timeout)
    return tuple(path.read_text(errors="replace") for path in process.logs)


def processes_of(root: Path) -> list[str]:
    """The command lines of the run's processes still alive: xbench and every process it
    started, which inherit the run's environment (zombies, ended, are left out)."""
    needle = f"XBENCH_TEST_READY={root / 'ready'}\0".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle not in (proc / "environ").read_bytes():
                continue
            if (proc / "stat").read_text().rsplit(") ", 1)[1].startswith("Z"):
                continue
            found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:160])
        except (OSError, IndexError):  # gone meanwhile, or not ours to read
            continue
    return found


def left_running(root: Path, seconds: float) -> list[str]:
    """The run's processes still alive ``seconds`` from now (none: as soon as none is)."""
    deadline = time.monotonic() + seconds
    while (alive := processes_of(root)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


# How each signal is sent: Ctrl-C to the terminal's process group; SIGTERM and SIGKILL to
# xbench alone (`kill PID`, `docker stop`), which must then stop its children itself.
TO_GROUP = {signal.SIGINT}
GRACE = {signal.SIGINT: 3.0, signal.SIGTERM: 3.0, signal.SIGKILL: 5.0}  # seconds


def interrupt(argv, root, runner, sig, at, env=None) -> tuple[int | None, str, list[str]]:
    """Send ``sig`` ``at`` seconds after xbench is imported and about to run (code None: it
    had finished); (exit code, stderr, its processes still alive GRACE[sig] seconds after
    it ended). Whatever is left is killed then."""
    process = xbench(argv, root, runner, env)
    deadline = time.monotonic() + 120
    while not (root / "ready").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "xbench did not start within 120 s"
        time.sleep(0.01)
    try:
        process.wait(timeout=at)
        sent = None
    except subprocess.TimeoutExpired:
        (os.killpg if sig in TO_GROUP else os.kill)(process.pid, sig)
        sent = sig
    try:
        process.wait(timeout=120)
    finally:
        alive = left_running(root, GRACE[sig])
        with contextlib.suppress(ProcessLookupError):  # what was left, not to disturb others
            os.killpg(process.pid, signal.SIGKILL)
    _, err = output(process)
    return (process.returncode if sent else None), err, alive


def run_ok(argv, root, runner=XBENCH) -> str:
    """The command runs to its end. ``ab`` may exit 1, a timing verdict: an A/A of 2 process
    pairs without confirmation can flag noise on a busy machine (make robustness TRIALS=1
    met one); what is tested here is that it ran and wrote its file whole."""
    process = xbench(argv, root, runner)
    out, err = output(process)
    allowed = (0, 1) if argv[0] == "ab" else (0,)
    assert process.returncode in allowed, err[-3000:]
    return out


def assert_nothing_lost(before: dict, root: Path, replaceable=()) -> list[Path]:
    """Every file of ``before`` is unchanged (or, in ``replaceable``, whole); new ones whole.
    The new files."""
    results = root / "results"
    after = snapshot(results)
    for name, digest in before.items():
        assert name in after, f"{name} disappeared"
        if after[name] != digest:
            assert Path(name).name in replaceable, f"{name} changed"
            complete(results / name)
    new = [results / n for n in after if n not in before]
    for path in new:
        assert not path.name.endswith(storage.TMP), f"stray temporary file {path}"
        complete(path)
    return new


def stray(root: Path) -> list[Path]:
    """Temporary files under results/ and what the run left in its TMPDIR."""
    leftovers = [p for p in (root / "results").rglob(f"*{storage.TMP}")]
    kept = ("torchinductor_", "xbench-unpaired-run-")  # torch's cache; a finished sweep, said
    return leftovers + [p for p in (root / "tmp").iterdir() if not p.name.startswith(kept)]


def seeded_results(root: Path, baseline: bool = False, gate: bool = False) -> dict[str, str]:
    """A results folder with one earlier file of each kind the commands write; with
    ``gate``, a baseline ``compare`` can run against: this checkout's commit (its code, its
    constraints: no environment to build) and a recorded check."""
    results = root / "results"
    (results / "m").mkdir(parents=True)
    earlier = "0001_e4a6c1e_default_20261121T133738Z.json"  # a real bench run: study reads it
    shutil.copy(REPO / "results" / "cpu-amd-epyc-2t" / earlier, results / "m" / earlier)
    if baseline:
        (results / "baseline" / "m").mkdir(parents=True)
        (results / "baseline" / "revision.json").write_text('{"commit": "0"}\n')
        (results / "baseline" / "m" / "check.json").write_text('{"old": 1}\n')
    if gate:
        (results / "baseline" / "m").mkdir(parents=True)
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        revision = {"commit": head, "reason": "t", "datetime": "2026-12-01T00:00:00+00:00"}
        (results / "baseline" / "revision.json").write_text(json.dumps(revision))
        check = REPO / "results" / "baseline" / "cpu-amd-epyc-2t" / "check.json"
        shutil.copy(check, results / "baseline" / "m" / "check.json")
    return snapshot(results)


COMMANDS = {
    # name: (argv, runner, moments (first, last) in seconds, replaceable files)
    "bench": (BENCH, XBENCH, (0.05, 2.0), ()),
    "bench_paired": (PAIRED, XBENCH, (3.0, 14.0), ()),  # the sweep, then the torch-vs-JAX stage
    "check": (CHECK, SMALL_XBENCH, (0.05, 3.0), ()),
    "study": (STUDY + ["--results", "RESULTS"], XBENCH, (0.05, 5.0), ("STUDY.md",)),
    "ab": (AB + ["--json", "RESULTS/ab.json"], XBENCH, (0.05, 5.0), ()),
    "baseline": (BASELINE, SMALL_XBENCH, (0.05, 3.0), ("check.json", "revision.json")),
    "compare": (COMPARE, SMALL_XBENCH, (0.05, 15.0), ()),  # the check now, then the timing
}
RERUN = {"bench"}  # the others take 10-30 s: make robustness reruns them too
NO_RERUN = {"compare"}  # its timing alone takes 3 minutes (the CI gate's budget)


def with_results(argv: list[str], name: str) -> list[str]:
    return argv + (["--results", "RESULTS"] if name in ("bench", "bench_paired", "check") else [])


def stopped_badly(sig, code, err, root: Path, alive: list[str], finished: bool) -> list[str]:
    """What a stop signal's trial found wrong (nothing, when all is well): the exit code, the
    one "interrupted" line, no traceback, nothing left in TMPDIR (all but SIGKILL), no
    process of the run left running. ``finished``: the run had written its result."""
    wrong = [f"still running: {alive}"] if alive else []
    if sig == signal.SIGKILL or code is None:
        return wrong
    # 128 + sig: xbench caught it; -sig: it came as the process exited, its result written
    # (a shell shows both as 128 + sig); -sig before that: nothing handled it
    if code != 128 + sig and not (code == -sig and finished):
        wrong.append(f"exit {code}")
    if "Traceback" in err:
        wrong.append("a traceback")
    said = [line for line in err.splitlines() if "interrupted" in line]
    if code == 128 + sig and not (len(said) == 1 and said[0].startswith("xbench ")):
        wrong.append(f"interrupted lines: {said}")  # one, whichever process or stage
    if stray(root):
        wrong.append(f"left in TMPDIR: {stray(root)}")
    return wrong


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
KILLED_ONCE = {"bench", "check", "ab"}  # TRIALS=0 kills these (children of each kind)


@pytest.mark.long
@pytest.mark.parametrize("sig", list(SIGNALS.values()), ids=list(SIGNALS))
@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_interrupted_or_killed_run_loses_nothing_and_the_next_run_succeeds(name, sig, tmp_path):
    argv, runner, (first, last), replaceable = COMMANDS[name]
    argv = with_results(argv, name)
    if sig == signal.SIGKILL and name not in KILLED_ONCE and not TRIALS:
        pytest.skip("TRIALS > 0 kills this one too (TRIALS=0: SIGKILL on bench, check, ab)")
    for trial, at in enumerate(trial_moments(first, last)):
        root = tmp_path / f"trial{trial}"
        root.mkdir()
        before = seeded_results(root, baseline=name == "baseline", gate=name == "compare")
        code, err, alive = interrupt(argv, root, runner, sig, at)
        finished = snapshot(root / "results") != before
        assert not stopped_badly(sig, code, err, root, alive, finished), (at, err[-3000:])
        assert_nothing_lost(before, root, replaceable)
        if (name in RERUN or TRIALS) and name not in NO_RERUN:
            run_ok(argv, root, runner)
            assert not [p for p in (root / "results").rglob(f"*{storage.TMP}")]
            assert_nothing_lost(before, root, replaceable)


# Deliberately broken copies of xbench, for the trials' checks to fail on (must fail).
BROKEN = {
    # children started without the parent-death guard (plain Popen; workers not watching)
    "no-lifeline": ("run/lifeline.py", "\n\ndef guarded(command):\n    return list(command)\n\n\n"
                    "def die_with_parent(parent=None):\n    return None\n"),
    # SIGTERM left to its default action: the process ends where it is
    "no-sigterm": ("errors.py", "\nSTOP_SIGNALS = (signal.SIGINT, signal.SIGHUP)\n"),
}  # fmt: skip
LONG_SWEEP = ["bench", "--quick", "-k", "1e4", "--paired-budget", "0", "--label", "m"]


def broken_copy(folder: Path, breakage: str) -> Path:
    """A copy of xbench (and its adapters) with ``breakage`` appended to one module; the
    folder to put first on PYTHONPATH (the sweep's pytest and the workers follow it)."""
    for name in ("xbench", "adapters"):
        shutil.copytree(REPO / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    module, addition = BROKEN[breakage]
    with open(folder / "xbench" / module, "a") as f:
        f.write(addition)
    return folder


@pytest.mark.long
@pytest.mark.parametrize("breakage", list(BROKEN))
def test_the_stop_trials_catch_an_xbench_without_its_guards(breakage, tmp_path):
    """The trials above, on a broken xbench, in the sweep (6 s in): without the
    parent-death guard, SIGKILL leaves the sweep's pytest running; without a SIGTERM
    handler, SIGTERM leaves the run's temporary folder, which the next xbench removes."""
    copy = broken_copy(tmp_path / "code", breakage)
    root = tmp_path / "trial"
    root.mkdir()
    seeded_results(root)
    sig = signal.SIGKILL if breakage == "no-lifeline" else signal.SIGTERM
    argv = with_results(LONG_SWEEP, "bench")
    code, err, alive = interrupt(argv, root, XBENCH, sig, 6.0, env={"PYTHONPATH": str(copy)})
    assert code is not None, "the sweep ended before the signal"
    wrong = stopped_badly(sig, code, err, root, alive, finished=False)
    if breakage == "no-lifeline":
        assert alive and any("pytest" in command for command in alive), wrong
    else:
        assert code == -signal.SIGTERM and "exit -15" in wrong, wrong
        assert any("left in TMPDIR" in w for w in wrong), wrong
        left = [p for p in stray(root) if p.name.startswith("xbench-bench-")]
        assert left, stray(root)
        later = xbench(["translate", "SGD(params, lr=0.1)"], root)
        assert later.wait(timeout=120) == 0 and not any(p.exists() for p in left)
    # the same trial on xbench as it is: nothing wrong
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    seeded_results(fixed)
    code, err, alive = interrupt(argv, fixed, XBENCH, sig, 6.0)
    assert code is not None and not stopped_badly(sig, code, err, fixed, alive, False), err


def test_a_temporary_file_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.Popen([PY, "-c", "pass"])
    dead.wait()
    left = tmp_path / f".run.json.{dead.pid}.abc123{storage.TMP}"
    live = tmp_path / f".run.json.{os.getppid()}.abc123{storage.TMP}"  # a write under way
    foreign = tmp_path / f".notes{storage.TMP}"  # not ours
    for path in (left, live, foreign):
        path.write_text("half")
    storage.write_atomically(tmp_path / "other.json", lambda f: f.write(b"{}"))
    assert not left.exists() and live.exists() and foreign.exists()


def test_a_file_that_appears_while_a_run_works_is_not_replaced(tmp_path):
    path = tmp_path / "ab.json"
    path.write_text("theirs")
    with pytest.raises(storage.UsageError, match="appeared while this ran"):
        storage.write_new(path, lambda f: f.write(b"ours"))
    assert path.read_text() == "theirs" and not list(tmp_path.glob(f".*{storage.TMP}"))


def test_the_baseline_check_and_revision_move_together_despite_an_interrupt(tmp_path):
    # the interrupt is delivered once both files are written
    with pytest.raises(KeyboardInterrupt), storage.interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        storage.write_atomically(tmp_path / "a", lambda f: f.write(b"1"))
        time.sleep(0.05)
        storage.write_atomically(tmp_path / "b", lambda f: f.write(b"2"))
    assert (tmp_path / "a").read_bytes() == b"1" and (tmp_path / "b").read_bytes() == b"2"


@pytest.mark.long
@pytest.mark.parametrize("name", ["bench", "check"] if TRIALS else ["bench"])
def test_two_runs_started_in_the_same_second_write_two_distinct_complete_files(name, tmp_path):
    argv, runner, _, _ = COMMANDS[name]
    argv = with_results(argv, name)
    before = seeded_results(tmp_path)
    processes = [xbench(argv, tmp_path, runner) for _ in range(2)]
    for process in processes:
        _, err = output(process, timeout=300)
        assert process.returncode == 0, err[-3000:]
    new = assert_nothing_lost(before, tmp_path)
    assert len(new) == 2, new  # distinct names, both whole


CHILD = "import sys, time; open(sys.argv[1], 'w').close(); time.sleep(60)"
SUITE_RUNNER = """import signal, subprocess, sys
from xbench.jobs.bench import run_suite
child = [sys.executable, "-c", {child!r}, sys.argv[1]]
try:
    {call}
except KeyboardInterrupt:
    print("xbench bench: interrupted", file=sys.stderr)
    sys.exit(130)
"""


@pytest.mark.parametrize("call", ["run_suite(child, None)", "subprocess.call(child)"])
def test_ctrl_c_during_the_sweep_stops_its_pytest_child_without_its_traceback(call, tmp_path):
    """Found by make robustness: Ctrl-C reaches the whole process group, and the sweep's
    pytest child printed its own KeyboardInterrupt traceback. run_suite's child ignores
    SIGINT, and xbench stops it; a plain subprocess.call (must fail) shows the traceback."""
    ready = tmp_path / "ready"
    runner = SUITE_RUNNER.format(child=CHILD, call=call)
    process = subprocess.Popen([PY, "-c", runner, str(ready)], start_new_session=True,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    if call.startswith("run_suite"):
        assert err.strip() == "xbench bench: interrupted"
        with pytest.raises(ProcessLookupError):  # the child is gone with it
            os.killpg(process.pid, 0)
    else:
        assert "Traceback" in err


HELD_BACK = """import os, signal, sys, time
from xbench.run.lifeline import children_ignore_terminal
with children_ignore_terminal():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)
    print("held back", flush=True)
time.sleep(5)
"""


def test_children_started_inside_ignore_the_terminal_from_their_start():
    """What the check's workers, their pool's resource tracker and the sweep's pytest child
    rely on: a process started inside children_ignore_terminal finds SIGINT and SIGHUP
    ignored when its Python starts (Python then installs no handler: a Ctrl-C in its first
    instant prints nothing; a hangup does not kill it); started outside (must fail),
    Python's own handlers. In a process of one thread, a Ctrl-C that comes inside is held
    back and delivered as it ends."""
    spawn = multiprocessing.get_context("spawn")

    def worker_handlers():
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:  # spawned by the submit
            found = (
                pool.submit(signal.getsignal, signal.SIGINT),
                pool.submit(signal.getsignal, signal.SIGHUP),
            )
            return [f.result(timeout=120) for f in found]

    ours = signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with children_ignore_terminal():
        assert worker_handlers() == [signal.SIG_IGN, signal.SIG_IGN]
    hangup = signal.SIG_IGN if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN else signal.SIG_DFL
    assert worker_handlers() == [signal.default_int_handler, hangup]  # (ignored under nohup)
    assert (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])) == ours
    done = subprocess.run([PY, "-c", HELD_BACK], capture_output=True, text=True, timeout=60)
    assert done.stdout == "held back\n" and "KeyboardInterrupt" in done.stderr, done.stderr


def test_publishing_in_the_same_second_takes_distinct_names(tmp_path):
    when = layout.datetime.datetime(2026, 1, 1, tzinfo=layout.datetime.timezone.utc)
    commit = {"commit": "a" * 40, "dirty": False}
    runs = {layout.publish_run(b"{}", tmp_path, "quick", commit, when) for _ in range(3)}
    checks = {layout.publish_new(b"{}", tmp_path, "check", commit, when) for _ in range(3)}
    assert len(runs) == 3 and len(checks) == 3


def test_a_ctrl_c_that_a_library_swallows_still_stops_the_command(monkeypatch, capsys):
    """Found here: a SIGINT landing in a JAX/torch callback was printed ("KeyboardInterrupt:")
    and dropped, and `check --publish` went on, published and exited 0. The CLI's handler
    remembers it: the next progress step stops the work, and the exit code is 130."""
    import xbench.cli as cli
    from xbench.errors import interrupted
    from xbench.present.progress import Progress

    steps, pytest_hook = [], sys.unraisablehook

    def swallowing_job(args):
        with Progress(3, "job", stream=None) as progress:
            for item in ("a", "b", "c"):
                progress.start(item)
                with contextlib.suppress(KeyboardInterrupt):  # a library callback drops it
                    signal.raise_signal(signal.SIGINT)
                steps.append(item)
                progress.done(item)
        return 0

    monkeypatch.setattr(cli.translate, "run", swallowing_job)
    forgetful = monkeypatch.context()
    with forgetful as m:  # must fail: Python's own handler, which remembers nothing
        m.setattr(cli, "on_interrupt", signal.default_int_handler)
        assert cli.main(["translate", "SGD(params, lr=0.1)"]) == 0 and steps == ["a", "b", "c"]
    steps.clear()
    code = cli.main(["translate", "SGD(params, lr=0.1)"])
    assert code == 130 and steps == ["a"] and "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert interrupted()  # until the next command starts
    assert sys.unraisablehook is pytest_hook  # restored
    monkeypatch.undo()
    assert cli.main(["translate", "SGD(params, lr=0.1)"]) == 0 and not interrupted()


def test_a_command_that_says_its_own_interrupt_is_not_reported_twice(monkeypatch, capsys):
    """bench says where the interrupt landed and exits 130; the CLI adds no second line (it
    did: "interrupted in the torch-vs-JAX stage ..." then "xbench bench: interrupted")."""
    import xbench.cli as cli

    def job(args):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            print("xbench translate: interrupted in a stage; nothing written", file=sys.stderr)
            return 130
        return 0

    monkeypatch.setattr(cli.translate, "run", job)
    assert cli.main(["translate", "SGD(params, lr=0.1)"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["xbench translate: interrupted in a stage; nothing written"]


def test_a_keyboard_interrupt_dropped_in_a_finalizer_is_taken_silently(capsys):
    """Python reports an exception raised in a finalizer or a gc callback as "Exception
    ignored in ... Traceback"; the CLI's hook takes a KeyboardInterrupt there as the
    interrupt, without the traceback, and leaves every other exception to Python's hook."""
    from xbench.errors import forget_interrupts, interrupted, unraisable_hook

    seen = []
    hook = unraisable_hook(seen.append)
    forget_interrupts()
    unraisable = type("U", (), {"exc_value": KeyboardInterrupt()})()
    hook(unraisable)
    assert interrupted() and seen == []
    other = type("U", (), {"exc_value": ValueError("x")})()
    hook(other)
    assert seen == [other]
    forget_interrupts()


@pytest.mark.parametrize(
    ("sig", "said"),
    [(signal.SIGTERM, "interrupted by SIGTERM"), (signal.SIGHUP, "interrupted by SIGHUP")],
    ids=["SIGTERM", "SIGHUP"],
)
def test_sigterm_and_sighup_stop_a_command_as_ctrl_c_does(sig, said, monkeypatch, capsys):
    """What `timeout`, CI cancellation, systemd and container runtimes send first, and a
    closed terminal: the command's cleanup runs (here: a ``finally``), one line, exit 128 +
    the signal; the handlers are put back. (Whole processes without the handler, must fail:
    the SIGTERM trials of make robustness.)"""
    import xbench.cli as cli

    cleaned = []

    def job(args):
        try:
            signal.raise_signal(sig)
            time.sleep(0.05)
            return 0
        finally:
            cleaned.append(True)

    monkeypatch.setattr(cli.translate, "run", job)
    # if xbench did not handle it, this would, and the job would go on: a failure, not the
    # test runner's death
    before = signal.signal(sig, lambda signum, frame: None)
    try:
        assert cli.main(["translate", "SGD(params, lr=0.1)"]) == 128 + sig and cleaned == [True]
        assert capsys.readouterr().err.strip() == f"xbench translate: {said}"
        assert signal.getsignal(sig) is not cli.on_interrupt  # put back
    finally:
        signal.signal(sig, before)


def test_a_signal_ignored_when_xbench_starts_stays_ignored(monkeypatch):
    """nohup starts a command with SIGHUP ignored: xbench keeps it so, and works on."""
    import xbench.cli as cli

    monkeypatch.setattr(cli.translate, "run", lambda args: signal.raise_signal(signal.SIGHUP) or 0)
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert cli.main(["translate", "SGD(params, lr=0.1)"]) == 0
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


LATE = """import atexit, os, signal, sys, time
from xbench.cli import {name}
sys.argv = ["xbench", "translate", "SGD(params, lr=0.1)"]
atexit.register(lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(0.2)))  # shutting down
{call}
"""


@pytest.mark.parametrize("name", ["entry", "main"])
def test_a_stop_signal_once_the_work_is_done_does_not_change_the_outcome(name):
    """Found by a new-user trial: SIGTERM during the interpreter's shutdown (torch's and
    JAX's exit handlers, ~0.3 s) ended a command that had written its results with 143 and
    no line. The ``xbench`` command (``entry``) exits with the command's own code; ``main``
    alone (must fail) leaves the default action, and the process dies of it."""
    call = "entry()" if name == "entry" else "sys.exit(main())"
    done = subprocess.run([PY, "-c", LATE.format(name=name, call=call)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert "optax" in done.stdout, done.stderr  # the work was done
    assert done.returncode == (0 if name == "entry" else -signal.SIGTERM), done.stderr
