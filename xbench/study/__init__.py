"""The study: what regularization does to a real model, trained the same way in torch and JAX.

- ``conditions``: the ways to regularize (or not) that are compared, and the profiles;
- ``data``: scikit-learn's bundled ``digits``, one fixed split, and each seed's Problem;
- ``training``: one condition in one framework, evaluated after every epoch in NumPy;
- ``stability``: float32 runs against the float64 reference, the optimizer's decay against
  L2 in the loss, and decays with η·λ below float32's resolution;
- ``job``: every condition × seed × framework, the record saved, STUDY.md and plots written.

Its record is ``xbench.records.study_run``; its claims ``xbench.analysis.study``; its page
and plots ``xbench.present.study_md`` and ``study_plots``. Nothing here imports torch or jax
until a run starts.
"""
