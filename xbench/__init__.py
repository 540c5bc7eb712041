"""xbench: does weight decay give the same numbers in PyTorch and JAX, and what does it cost?

Importing xbench imports neither torch nor jax; adapters load lazily (xbench.registry).
"""

__version__ = "0.1.0"
