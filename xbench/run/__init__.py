"""Running what ``xbench.workloads`` describes: adapters through the registry, trajectories, their
step-by-step comparison, the check catalogue's verdicts, and the timing method.

Imports only ``xbench.workloads`` (and ``xbench.errors``); nothing here reads or writes a file.
Adapters (torch, JAX, the float64 reference) are reached only through ``registry``.
"""
