"""``xbench ab``: time two versions interleaved on one machine, in the same minutes.

Each side is a git revision of this repository (extracted into a temporary folder; run by
this interpreter when its ``constraints.txt`` is the same as this checkout's, else by an
environment built from it under ``.venv-ab/``) or a Python interpreter (this checkout's
code under that interpreter: how a torch/jax/optax version change is measured).

The method (docs/ab.md has the measurements behind each choice):

- ``pairs`` process pairs, each a fresh worker per side (``xbench.run.ab_worker``), because
  one process carries a bias of its own that no number of rounds averages out;
- in each pair, every benchmark in random order, and for each, ``rounds`` round pairs:
  one round of each side, back to back, in random order. A round is a few untimed calls
  (so the threads of a worker that sat idle are awake again) and then about
  ``ROUND_SECONDS`` of timed calls, with the threads the user runs with;
- after each round the controller waits until the worker that ran it has stopped using the
  CPU (its OpenMP and XLA threads spin for milliseconds after their last task, read from
  ``/proc/<pid>/task/*/schedstat``), so they never share the CPU with the other side's round;
- the rounds per benchmark are sized from the time budget once the first pair has started
  and built everything (so the startup cost is known).

``xbench.analysis.paired`` turns the rounds into NEW/BASE with a 95% interval and a verdict.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xbench.analysis.paired import benchmark_ratio, flagged, summaries, verdict
from xbench.errors import UsageError
from xbench.present.progress import Progress
from xbench.records import machine
from xbench.records.ab_run import AbBenchmark, AbRun, PairRounds, Side, now
from xbench.records.scratch import scratch
from xbench.run import ab_worker, lifeline
from xbench.spec.benchmarks import BenchCase, gate_cases, sweep

ROUND_SECONDS = 0.005  # timed part of a round
WARMUP_SECONDS = 0.002  # untimed calls just before it (at least MIN_WARMUP calls)
MIN_WARMUP = 2
PER_CALL_SECONDS = 0.02  # the quiet round that sizes a benchmark's rounds (build_all)
MIN_CALLS = 10  # timed calls per round at least: a cost paid every few calls shows in each
SETTLE_POLL, SETTLE_CAP = 0.0005, 0.03  # seconds: how often to look, and the longest wait
SETTLE_IDLE = 0.1  # a worker is idle when it used < 10% of one CPU over a poll
MIN_ROUNDS, MAX_ROUNDS = 10, 400
DEFAULT_PAIRS = 6
DEFAULT_THRESHOLD = 0.005  # what it catches and what it flags by chance: docs/ab.md's proof
DEFAULT_BUDGET = 300.0
GATE_PAIRS, GATE_BUDGET = 8, 180.0  # the CI gate (--gate): measured in docs/ab.md
CONFIRM_PAIRS = 2  # × --pairs: the confirmation's fresh process pairs
CONFIRM_SHARE = 0.5  # of the time budget for the confirmation (it overruns rather than run
# fewer rounds per pair than the first measurement did)
PAD_MAX = 4096  # bytes of environment padding, drawn per worker (see Worker)
ENVIRONMENTS = ".venv-ab"  # under the checkout: one per distinct constraints.txt


@dataclass(frozen=True)
class AbRequest:
    base: str
    new: str
    quick: bool = False
    gate: bool = False
    select: str | None = None  # a pytest -k expression
    threshold: float = DEFAULT_THRESHOLD
    json: Path | None = None
    time_budget: float = DEFAULT_BUDGET
    pairs: int = DEFAULT_PAIRS
    threads: int = 2
    device: str = "cpu"
    seed: int | None = None
    confirm: bool = True

    def __post_init__(self) -> None:
        if self.pairs < 2:
            raise UsageError(f"--pairs {self.pairs}: at least 2 (the interval needs a spread)")
        if self.time_budget <= 0:
            raise UsageError(f"--time-budget {self.time_budget}: must be positive")


# ----------------------------------------------------------------------------- selection


def keyword_matches(expression: str, names: list[str]) -> bool:
    """pytest's -k semantics (and/or/not over case-insensitive substrings of the names)."""
    from _pytest.mark.expression import Expression

    try:
        compiled = Expression.compile(expression)
    except SyntaxError as exc:  # pytest raises SyntaxError (ParseError in older releases)
        raise UsageError(f"-k {expression!r}: {exc}") from None
    lowered = [n.lower() for n in names]
    return compiled.evaluate(lambda word, **_: any(word.lower() in n for n in lowered))


def selected(request: AbRequest) -> list[BenchCase]:
    """The update and training steps ``request`` selects, as ``xbench bench`` would."""
    if request.gate and request.quick:
        raise UsageError("--gate and --quick are two selections; give one")
    if request.gate:
        cases = gate_cases(request.device)
    else:
        profile = "quick" if request.quick else "default"
        cases = [c for c in sweep(profile, request.device) if c.kind in ("update", "train")]
    if request.select:
        cases = [
            c for c in cases
            if keyword_matches(request.select, [f"test_{c.kind}[{c.id}]", "benchmarks.py"])
        ]  # fmt: skip
    if not cases:
        raise UsageError(f"no benchmark selected (-k {request.select!r})")
    return cases


# ----------------------------------------------------------------------------- sides


@dataclass
class Prepared:
    """A side ready to start workers: the record, its interpreter and its code folder."""

    side: Side
    python: str
    code: Path  # holds ``xbench`` and ``xbench_adapters``; first on the workers' sys.path


def git(*args: str, binary: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(machine.REPO), *args], capture_output=True,
                          text=not binary, timeout=120)  # fmt: skip


def link_code(folder: Path, xbench_dir: Path, adapters_dir: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "xbench").symlink_to(xbench_dir)
    (folder / "xbench_adapters").symlink_to(adapters_dir)
    return folder


def check_interpreter(path: str, name: str) -> str:
    """``path`` as an absolute interpreter path; a UsageError unless it runs Python 3."""
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise UsageError(f"{name} {path!r}: not an executable file (nor a revision)")
    try:
        done = lifeline.run([path, "-c", "import sys; print(sys.version_info[0])"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"{name} {path!r}: cannot run it ({exc})") from None
    if done.returncode != 0 or done.stdout.strip() != "3":
        raise UsageError(f"{name} {path!r}: not a Python 3 interpreter")
    return os.path.abspath(path)


def adapters_beside(xbench_dir: Path) -> Path:
    """The adapters that belong with ``xbench_dir``: the checkout's own ``adapters/`` next to
    it when there is one (xbench run from a checkout other than the installed one must not
    pair its own code with the install's adapters), else the installed ``xbench_adapters``."""
    beside = xbench_dir.parent / "adapters"
    if (beside / "__init__.py").is_file():
        return beside
    adapters = importlib.util.find_spec("xbench_adapters")
    if adapters is None or not adapters.submodule_search_locations:
        raise UsageError("xbench_adapters is not importable here; reinstall xbench")
    return Path(adapters.submodule_search_locations[0]).resolve()


def looks_like_path(spec: str) -> bool:
    return os.sep in spec or os.path.exists(spec)


def prepare(spec: str, name: str, work: Path, log: Callable[[str], None]) -> Prepared:
    """Resolve ``spec`` (a revision or an interpreter) into a runnable side under ``work``."""
    if not spec:
        raise UsageError(f"{name}: empty; give a git revision or a Python interpreter")
    if looks_like_path(spec):
        python = check_interpreter(spec, name)
        xbench_dir = Path(ab_worker.__file__).resolve().parents[1]
        adapters_dir = adapters_beside(xbench_dir)
        code = link_code(work / f"code-{name}", xbench_dir, adapters_dir)
        commit = machine.git_commit().get("id")
        side = Side(spec, "interpreter", commit, python, code=str(xbench_dir))
        return Prepared(side, python, code)
    return prepare_revision(spec, name, work, log)


def prepare_revision(spec: str, name: str, work: Path, log: Callable[[str], None]) -> Prepared:
    if git("rev-parse", "--git-dir").returncode != 0:
        raise UsageError(f"{name} {spec!r}: revisions need xbench run from a git checkout")
    found = git("rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
    if found.returncode != 0:
        raise UsageError(f"{name} {spec!r}: unknown revision (and no such interpreter)")
    commit = found.stdout.strip()
    tree = work / f"tree-{name}"
    tree.mkdir()
    archive = git("archive", "--format=tar", commit, binary=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    if not (tree / "xbench" / "run" / "ab_worker.py").is_file():
        raise UsageError(
            f"{name} {spec!r} ({commit[:10]}) predates xbench ab (no xbench/run/ab_worker.py); "
            "compare revisions that have it, or use `xbench compare` on published runs"
        )
    python = environment_for(tree / "constraints.txt", tree, log)
    code = link_code(work / f"code-{name}", tree / "xbench", tree / "adapters")
    return Prepared(Side(spec, "revision", commit, python), python, code)


def environment_for(constraints: Path, tree: Path, log: Callable[[str], None]) -> str:
    """This interpreter when ``constraints`` pins what this checkout pins; else the
    interpreter of an environment built from it (once, under ``.venv-ab/<hash>``)."""
    mine = machine.REPO / "constraints.txt"
    same = mine.is_file() and mine.read_bytes() == constraints.read_bytes()
    if not constraints.is_file() or same:
        return sys.executable
    digest = hashlib.sha256(constraints.read_bytes()).hexdigest()[:12]
    env = machine.REPO / ENVIRONMENTS / digest
    python = env / "bin" / "python"
    if (env / ".installed").is_file():
        return str(python)
    log(f"its constraints.txt differs: building {env} (once; several minutes)")
    shutil.rmtree(env, ignore_errors=True)
    steps = (
        [sys.executable, "-m", "venv", str(env)],
        [str(python), "-m", "pip", "install", "-q", "-c", str(constraints), f"{tree}[torch,jax]"],
    )
    for step in steps:
        done = lifeline.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            raise UsageError(f"building {env} failed: {done.stderr.strip()[-500:]}")
    (env / ".installed").touch()
    return str(python)


# ----------------------------------------------------------------------------- workers


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
        """``pad`` bytes of padding go into the worker's environment. The environment's size
        moves where the stack starts and so the alignment of everything on it, which can
        change a program's speed by several percent (Mytkowicz et al., "Producing wrong data
        without doing anything obviously wrong!", ASPLOS 2009); the two sides' paths differ
        in length, so without padding that bias would be the same in every process pair
        and no number of pairs would average it out. A padding drawn per worker turns it
        into spread between pairs, which the interval carries."""
        self.name = name
        self.stderr_path = log_folder / f"{name}-{time.monotonic_ns()}.log"
        path = os.pathsep.join(p for p in (str(side.code), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, **(env or {}), "PYTHONPATH": path, "XBENCH_THREADS": str(threads),
               "PYTHONDONTWRITEBYTECODE": "1", "XBENCH_AB_PADDING": "." * pad}  # fmt: skip
        with open(self.stderr_path, "wb") as stderr:
            self.process = lifeline.start(
                [side.python, "-m", "xbench.run.ab_worker"], cwd=side.code, env=env,
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
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.flush()
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
    """A fresh worker per side, both started before either is waited for; ``env`` adds to
    their environment."""
    workers = {
        name: Worker(side, name.upper(), threads, logs, pad=rng.randrange(PAD_MAX), env=env)
        for name, side in sides.items()
    }
    try:
        greet(workers, sides)
    except BaseException:
        for worker in workers.values():
            worker.close(hurry=True)
        raise
    return workers


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
        if hello.get("protocol") != ab_worker.PROTOCOL:
            raise WorkerFailed(f"{name.upper()} speaks worker protocol {hello.get('protocol')}, "
                               f"this xbench {ab_worker.PROTOCOL}")  # fmt: skip
        expected = (sides[name].code / "xbench").resolve()
        if Path(hello["xbench"]).resolve() != expected:
            raise WorkerFailed(f"{name.upper()} imported xbench from {hello['xbench']}, "
                               f"not {expected}")  # fmt: skip
        worker.hello = hello


def require_frameworks(workers: dict[str, Worker], cases: list[BenchCase], specs: dict) -> None:
    needed = sorted({c.framework for c in cases})
    for name, worker in workers.items():
        missing = [f for f in needed if worker.hello["versions"].get(f) is None]
        if missing:
            raise UsageError(f"{name.upper()} {specs[name]!r} lacks {', '.join(missing)}, "
                             "which the selected benchmarks need")  # fmt: skip


# ----------------------------------------------------------------------------- schedule


@dataclass
class Plan:
    """Rounds per benchmark per pair, and each benchmark's calls per round."""

    rounds: int
    iterations: dict[str, int] = field(default_factory=dict)
    warmup: dict[str, int] = field(default_factory=dict)


def plan_rounds(
    seconds_per_call: dict[str, float],
    startup: float,
    budget: float,
    pairs: int,
    at_least: int | None = None,
    runs_per_key: int = 2,
    min_calls: int = MIN_CALLS,
    min_warmup: int = MIN_WARMUP,
    min_rounds: int = MIN_ROUNDS,
) -> Plan:
    """Size the rounds so ``pairs`` pairs fit ``budget`` seconds, each pair costing
    ``startup`` (start and build) plus its round pairs. Too short a budget for MIN_ROUNDS is
    a UsageError, unless ``at_least`` is given (a confirmation, which must not fail the run
    after the first measurement): then at least that many, past the budget.

    ``runs_per_key``: rounds of each key per round pair: 2 when both sides time the same
    benchmark (``xbench ab``), 1 when each side times its own (torch against JAX).
    ``min_calls`` and ``min_warmup``: timed and untimed calls per round at least;
    ``min_rounds``: round pairs per process pair at least."""
    plan = Plan(rounds=0)
    cost = 0.0  # seconds of one round pair of every benchmark
    for key, per_call in seconds_per_call.items():
        per_call = max(per_call, 1e-7)
        plan.iterations[key] = max(min_calls, math.ceil(ROUND_SECONDS / per_call))
        plan.warmup[key] = max(min_warmup, math.ceil(WARMUP_SECONDS / per_call))
        calls = plan.iterations[key] + plan.warmup[key]
        cost += runs_per_key * (calls * per_call + 0.006)  # + settle and request: ~6 ms
    per_pair = budget / pairs - startup
    rounds = int(per_pair / cost) if per_pair > 0 else 0
    if at_least is not None:
        rounds = max(rounds, at_least, min_rounds)
    if rounds < min_rounds:
        need = pairs * (startup + min_rounds * cost)
        raise UsageError(
            f"--time-budget {budget:.0f} s is too short for {len(seconds_per_call)} benchmarks "
            f"in {pairs} process pairs (each pair starts in about {startup:.0f} s); give at "
            f"least {math.ceil(need)} s, fewer --pairs, or select fewer benchmarks"
        )
    plan.rounds = min(MAX_ROUNDS, rounds)
    return plan


def stderr_log(message: str) -> None:
    print(f"xbench ab: {message}", file=sys.stderr, flush=True)


def run_ab(request: AbRequest, log: Callable[[str], None] = stderr_log) -> AbRun:
    """Run ``request``; the record (saved to ``request.json`` only once complete).

    Benchmarks that the first measurement flags (regressed or improved) are measured again
    (``request.confirm``) in CONFIRM_PAIRS times as many fresh process pairs, with at least
    as many rounds each as the first measurement and CONFIRM_SHARE of its budget; the verdict
    stands only when the confirmation finds a difference in the same direction
    (``analysis.paired.benchmark_verdict``)."""
    cases = selected(request)
    started, wall = now(), time.perf_counter()
    rng = random.Random(request.seed)
    with scratch("ab") as work:
        sides = {
            "base": prepare(request.base, "BASE", work, log),
            "new": prepare(request.new, "NEW", work, log),
        }
        first = measure(request, cases, sides, request.time_budget, rng, work, log)
        for name, side in sides.items():
            side.side.versions.update(first.hellos[name]["versions"])
        run = record(request, sides, first, started)
        run.benchmarks = [AbBenchmark(c.id, asdict(c), first.rounds[c.id]) for c in cases]
        threshold = request.threshold
        again = [b for b in run.benchmarks if flagged(verdict(benchmark_ratio(b), threshold))]
        if request.confirm and again:
            log(f"confirming {len(again)} flagged benchmark(s) with fresh process pairs: "
                + ", ".join(b.id for b in again))  # fmt: skip
            chosen = [c for c in cases if c.id in {b.id for b in again}]
            second = measure(request, chosen, sides, request.time_budget * CONFIRM_SHARE, rng,
                             work, log, pairs=request.pairs * CONFIRM_PAIRS,
                             at_least=first.plan.rounds, what="confirmation")  # fmt: skip
            for bench in again:
                bench.confirmation.extend(second.rounds[bench.id])
            run.settings["confirmation"] = {
                "pairs": request.pairs * CONFIRM_PAIRS,
                "rounds": second.plan.rounds,
                "benchmarks": [b.id for b in again],
            }
    run.seconds = round(time.perf_counter() - wall, 1)
    if request.json:
        run.save(request.json, summaries(run))
    return run


@dataclass
class Measured:
    rounds: dict[str, list[PairRounds]]
    plan: Plan
    settles: list[float]
    hellos: dict[str, dict]


def measure(
    request: AbRequest,
    cases: list[BenchCase],
    sides: dict[str, Prepared],
    budget: float,
    rng: random.Random,
    work: Path,
    log: Callable[[str], None],
    pairs: int | None = None,
    at_least: int | None = None,
    what: str = "measurement",
    stream=None,
) -> Measured:
    """``pairs`` (default ``request.pairs``) fresh process pairs, each building ``cases`` and
    timing every one (in random order) in interleaved round pairs sized to fit ``budget``
    (or ``at_least`` that many round pairs, past the budget: see ``plan_rounds``). Progress
    of ``what`` goes to ``stream`` (default standard error)."""
    pairs = pairs or request.pairs
    rounds: dict[str, list[PairRounds]] = {c.id: [] for c in cases}
    plan, settles, hellos = None, [], {}
    with Progress(pairs, f"xbench ab: {what}, process pairs", stream=stream) as progress:
        for pair in range(pairs):
            item = f"pair {pair + 1}/{pairs}"
            progress.start(f"{item}: starting and building")
            pair_start = time.perf_counter()
            workers = start_pair(sides, request.threads, work, rng)
            with closing(workers):
                if pair == 0:
                    require_frameworks(workers, cases, {"base": request.base, "new": request.new})
                per_call = build_all(workers, cases)
                if plan is None:
                    startup = time.perf_counter() - pair_start
                    plan = plan_rounds(per_call, startup, budget, pairs, at_least)
                    log(f"{len(cases)} benchmarks × {pairs} process pairs × {plan.rounds} "
                        f"round pairs (startup {startup:.0f} s per pair)")  # fmt: skip
                order = list(cases)
                rng.shuffle(order)
                for case in order:
                    progress.start(f"{item}: {case.id}")
                    pair_rounds, settled = time_pair(workers, case.id, plan, rng)
                    rounds[case.id].append(pair_rounds)
                    settles += settled
            hellos = {name: worker.hello for name, worker in workers.items()}
            progress.done(item, f"{plan.rounds} round pairs of {len(cases)} benchmarks")
    return Measured(rounds, plan, settles, hellos)


def record(request: AbRequest, sides: dict, first: Measured, started: str) -> AbRun:
    """The record of a finished run, its benchmarks still to add."""
    plan, settles = first.plan, first.settles
    return AbRun(
        datetime=started,
        seconds=0.0,
        machine={
            "cpu_model": machine.cpu_model(),
            "memory_bytes": machine.memory_bytes(),
            "device": request.device,
        },
        settings={
            "threshold": request.threshold,
            "pairs": request.pairs,
            "rounds": plan.rounds,
            "time_budget": request.time_budget,
            "round_seconds": ROUND_SECONDS,
            "warmup_seconds": WARMUP_SECONDS,
            "threads": request.threads,
            "seed": request.seed,
            "min_calls": MIN_CALLS,
            "settle_median_seconds": sorted(settles)[len(settles) // 2] if settles else None,
            "selection": {"quick": request.quick, "gate": request.gate, "k": request.select},
        },
        base=sides["base"].side,
        new=sides["new"].side,
        benchmarks=[],
    )


def build_all(workers: dict[str, Worker], cases: list[BenchCase]) -> dict[str, float]:
    """Build every case in both workers; seconds per call per case, the faster side's (the
    one least disturbed; see ``build_sides``)."""
    found = build_sides(workers, {name: cases for name in workers})
    return {c.id: min(found[name][c.id] for name in workers) for c in cases}


def build_sides(
    workers: dict[str, Worker], cases: dict[str, list[BenchCase]]
) -> dict[str, dict[str, float]]:
    """Build each side's ``cases`` in its worker, both workers at once; per side, seconds per
    call per case id.

    The two workers build (import torch and JAX, compile) concurrently, which halves a
    pair's startup on two cores. A build's own seconds-per-call figure is then taken beside
    the other worker's build, so it is only a first guess: each worker measures every case
    again in one quiet round (the other worker settled first: its threads spin for
    milliseconds after their last task; measured beside them, an 80 µs step read 1 ms and
    its rounds came out ten times too short).
    """
    guess: dict[str, dict[str, float]] = {name: {} for name in workers}
    for step in range(max(len(side_cases) for side_cases in cases.values())):
        asked = {name: cases[name][step] for name in workers if step < len(cases[name])}
        for name, case in asked.items():
            workers[name].send({"op": "build", "key": case.id, "case": asdict(case)})
        for name, case in asked.items():
            try:
                guess[name][case.id] = workers[name].reply()["seconds_per_call"]
            except WorkerFailed as exc:
                raise WorkerFailed(f"{case.id}: {exc}") from None
    per_call: dict[str, dict[str, float]] = {name: {} for name in workers}
    for step in range(max(len(side_cases) for side_cases in cases.values())):
        asked = {name: cases[name][step] for name in workers if step < len(cases[name])}
        for name in random.sample(list(asked), len(asked)):
            for other in workers.values():
                other.settle()
            key = asked[name].id
            best = min(g[key] for g in guess.values() if key in g)  # the least disturbed
            iterations = max(3, math.ceil(PER_CALL_SECONDS / max(best, 1e-7)))
            request = {"op": "round", "key": key, "warmup": 3, "iterations": iterations}
            per_call[name][key] = workers[name].ask(request)["seconds"]
    return per_call


def build_concurrently(
    workers: dict[str, Worker], cases: dict[str, list[BenchCase]], window: int = 8
) -> None:
    """Build each side's ``cases`` in its worker, each worker at its own pace: up to
    ``window`` requests wait in each, so a side with quick builds never waits for the
    other's slow ones (``build_sides`` goes in step, to measure; a pair whose rounds are
    already planned needs only the builds)."""
    sent = dict.fromkeys(workers, 0)
    done = dict.fromkeys(workers, 0)

    def top_up(name: str) -> None:
        while sent[name] < len(cases[name]) and sent[name] - done[name] < window:
            case = cases[name][sent[name]]
            workers[name].send({"op": "build", "key": case.id, "case": asdict(case)})
            sent[name] += 1

    for name in workers:
        top_up(name)
    while any(done[name] < len(cases[name]) for name in workers):
        for name in workers:
            if done[name] < sent[name]:
                try:
                    workers[name].reply()
                except WorkerFailed as exc:
                    raise WorkerFailed(f"{cases[name][done[name]].id}: {exc}") from None
                done[name] += 1
                top_up(name)


def time_pair(workers: dict[str, Worker], key: str, plan: Plan, rng: random.Random):
    """``plan.rounds`` round pairs of ``key`` on both sides (``time_sides``); the rounds as a
    ``PairRounds``, and the settle waits."""
    times, first, settles = time_sides(workers, {name: key for name in workers}, plan, rng)
    pair = PairRounds(plan.iterations[key], plan.warmup[key], times["base"], times["new"], first)
    return pair, settles


def time_sides(
    workers: dict[str, Worker], keys: dict[str, str], plan: Plan, rng: random.Random
) -> tuple[dict[str, list[float]], str, list[float]]:
    """``plan.rounds`` round pairs, each side timing its own ``keys[side]``: the sides
    strictly alternate (a random one starts), so every round follows one of the other
    side's, never one of its own (a worker that runs twice in a row finds its data in cache
    and its threads awake: ~20% faster on a training step here). Per side its seconds per
    call, one per round; which side ran first in each round pair (its name's first letter);
    and the settle waits."""
    times: dict[str, list[float]] = {name: [] for name in workers}
    settles = []
    names = list(workers)
    rng.shuffle(names)
    for _ in range(plan.rounds):
        for name in names:
            key = keys[name]
            request = {"op": "round", "key": key, "warmup": plan.warmup[key],
                       "iterations": plan.iterations[key]}  # fmt: skip
            times[name].append(workers[name].ask(request)["seconds"])
            settles.append(workers[name].settle())
    return times, names[0][0] * plan.rounds, settles
