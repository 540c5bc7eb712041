"""xbench: does weight decay give the same numbers in PyTorch and JAX, and what does it cost?

Importing xbench imports neither torch nor jax; adapters load lazily (xbench.run.registry).
The package is in layers, each importing only those below it: ``workloads`` (what is run), ``run``
(running it), ``records`` (the files of what ran), ``analysis``, ``present``, then ``suite``
(the timed benchmarks), ``jobs`` and ``study`` (the work each command starts), and ``cli``.
See docs/architecture.md.
"""

__version__ = "0.1.0"
