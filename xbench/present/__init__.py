"""Presentation: records and analyses turned into text people read and pictures they look at.

Every number formatter (``units``), Markdown helpers (``markdown``, ``labels``), the pages
xbench publishes (``results_md``: RESULTS.md; ``equivalence_md``: its check matrix;
``study_md``: STUDY.md; ``ab_md``: the A/B pages; ``blocks``: the generated blocks of the
README and docs), their plots (``plots``, ``study_plots``; matplotlib is imported only
there), what the commands print (``check_text``, ``bench_text``, ``compare_text``,
``ab_text``, ``explain_text``, ``export``) and ``progress`` on long work. Which ratio a
table shows (paired or unpaired), the precision counts and the headline are chosen in
``xbench.analysis.grouping``. The same records give the same bytes.
"""
