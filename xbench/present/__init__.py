"""Presentation: records and analyses turned into text people read and pictures they look at.

Units and Markdown helpers (``units``, ``markdown``, ``labels``), the pages xbench publishes
(``results_md``: RESULTS.md; ``study_md``: STUDY.md; ``blocks``: the generated blocks of the
README and docs), their plots (``plots``, ``study_plots``; matplotlib is imported only
there), and what the commands print (``check_text``, ``bench_text``, ``compare_text``).
Pure functions of their inputs: the same files give the same bytes.
"""
