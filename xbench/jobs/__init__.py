"""The work each command starts, from arguments already parsed to files written.

- ``bench``: the timed suite under pytest-benchmark, published into ``results/``;
- ``check``: the equivalence catalogue, its record written or published;
- ``gate``: the quick bench and the check now, against the committed baseline;
- ``report``: RESULTS.md, its plots and the generated blocks of the README and docs;
- ``trace``: one trajectory to ``.npz``.

Long jobs report progress on stderr; what a command prints at the end is the CLI's.
"""
