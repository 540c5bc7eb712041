"""A child ends with the xbench that started it, however that ends (``xbench.run.lifeline``),
and a run's temporary folders go with it (``xbench.records.scratch``).

Each guard is shown working and, on the same setup without it (must fail), not: a child
started with plain ``subprocess.Popen`` outlives a parent killed with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xbench.records import scratch
from xbench.run import lifeline

PY = sys.executable
LINUX = sys.platform.startswith("linux")
# A parent that starts one long-sleeping child, prints the child's pid, then waits for ever.
PARENT = """import subprocess, sys, time
from xbench.run import lifeline
child = [sys.executable, "-c", "import time; time.sleep(120)"]
{start}
print(process.pid, flush=True)
time.sleep(120)
"""
WITH_LIFELINE = "process = lifeline.start(child)"
WITHOUT = "process = subprocess.Popen(child)"  # must fail: nothing ties it to its parent
# A child of our own code that watches its parent itself; the kernel's signal left out, so
# the watching thread alone (as on a system without prctl) has to end it.
WATCHING = """import sys, time
from xbench.run import lifeline
lifeline.ask_kernel = lambda *a: False
{watch}
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie has ended: it only waits to be reaped
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return True


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def child_of_killed_parent(code: str) -> int:
    """Run ``code`` (which prints its child's pid) as a parent, SIGKILL it once the child
    is running; the child's pid."""
    parent = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
    return child


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not LINUX, reason="the kernel's parent-death signal is Linux's")
@pytest.mark.parametrize("start", [WITH_LIFELINE, WITHOUT], ids=["lifeline", "plain-Popen"])
def test_a_child_started_through_the_launcher_ends_when_its_parent_is_killed(start):
    child = child_of_killed_parent(PARENT.format(start=start))
    try:
        if start == WITH_LIFELINE:
            assert gone_within(child, 3.0), "the child outlived its parent"
        else:  # must fail: the same child, started plainly, runs on as an orphan
            assert not gone_within(child, 3.0)
    finally:
        kill(child)


@pytest.mark.parametrize("watch", ["lifeline.die_with_parent(int(sys.argv[1]))", "pass"],
                         ids=["watch", "none"])  # fmt: skip
def test_our_own_children_watch_their_parent_where_the_kernel_cannot(watch):
    watching = WATCHING.format(watch=watch)
    start = f"process = subprocess.Popen([sys.executable, '-c', {watching!r}, str(os.getpid())])"
    code = "import os\n" + PARENT.format(start=start)
    child = child_of_killed_parent(code)
    try:
        seconds = 2 * lifeline.POLL_SECONDS + 1.0
        if watch == "pass":  # must fail: nothing watches
            assert not gone_within(child, seconds)
        else:
            assert gone_within(child, seconds), "the watching thread did not end the orphan"
    finally:
        kill(child)


@pytest.mark.skipif(not LINUX, reason="the launcher is used on Linux only")
def test_the_launcher_ends_a_child_whose_parent_died_before_it_could_ask():
    """The launcher is told its parent's pid: a different parent means that parent died
    before the kernel's signal was asked for, and the command never starts."""
    launcher = lifeline.guarded([PY, "-c", "print('started')"])
    assert launcher[:3] == [PY, "-I", "-S"] and launcher[-3:] == [PY, "-c", "print('started')"]
    assert launcher[4] == str(os.getpid())
    gone = subprocess.Popen([PY, "-c", "pass"])
    gone.wait()  # a process that has ended: not this child's parent, whatever runs the tests
    wrong = [*launcher[:4], str(gone.pid), *launcher[5:]]
    done = subprocess.run(wrong, capture_output=True, text=True, timeout=60)
    assert done.returncode == 128 + signal.SIGTERM and "started" not in done.stdout
    done = subprocess.run(launcher, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "started\n", done.stderr


def test_off_the_main_thread_the_launcher_is_left_out():
    """The kernel ties the request to the thread that started the child: a child started
    from a thread that then ends would be signalled while xbench lives on."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(lifeline.guarded(["true"])))
    thread.start()
    thread.join()
    assert seen == [["true"]]


def test_run_stops_its_child_when_interrupted_and_returns_like_subprocess_run(monkeypatch):
    done = lifeline.run([PY, "-c", "print('out')"], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.args[0]) == (0, "out\n", PY)
    started = []
    real_start = lifeline.start

    def start(command, **popen):
        started.append(real_start(command, **popen))
        threading.Timer(0.5, lambda: signal.pthread_kill(threading.main_thread().ident,
                                                         signal.SIGINT)).start()  # fmt: skip
        return started[-1]

    monkeypatch.setattr(lifeline, "start", start)
    with pytest.raises(KeyboardInterrupt):
        lifeline.run([PY, "-c", "import time; time.sleep(60)"])
    assert started[0].poll() is not None  # stopped, not left running


# ----------------------------------------------------------------------------- scratch

HOLDER = """import sys, time
from xbench.records.scratch import Scratch
folder = Scratch("bench")
print(folder.path, flush=True)
time.sleep(120)
"""


def held_folder(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A process that made a scratch folder in ``tmp_path`` and lives on; the folder."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    holder = subprocess.Popen([PY, "-c", HOLDER], stdout=subprocess.PIPE, text=True, env=env)
    return holder, Path(holder.stdout.readline().strip())


@pytest.mark.skipif(scratch.fcntl is None, reason="no flock here")
def test_the_folders_of_runs_that_died_are_removed_and_no_others(tmp_path, monkeypatch):
    live_holder, live = held_folder(tmp_path)
    dead_holder, dead = held_folder(tmp_path)
    dead_holder.kill()  # as SIGKILL leaves it: the folder, its lock file, no owner
    dead_holder.wait()
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    kept = scratch.Scratch("compare")  # a run that keeps its folder for the user
    kept_path = kept.keep()
    foreign = tmp_path / "xbench-notes-12-abc"  # the name, but no lock file: not ours
    foreign.mkdir()
    mine = scratch.Scratch("ab")  # this process's own, alive
    try:
        assert live.is_dir() and dead.is_dir() and (dead / scratch.LOCK).is_file()
        assert scratch.remove_dead(tmp_path) == [dead]
        assert live.is_dir() and kept_path.is_dir() and foreign.is_dir() and mine.path.is_dir()
        live_holder.kill()
        live_holder.wait()
        assert scratch.remove_dead(tmp_path) == [live]  # once its run is gone
        # must fail: a cleaner that does not ask the lock removes a live run's folder
        monkeypatch.setattr(scratch, "_owner_gone", lambda folder: True)
        assert mine.path in scratch.remove_dead(tmp_path)
    finally:
        mine.remove()
        live_holder.kill()


@pytest.mark.skipif(scratch.fcntl is None, reason="no flock here")
def test_a_removal_stopped_part_way_leaves_the_lock_file_for_the_next_run(tmp_path, monkeypatch):
    """Found by a new-user trial: removing a dead run's large folder, interrupted, left the
    rest without its lock file, and no xbench ever touched it again."""
    _, dead = held_folder(tmp_path)
    kill(int(dead.name.split("-")[2]))
    assert gone_within(int(dead.name.split("-")[2]), 10.0)
    (dead / "inductor" / "a").mkdir(parents=True)
    (dead / "run.json").write_text("{}")

    def interrupted(path, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(scratch.shutil, "rmtree", interrupted)
        with pytest.raises(KeyboardInterrupt):
            scratch.remove_dead(tmp_path)
    assert (dead / scratch.LOCK).is_file()  # still the next run's to finish
    assert scratch.remove_dead(tmp_path) == [dead] and not dead.exists()


def test_a_scratch_folder_is_removed_when_its_block_ends_by_an_interrupt(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    with pytest.raises(KeyboardInterrupt), scratch.scratch("bench") as folder:
        (folder / "run.json").write_text("{}")
        assert folder.name.startswith(f"xbench-bench-{os.getpid()}-")
        raise KeyboardInterrupt
    assert not folder.exists() and list(tmp_path.iterdir()) == []


def test_every_command_removes_the_folders_of_dead_runs_first(tmp_path, monkeypatch):
    import xbench.cli as cli

    _, dead = held_folder(tmp_path)
    holder_pid = int(dead.name.split("-")[2])
    kill(holder_pid)
    assert gone_within(holder_pid, 10.0)
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    assert dead.is_dir()
    assert cli.main(["translate", "SGD(params, lr=0.1)"]) == 0
    assert not dead.exists()
