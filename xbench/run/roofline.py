"""Bandwidth: achieved GB/s, and the measured limit each result is compared with.

A result timed with an adjacent reference kernel (run just before and just after its timed
rounds, at the same parameter count, moving AdamW's bytes) is compared with that kernel's
median: it saw the machine at nearly the same moments. Otherwise the limit at a parameter
count on a device is the faster of the run's standalone reference kernels there (``copy``,
``inplace_add``), the nearest size standing in when that one was not run.
``xbench.records.bench_run`` applies this to a finished run's JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def achieved_gbps(bytes_moved: int, seconds: float) -> float:
    return bytes_moved / seconds / 1e9


def nearest_size(sizes, params: int) -> int:
    """The size closest to ``params`` on a log scale (the smaller one on a tie)."""
    return min(sizes, key=lambda n: (abs(math.log10(n) - math.log10(params)), n))


@dataclass(frozen=True)
class Limit:
    """The bandwidth a result is compared with: GB/s, which kernel, at which size."""

    gbps: float
    kernel: str
    params: int


Standalone = dict[str, dict[int, tuple[float, str]]]  # device -> params -> (GB/s, kernel)


def standalone_limits(kernels: Iterable[tuple[str, int, float, str]]) -> Standalone:
    """The best standalone kernel per device and size, from (device, params, GB/s, kernel)."""
    found: Standalone = {}
    for device, params, gbps, kernel in kernels:
        sizes = found.setdefault(device, {})
        sizes[params] = max(sizes.get(params, (0.0, "")), (gbps, kernel))
    return found


def limit_for(
    device: str, params: int, adjacent: tuple[str, int, float] | None, standalone: Standalone
) -> Limit | None:
    """The limit for a result: its adjacent kernel (name, bytes, median seconds) when it had
    one, else the best standalone kernel at the nearest size on its device, else None."""
    if adjacent:
        kernel, bytes_moved, median = adjacent
        return Limit(achieved_gbps(bytes_moved, median), f"{kernel} (adjacent)", params)
    by_size = standalone.get(device, {})
    if not by_size:
        return None
    size = nearest_size(by_size, params)
    gbps, kernel = by_size[size]
    return Limit(gbps, kernel, size)
