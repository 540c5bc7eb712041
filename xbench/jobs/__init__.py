"""The work each command starts, from arguments already parsed to files written.

- ``bench``: the timed suite under pytest-benchmark, published into ``results/``, then
  ``bench_interleaved``: its torch-vs-JAX comparisons timed interleaved;
- ``check``: the equivalence catalogue, its record written or published;
- ``ab``: two versions timed interleaved (``xbench.run.interleave``), with a confirmation;
- ``compare``: the regression gate: two recorded runs, or the check now and this checkout
  timed against the baseline revision (``ab --gate``); the baseline update;
- ``report``: RESULTS.md, its plots and the generated blocks of the README and docs;
- ``trace``: one trajectory to ``.npz``.

Long jobs report progress on stderr; what a command prints at the end is the CLI's.
"""
