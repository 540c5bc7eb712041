"""Running what ``xbench.workloads`` describes: adapters through the registry, trajectories,
their step-by-step comparison, the check catalogue's verdicts, the timing method and
interleaved timing (``interleave``, ``worker``, ``sides``), what this machine is
(``machine``), and children that end with xbench (``lifeline``).

Imports only ``xbench.workloads`` (and ``xbench.errors``); it writes no record (that is
``xbench.records``'s), only what running needs: worker logs, a revision's extracted code,
an environment built for it, JAX's compilation cache. Adapters (torch, JAX, the float64
reference) are reached only through ``registry``.
"""
