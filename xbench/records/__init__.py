"""Records of what ran: one typed record per JSON document, written and read by one module.

- ``bench_run``: a timed run (``xbench bench``), pytest-benchmark's JSON with xbench's fields;
- ``check_run``: the equivalence catalogue's outcomes (``xbench check --json``);
- ``study_run``: a study (``xbench study``);
- ``trace``: one trajectory as ``.npz`` (``xbench trace``);
- ``layout``: where these live under ``results/`` and how they are named;
- ``storage``: atomic writes that never replace what must not be lost;
- ``machine``: what a run ran on (versions, CPU, device, commit).

Every JSON document carries a ``format`` field, ``xbench-<kind>/<version>``; files from
before the field (version 0) still load. Problems with a file are a one-line UsageError.
"""
