"""Analysis of recorded runs, as numbers and verdicts: which results share a table and which
ratio it shows (``grouping``), the regression gate of ``xbench compare`` (``compare``),
ratios and verdicts of interleaved rounds (``paired``) and their calibration
(``ab_calibration``), how much repeated runs move (``repeats``), the study's claims
(``study``), and why two traces differ (``explain``, testing the known ``causes`` by
re-running the float64 reference through ``xbench.run``).

Reads typed records (``xbench.records``) and traces; formats nothing and writes nothing.
"""
