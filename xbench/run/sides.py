"""A side of an interleaved timing, ready to start workers: a git revision of this
repository or a Python interpreter.

A revision is extracted (``git archive``) into a temporary folder and run by this
interpreter when its ``constraints.txt`` is the same as this checkout's, else by an
environment built from it once under ``.venv-ab/``. An interpreter runs this checkout's
code: how a torch/jax/optax version change is measured.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xbench.errors import UsageError
from xbench.run import lifeline, machine

ENVIRONMENTS = ".venv-ab"  # under the checkout: one per distinct constraints.txt
# The worker module, newest first: revisions before the rename have only ``ab_worker``.
WORKER_MODULES = ("xbench.run.worker", "xbench.run.ab_worker")


@dataclass(frozen=True)
class Prepared:
    """A side ready to start workers: as given, ``revision`` or ``interpreter``, its commit,
    its interpreter, the folder of its code (``xbench`` and ``xbench_adapters``, first on
    the workers' sys.path), and for an interpreter the xbench folder that code links to."""

    spec: str
    kind: str
    commit: str | None
    python: str
    code: Path
    source: str | None = None

    @property
    def module(self) -> str:
        """The worker module the side's code has."""
        for module in WORKER_MODULES:
            if (self.code / (module.replace(".", "/") + ".py")).is_file():
                return module
        return WORKER_MODULES[0]


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


def this_interpreter(work: Path) -> Prepared:
    """This checkout's code under this interpreter (both sides of the torch-vs-JAX stage)."""
    return prepare(sys.executable, "THIS", work, lambda _: None)


def prepare(spec: str, name: str, work: Path, log: Callable[[str], None]) -> Prepared:
    """Resolve ``spec`` (a revision or an interpreter) into a runnable side under ``work``."""
    if not spec:
        raise UsageError(f"{name}: empty; give a git revision or a Python interpreter")
    if os.sep in spec or os.path.exists(spec):  # an interpreter
        python = check_interpreter(spec, name)
        xbench_dir = Path(__file__).resolve().parents[1]
        code = link_code(work / f"code-{name}", xbench_dir, adapters_beside(xbench_dir))
        commit = machine.git_commit().get("id")
        return Prepared(spec, "interpreter", commit, python, code, str(xbench_dir))
    return prepare_revision(spec, name, work, log)


def prepare_revision(spec: str, name: str, work: Path, log: Callable[[str], None]) -> Prepared:
    git = machine.git
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
    if not any((tree / (m.replace(".", "/") + ".py")).is_file() for m in WORKER_MODULES):
        raise UsageError(
            f"{name} {spec!r} ({commit[:10]}) predates xbench ab (no xbench/run/worker.py nor "
            "ab_worker.py); "
            "compare revisions that have it, or use `xbench compare` on published runs"
        )
    python = environment_for(tree / "constraints.txt", tree, log)
    code = link_code(work / f"code-{name}", tree / "xbench", tree / "adapters")
    return Prepared(spec, "revision", commit, python, code)


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
