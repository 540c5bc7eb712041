"""The study: what regularization does to a real model, trained the same way in torch and JAX.

Its modules, its record, claims, page and plots: docs/study.md ("Where the pieces live").
Nothing here imports torch or jax until a run starts.
"""
