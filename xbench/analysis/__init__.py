"""Analysis of recorded runs, as numbers and verdicts: which results share a table and which
is fastest (``grouping``), the regression gate (``gate``), run-to-run stability
(``stability``) and the study's claims (``study``).

Reads typed records (``xbench.records``); formats nothing and writes nothing.
"""
