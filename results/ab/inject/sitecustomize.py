"""Injected slowdowns for the proof of ``xbench ab`` (docs/ab.md): not part of xbench.

Loaded by ``python`` in this folder (a wrapper interpreter: ``xbench ab BASE
results/ab/inject/python``). When torch's ``torch.optim.adamw`` is imported, AdamW's ``step``
is wrapped so that, per implementation, a given percentage of calls run the step a second
time: ``XBENCH_INJECT="fused=16,foreach=6,forloop=4"`` makes the fused step do 16% more work
(sixteen extra steps per hundred calls, on the same tensors: the same kernels), the foreach
step 6% and the for-loop step 4%. Nothing else changes. An extra step costs less *time* than
a step (its threads are awake, its data in cache): calibrate.py measures the slowdown each
level causes. Busy-waiting would not do: torch's OpenMP workers fall asleep during it and
the next step slows far more than intended.
"""

import importlib.abc
import importlib.machinery
import os
import sys

TARGET = "torch.optim.adamw"
ACTIVE = True  # calibrate.py switches the injection off and on within one process


def levels() -> dict[str, float]:
    found = {}
    for item in filter(None, os.environ.get("XBENCH_INJECT", "").split(",")):
        name, _, percent = item.partition("=")
        found[name.strip()] = float(percent) / 100
    return found


def patch(module) -> None:
    extra = levels()
    original = module.AdamW.step

    def step(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        kind = (
            "fused"
            if self.defaults.get("fused")
            else "foreach"
            if self.defaults.get("foreach")
            else "forloop"
        )
        if not ACTIVE:
            return out
        owed = getattr(self, "_xbench_owed", 0.0) + extra.get(kind, 0.0)
        if owed >= 1 - 1e-9:  # the float sum of ten 0.1 is 0.999…
            owed -= 1
            original(self, *args, **kwargs)
        self._xbench_owed = owed
        return out

    module.AdamW.step = step


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None:
            return None
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            patch(module)

        spec.loader.exec_module = exec_module
        return spec


if levels():
    sys.meta_path.insert(0, Finder())
