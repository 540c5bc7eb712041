"""What is run, as data: models, cases, problems, the check catalogue and the timed sweep.

The lowest layer of xbench (above ``xbench.errors``): frozen dataclasses and pure functions
over NumPy, no framework and no file. Every other layer builds on these names. The update
rules behind them are written out in ``docs/rules.md``.
"""
