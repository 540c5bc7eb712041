"""Framework adapters, imported as ``xbench_adapters`` (see xbench/run/registry.py).

One module per framework plus the float64 NumPy reference, all with the interface of
``xbench.run.registry.Adapter``. Only the module a run asks for is imported.
"""
