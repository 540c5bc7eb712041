"""Both ends of the worker protocol of interleaved timing (``xbench.run.interleave``): the
server, a worker process of one side that builds benchmarks and times one round whenever it
is asked (``serve``, ``main``), and the controller's client (``Worker``, ``start_pair``).

``xbench ab`` (and so ``xbench compare``) and ``xbench bench``'s torch-vs-JAX stage start
several of these per side, each under the side's own interpreter and with the side's own
code first on ``sys.path``, and alternate their rounds. The worker speaks JSON lines: one
request on stdin, one reply on stdout (the library's own output goes to stderr, so a chatty
import cannot corrupt the protocol).

Requests and replies::

    (on start)                               -> {"protocol", "pid", "xbench", "versions", "threads"}
    {"op": "build", "key": K, "case": {...}} -> {"key", "seconds_per_call", "compile_seconds"}
    {"op": "round", "key": K, "warmup": W, "iterations": N}
                                             -> {"seconds": <per call>}
    {"op": "quit"}                           -> (exits)

A failing request replies ``{"error": "..."}`` and the worker goes on. A round makes ``W``
untimed calls (waking the threads that slept while the other side ran: docs/ab.md) just
before its ``N`` timed ones, each of which blocks until its work is done.

On CUDA, JAX must not preallocate most of the device (two workers share it), so this module
sets ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` before anything imports JAX.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from xbench.errors import UsageError
from xbench.run import lifeline
from xbench.run.lifeline import die_with_parent

if TYPE_CHECKING:  # the worker process itself imports neither
    from xbench.run.sides import Prepared
    from xbench.workloads.benchmarks import BenchCase

PROTOCOL = 1


# ----------------------------------------------------------------------------- the server


def serve(requests, send) -> None:
    """Answer ``requests`` (decoded dicts) through ``send`` until a quit or the end."""
    from xbench.run.timing import bare_seconds_per_call, build, seconds_per_call
    from xbench.workloads.benchmarks import BenchCase

    calls = {}
    for request in requests:
        op = request.get("op")
        if op == "quit":
            return
        try:
            if op == "build":
                built = build(BenchCase(**request["case"]))
                calls[request["key"]] = built.call
                send({"key": request["key"], "seconds_per_call": seconds_per_call(built.call),
                      "compile_seconds": built.compile_seconds})  # fmt: skip
            elif op == "round":
                call = calls[request["key"]]
                warmup, iterations = int(request["warmup"]), int(request["iterations"])
                for _ in range(warmup):  # untimed, just before the timed ones
                    call()
                send({"seconds": bare_seconds_per_call(call, iterations)})
            else:
                send({"error": f"unknown request {op!r}"})
        except Exception as error:  # reported to the controller, which names the benchmark
            send({"error": f"{type(error).__name__}: {error}"})


def main() -> None:
    # also when stdin stays open. Its parent: xbench, or a wrapper script that runs this
    # interpreter without exec (which the launcher, on Linux, ends with xbench)
    die_with_parent(os.getppid())
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything printed goes to stderr
    sys.stdout = sys.stderr

    def send(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    from xbench.run.threads import available_cpus, set_threads

    threads = int(os.environ.get("XBENCH_THREADS") or 0) or available_cpus()
    report = set_threads(threads)
    import xbench
    from xbench.run.machine import FRAMEWORK_PACKAGES, versions

    send({"protocol": PROTOCOL, "pid": os.getpid(),
          "xbench": os.path.dirname(os.path.abspath(xbench.__file__)),
          "versions": versions(FRAMEWORK_PACKAGES), "threads": report})  # fmt: skip
    serve((json.loads(line) for line in sys.stdin), send)


# ----------------------------------------------------------------------------- the client

SETTLE_POLL, SETTLE_CAP = 0.0005, 0.03  # seconds: how often to look, and the longest wait
SETTLE_IDLE = 0.1  # a worker is idle when it used < 10% of one CPU over a poll
PAD_MAX = 4096  # bytes of environment padding, drawn per worker (see Worker)


class WorkerFailed(UsageError):
    """A worker died, or could not build or time a benchmark."""


class Worker:
    """One worker process of one side."""

    def __init__(
        self,
        side: Prepared,
        name: str,
        threads: int,
        log_folder: Path,
        pad: int = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        """``pad`` bytes of padding go into the worker's environment: drawn per worker, they
        turn the stack-alignment bias of the sides' different paths into spread between
        process pairs (docs/ab.md, environment padding)."""
        self.name, self.spec = name, side.spec
        self.stderr_path = log_folder / f"{name}-{time.monotonic_ns()}.log"
        path = os.pathsep.join(p for p in (str(side.code), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, **(env or {}), "PYTHONPATH": path, "XBENCH_THREADS": str(threads),
               "PYTHONDONTWRITEBYTECODE": "1", "XBENCH_PADDING": "." * pad}  # fmt: skip
        with open(self.stderr_path, "wb") as stderr:
            self.process = lifeline.start(
                [side.python, "-m", side.module], cwd=side.code, env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
            )  # fmt: skip
        self.hello: dict | None = None

    def receive(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            raise WorkerFailed(f"{self.name} worker exited ({self.process.returncode}): "
                               f"{self.stderr_tail()}")  # fmt: skip
        return json.loads(line)

    def send(self, request: dict) -> None:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def reply(self) -> dict:
        reply = self.receive()
        if "error" in reply:
            raise WorkerFailed(f"{self.name}: {reply['error']}")
        return reply

    def ask(self, request: dict) -> dict:
        self.send(request)
        return self.reply()

    def build(self, case: BenchCase) -> None:
        """Ask for ``case`` to be built; ``built`` reads the reply (requests may queue)."""
        self.send({"op": "build", "key": case.id, "case": dataclasses.asdict(case)})

    def built(self) -> float:
        """The next build's reply: its first guess at the step's seconds per call."""
        return self.reply()["seconds_per_call"]

    def round(self, key: str, warmup: int, iterations: int) -> float:
        """One round of ``key``: ``warmup`` untimed calls, then the seconds per call of
        ``iterations`` timed ones."""
        request = {"op": "round", "key": key, "warmup": warmup, "iterations": iterations}
        return self.ask(request)["seconds"]

    def stderr_tail(self) -> str:
        try:
            lines = self.stderr_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no output)"
        return " | ".join(lines[-3:]) or "(no output)"

    def cpu_seconds(self) -> float:
        """CPU time of every thread of the worker so far (Linux; 0 elsewhere)."""
        total = 0
        for stat in glob.glob(f"/proc/{self.process.pid}/task/*/schedstat"):
            try:
                with open(stat) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        return total / 1e9

    def settle(self) -> float:
        """Wait until the worker's threads stop using the CPU (at most SETTLE_CAP); seconds."""
        start = time.perf_counter()
        last = self.cpu_seconds()
        while time.perf_counter() - start < SETTLE_CAP:
            time.sleep(SETTLE_POLL)
            used = self.cpu_seconds()
            if used - last < SETTLE_IDLE * SETTLE_POLL:
                break
            last = used
        return time.perf_counter() - start

    def close(self, hurry: bool = False) -> None:
        """Ask the worker to quit; with ``hurry`` (an error or an interrupt is on its way
        out), stop it now instead: it may be in the middle of a round or a compilation."""
        if hurry:
            lifeline.stop(self.process)
        elif self.process.poll() is None:
            try:
                self.send({"op": "quit"})
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def start_pair(
    sides: dict[str, Prepared],
    threads: int,
    logs: Path,
    rng: random.Random,
    env: dict[str, str] | None = None,
) -> dict[str, Worker]:
    """A fresh worker per side, both started before either is waited for (``greet`` reads
    their hellos); ``env`` adds to their environment."""
    return {
        name: Worker(side, name.upper(), threads, logs, pad=rng.randrange(PAD_MAX), env=env)
        for name, side in sides.items()
    }


@contextlib.contextmanager
def closing(workers: dict[str, Worker]) -> Iterator[dict[str, Worker]]:
    """Close ``workers`` when the block ends: asked to quit, or stopped at once when an
    error or an interrupt ends it (a worker may be in the middle of a round)."""
    try:
        yield workers
    except BaseException:
        for worker in workers.values():
            worker.close(hurry=True)
        raise
    for worker in workers.values():
        worker.close()


def greet(workers: dict[str, Worker], sides: dict[str, Prepared]) -> None:
    """Read each worker's hello: its protocol, and that it imported the side's own code."""
    for name, worker in workers.items():
        hello = worker.receive()
        if hello.get("protocol") != PROTOCOL:
            raise WorkerFailed(f"{name.upper()} speaks worker protocol {hello.get('protocol')}, "
                               f"this xbench {PROTOCOL}")  # fmt: skip
        expected = (sides[name].code / "xbench").resolve()
        if Path(hello["xbench"]).resolve() != expected:
            raise WorkerFailed(f"{name.upper()} imported xbench from {hello['xbench']}, "
                               f"not {expected}")  # fmt: skip
        worker.hello = hello


def require_frameworks(workers: dict[str, Worker], cases: list[BenchCase]) -> None:
    """A UsageError when a side's worker lacks a framework that ``cases`` need."""
    needed = sorted({c.framework for c in cases})
    for name, w in workers.items():
        missing = [f for f in needed if w.hello["versions"].get(f) is None]
        if missing:
            raise UsageError(f"{name.upper()} {w.spec!r} lacks {', '.join(missing)}, "
                             "which the selected benchmarks need")  # fmt: skip


if __name__ == "__main__":
    main()
