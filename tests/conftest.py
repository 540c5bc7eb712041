"""The tests' session: the environment of the xbench processes they start, JAX's compile
cache, and the catalogue run once per session (``catalogue_runs``). Builders the tests share
are in ``helpers.py``. The layout mirrors the package: ``tests/<layer>/`` per layer of
``xbench/``, ``tests/adapters/``, ``tests/properties/`` for the property tests (fuzzing,
untrusted input, robustness, power, mutation) and ``tests/project/`` for the whole project
(architecture, imports, wheel, docs); docs/architecture.md says more. The benchmark
suite's own plugin (``xbench.suite.plugin``) is loaded by pytest's configuration in
pyproject.toml."""

import os
import signal
from pathlib import Path

import pytest

from xbench.run import compile_cache
from xbench.run.registry import import_adapters_package

# Started in the background (`cmd &` without job control), pytest inherits SIGINT ignored,
# and so would every xbench process the tests start, which keeps a signal ignored at its
# start ignored: the stop trials need SIGINT as a terminal gives it. (SIGHUP under nohup
# stays ignored: no test needs it, and a logout must not stop the tests.)
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import_adapters_package()  # `xbench_adapters` importable also from an uninstalled checkout

# The xbench processes the tests start, from any folder, import this checkout's xbench, as
# the tests themselves do (pyproject's `pythonpath`): installed or not (PY=python3 make test).
_checkout = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_checkout, os.environ.get("PYTHONPATH")]))

# JAX's persistent compilation cache for the tests and the xbench processes they start, as
# `xbench check` uses it: a program compiled by an earlier run is loaded, the same
# executable (XBENCH_CACHE_DIR=off for none). Set before anything imports JAX.
_cache = compile_cache.folder()
if _cache is not None and not compile_cache.unusable(_cache):
    os.environ.update(compile_cache.settings(_cache))


class CatalogueRuns:
    """Each catalogue entry run at most once per session, however many tests ask for it
    (in worker processes, as ``xbench check`` runs them)."""

    def __init__(self) -> None:
        self.found = {}

    def __call__(self, entries) -> dict:
        """Each of ``entries``' outcome by name; the entries not run yet are run now."""
        from xbench.run.check import run_catalogue
        from xbench.run.threads import available_cpus

        missing = [e for e in entries if e.name not in self.found]
        if missing:
            outcomes = run_catalogue(missing, jobs=available_cpus())
            self.found.update({o.entry.name: o for o in outcomes})
        return {e.name: self.found[e.name] for e in entries}


@pytest.fixture(scope="session")
def catalogue_runs() -> CatalogueRuns:
    return CatalogueRuns()
