"""Analysis of recorded runs, as numbers and verdicts: which results share a table and which
is fastest (``grouping``), the regression gate (``gate``), run-to-run stability
(``stability``), the study's claims (``study``) and why two traces differ (``explain``,
which re-runs the float64 reference through ``xbench.run``).

Reads typed records (``xbench.records``) and traces; formats nothing and writes nothing.
"""
