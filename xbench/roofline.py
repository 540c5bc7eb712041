"""Bandwidth from a run's own reference kernels: achieved GB/s and % of the measured limit.

Works on pytest-benchmark's JSON (a dict), after every benchmark of the run has finished.
A result timed with an adjacent reference kernel (run just before and just after its timed
rounds, at the same parameter count, moving AdamW's bytes) is compared with that kernel's
median: it saw the machine at nearly the same moments. Otherwise the limit at a parameter
count on a device is the faster of the run's standalone reference kernels there (``copy``,
``inplace_add``), the nearest size standing in when that one was not run.
"""

from __future__ import annotations

import math


def achieved_gbps(bytes_moved: int, seconds: float) -> float:
    return bytes_moved / seconds / 1e9


def nearest_size(sizes, params: int) -> int:
    """The size closest to ``params`` on a log scale (the smaller one on a tie)."""
    return min(sizes, key=lambda n: (abs(math.log10(n) - math.log10(params)), n))


def reference_bandwidth(benchmarks: list[dict]) -> dict[str, dict[int, tuple[float, str]]]:
    """device -> parameter count -> (GB/s, kernel) of the best reference kernel at its median."""
    found: dict[str, dict[int, tuple[float, str]]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        if info.get("kind") == "reference":
            gbps = achieved_gbps(info["bytes_moved"], bench["stats"]["median"])
            sizes = found.setdefault(info["device"], {})
            best = sizes.get(info["param_count"], (0.0, ""))
            sizes[info["param_count"]] = max(best, (gbps, info["implementation"]))
    return found


def annotate(output_json: dict) -> dict:
    """Add achieved_GBps, reference_GBps, reference_params and bandwidth_pct to every result.

    Results on a device without a reference copy get ``bandwidth_pct`` None. The measured
    bandwidth per device and size also goes into machine_info.
    """
    benchmarks = output_json.get("benchmarks", [])
    limits = reference_bandwidth(benchmarks)
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        if "bytes_moved" not in info:
            continue
        gbps = achieved_gbps(info["bytes_moved"], bench["stats"]["median"])
        info["achieved_GBps"] = gbps
        adjacent = info.get("adjacent_reference")
        by_size = limits.get(info["device"], {})
        if adjacent:
            limit = achieved_gbps(adjacent["bytes_moved"], adjacent["median"])
            kernel, size = f"{adjacent['kernel']} (adjacent)", info["param_count"]
        elif by_size:
            size = nearest_size(by_size, info["param_count"])
            limit, kernel = by_size[size]
        else:
            limit = kernel = size = None
        info.update(
            reference_GBps=limit,
            reference_kernel=kernel,
            reference_params=size,
            bandwidth_pct=None if limit is None else 100.0 * gbps / limit,
        )
    output_json.setdefault("machine_info", {})["measured_bandwidth_GBps"] = {
        device: {
            str(n): {"GBps": gbps, "kernel": kernel} for n, (gbps, kernel) in sorted(s.items())
        }
        for device, s in limits.items()
    }
    return output_json
