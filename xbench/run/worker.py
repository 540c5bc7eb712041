"""One side of an interleaved timing (``xbench.run.interleave``): a worker process that
builds benchmarks and times one round whenever it is asked.

``xbench ab`` (and so ``xbench compare``) and ``xbench bench``'s torch-vs-JAX stage start
several of these per side, each under the side's own interpreter and with the side's own
code first on ``sys.path``, and alternate their rounds. The worker
speaks JSON lines: one request on stdin, one reply on stdout (the library's own output goes
to stderr, so a chatty import cannot corrupt the protocol).

Requests and replies::

    (on start)                               -> {"protocol", "pid", "xbench", "versions", "threads"}
    {"op": "build", "key": K, "case": {...}} -> {"key", "seconds_per_call", "compile_seconds"}
    {"op": "round", "key": K, "warmup": W, "iterations": N}
                                             -> {"seconds": <per call>}
    {"op": "quit"}                           -> (exits)

A failing request replies ``{"error": "..."}`` and the worker goes on. A round makes ``W``
untimed calls immediately before its ``N`` timed ones: a process that has been idle while
the other side ran has let its threads fall asleep (torch's OpenMP workers, XLA's pool), and
its first calls after a pause are slow and erratic. The clock is read after each call blocks
(``block_until_ready`` / ``torch.cuda.synchronize`` inside the timed callable).

On CUDA, JAX must not preallocate most of the device (two workers share it), so this module
sets ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` before anything imports JAX.
"""

from __future__ import annotations

import json
import os
import sys
import time

from xbench.run.lifeline import die_with_parent

PROTOCOL = 1
PACKAGES = ("torch", "jax", "jaxlib", "optax", "numpy")


def serve(requests, send) -> None:
    """Answer ``requests`` (decoded dicts) through ``send`` until a quit or the end."""
    from xbench.run.timing import build, seconds_per_call
    from xbench.spec.benchmarks import BenchCase

    calls = {}
    for request in requests:
        op = request.get("op")
        if op == "quit":
            return
        try:
            if op == "build":
                built = build(BenchCase(**request["case"]))
                calls[request["key"]] = built.call
                send(
                    {
                        "key": request["key"],
                        "seconds_per_call": seconds_per_call(built.call),
                        "compile_seconds": built.compile_seconds,
                    }
                )
            elif op == "round":
                send({"seconds": timed_round(calls[request["key"]], **_round_args(request))})
            else:
                send({"error": f"unknown request {op!r}"})
        except Exception as error:  # reported to the controller, which names the benchmark
            send({"error": f"{type(error).__name__}: {error}"})


def _round_args(request: dict) -> dict:
    return {"warmup": int(request["warmup"]), "iterations": int(request["iterations"])}


def timed_round(call, warmup: int, iterations: int) -> float:
    """Seconds per call over ``iterations`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    start = time.perf_counter()
    for _ in range(iterations):
        call()
    return (time.perf_counter() - start) / iterations


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
    from xbench.run.machine import versions

    send(
        {
            "protocol": PROTOCOL,
            "pid": os.getpid(),
            "xbench": os.path.dirname(os.path.abspath(xbench.__file__)),
            "versions": versions(PACKAGES),
            "threads": report,
        }
    )
    serve((json.loads(line) for line in sys.stdin), send)


if __name__ == "__main__":
    main()
