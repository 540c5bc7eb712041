"""The timed benchmark suite that ``xbench bench`` runs under pytest-benchmark.

- ``benchmarks``: the benchmarks, one per BenchCase of the chosen sweep profile, and the
  harness-overhead check;
- ``plugin``: the pytest plugin (``-p xbench.suite.plugin``): the ``--xbench-*`` options,
  threads, and what xbench adds to pytest-benchmark's JSON (``xbench.records.bench_run``);
- ``pytest.ini``: the configuration ``xbench bench`` runs it with, wherever xbench is
  installed.

It ships inside the package, so an installed xbench (``pip install "xbench[torch,jax,bench]"``)
can run ``xbench bench`` outside any checkout. ``make test`` runs every benchmark body once,
untimed (``--benchmark-disable``), as a smoke test.
"""

from pathlib import Path

SUITE = Path(__file__).resolve().parent
BENCHMARKS = SUITE / "benchmarks.py"
CONFIG = SUITE / "pytest.ini"  # loads the plugin: -p xbench.suite.plugin
