"""Child processes that end with the xbench that started them, however it ends.

On a machine used for timing, a child that outlives its xbench is worse than a leak: it
takes the cores the next measurement runs on, and nothing reports it. Two guards:

- **From the parent's side, for every child started with ``start`` or ``run``**: ``start``
  runs each command through this file as a launcher, ``python -I -S lifeline.py PARENT --
  COMMAND ...``, which asks the kernel (Linux) for SIGTERM at its parent's death
  (``prctl(PR_SET_PDEATHSIG)``: the request survives ``exec`` of any program that is not
  set-user-ID or set-group-ID), checks that its parent is still PARENT (it may have died in
  between), then becomes COMMAND. So a child whose code is not this xbench's (an older
  revision's worker, pip building its environment) ends with its xbench, SIGKILL included.
- **From the child's side, for xbench's own Python children** (``die_with_parent``: the
  check's workers, which ``multiprocessing`` starts, ``ab``'s workers, the sweep's pytest):
  the same request, or, where the kernel has none, a thread that ends the process once its
  parent has changed (polled every second; not on Linux, where a thread waking in a timed
  process would be one more thing the two sides of a comparison do differently).

The signal is SIGTERM: a child that is itself an xbench (``compare`` checking the baseline
revision) then stops its own children and removes its temporary folders; any other dies of
it. The kernel ties the request to the *thread* that started the child: xbench starts every
child from its main thread, and ``start`` from any other leaves the launcher out (a child
that asks for itself would then end with that thread). Children that end by themselves in
moments (``git``) are started plainly. Children also start with SIGINT and SIGHUP ignored
(``children_ignore_terminal``).

This module imports only the standard library: it also runs as a script.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
DEATH_SIGNAL = signal.SIGTERM
POLL_SECONDS = 1.0
STOP_SECONDS = 5.0  # how long a child has to end after SIGTERM before it is killed


def ask_kernel(death_signal: int = DEATH_SIGNAL) -> bool:
    """Have the kernel send ``death_signal`` to this process when its parent dies (Linux);
    whether it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0) == 0
    except (OSError, AttributeError, ImportError):
        return False


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(128 + DEATH_SIGNAL)


def die_with_parent(parent: int) -> None:
    """End this process when ``parent``, the process that started it, is gone: the kernel's
    signal where there is one, else a watching thread. A parent already gone ends it now."""
    asked = ask_kernel()
    if os.getppid() != parent:
        os._exit(128 + DEATH_SIGNAL)
    if not asked:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def guarded(command: list[str]) -> list[str]:
    """``command`` run through the launcher, so that it ends with this process (Linux, from
    the main thread); else ``command`` as it is."""
    on_main = threading.current_thread() is threading.main_thread()
    if not sys.platform.startswith("linux") or not on_main:
        return list(command)
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), "--",
            *command]  # fmt: skip


TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGHUP)  # what a terminal sends its process group


@contextlib.contextmanager
def children_ignore_terminal():
    """Child processes started inside ignore SIGINT and SIGHUP from their first instruction
    (an ignored signal stays ignored across exec, and Python then installs no handler of its
    own). A terminal's Ctrl-C or hangup reaches the whole process group; the parent alone
    should answer it, and stop its children, rather than each child print its own traceback
    (Python's multiprocessing resource tracker would die of SIGHUP and print tracebacks).
    Meanwhile this thread blocks both, so one that comes in those milliseconds is delivered
    when the block ends (unless another thread of this process, one that does not block it,
    takes it first)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set(TERMINAL_SIGNALS))
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in TERMINAL_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def start(command: list[str], **popen) -> subprocess.Popen:
    """``subprocess.Popen(command, **popen)`` for a child that leaves Ctrl-C and a hangup to
    this process and ends with it (see the module's docstring)."""
    with children_ignore_terminal():
        return subprocess.Popen(guarded(command), **popen)


def run(command: list[str], timeout: float | None = None, **popen) -> subprocess.CompletedProcess:
    """``subprocess.run`` through ``start``: the child is stopped if this process is
    interrupted while it waits or ``timeout`` passes (subprocess.TimeoutExpired), and ends
    with it if it dies. ``capture_output`` and ``text`` as in ``subprocess.run``."""
    if popen.pop("capture_output", False):
        popen.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with start(command, **popen) as process:  # its pipes closed however this ends
        try:
            out, err = process.communicate(timeout=timeout)
        except BaseException:
            stop(process)
            raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def stop(process: subprocess.Popen, seconds: float = STOP_SECONDS) -> None:
    """End ``process``: SIGTERM, then SIGKILL if it is still there after ``seconds``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


def main(argv: list[str]) -> None:
    """The launcher: ``lifeline.py PARENT -- COMMAND ...``."""
    parent, separator, *command = argv
    if separator != "--" or not command:
        sys.exit("usage: lifeline.py PARENT -- COMMAND ...")
    ask_kernel()
    if os.getppid() != int(parent):  # the parent died before the request took effect
        os._exit(128 + DEATH_SIGNAL)
    try:
        os.execvp(command[0], command)
    except OSError as exc:  # as a shell says it: 127 not found, 126 found but not runnable
        print(f"{command[0]}: {exc.strerror}", file=sys.stderr)
        sys.exit(127 if isinstance(exc, FileNotFoundError) else 126)


if __name__ == "__main__":
    main(sys.argv[1:])
