"""Records of what ran: one typed record per file, written and read by one module.

- ``bench_run``: a timed run (``xbench bench``), pytest-benchmark's JSON with xbench's fields;
- ``check_run``: the equivalence catalogue's outcomes (``xbench check --json``);
- ``ab_run``: two versions timed interleaved (``xbench ab --json``);
- ``study_run``: a study (``xbench study``);
- ``trace``: one trajectory as ``.npz`` (``xbench trace``), and the only reader of it;
- ``files``: reading JSON documents and their ``format`` field; ``migrate``: older layouts;
- ``layout``: where these live under ``results/`` and how they are named;
- ``storage``: atomic writes that never replace what must not be lost;
- ``scratch``: a run's temporary folders, removed by the next run when it died.

Every JSON document carries a ``format`` field, ``xbench-<kind>/<version>``; files from
before the field (version 0) still load. Problems with a file are a one-line UsageError.
"""
