"""Numbers as text: durations, spreads, percentages, short floats."""

from __future__ import annotations

import math
import re

from xbench.records.bench_run import NOISY_SPREAD, Result


def format_seconds(seconds: float | None) -> str:
    """Three significant digits in ns, µs, ms or s: ``5.48 ms``, ``210 µs``, ``68.0 µs``."""
    if seconds is None:
        return "-"
    rounded = float(f"{seconds:.3g}")
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if rounded >= scale or unit == "ns":
            value = rounded / scale
            decimals = max(0, 2 - math.floor(math.log10(value))) if value > 0 else 0
            return f"{value:.{decimals}f} {unit}"
    raise AssertionError("unreachable")


def spread_text(r: Result) -> str:
    """IQR / median as a whole percentage; one decimal where whole ones would hide the flag."""
    near = round(r.spread * 100) == round(NOISY_SPREAD * 100)
    return f"{r.spread:.1%}" if near else f"{r.spread:.0%}"


def time_cell(r: Result) -> str:
    """``5.48 ms (7%)``: median (IQR / median); ⚠ when the IQR is more than 10% of it."""
    return f"{format_seconds(r.median)} ({spread_text(r)})" + (" ⚠" if r.noisy else "")


def pct_cell(value: float | None) -> str:
    """A percentage already in percent, whole: ``103%``; ``-`` for none."""
    return "-" if value is None else f"{value:.0f}%"


def percent(fraction: float) -> str:
    """A fraction as a percentage of three significant digits: 0.1 → ``10%``."""
    return f"{fraction * 100:.3g}%"


def short_float(value: float) -> str:
    """``1e-12``, ``5e-7``, ``0.5``: ``:g`` without the exponent's padding zero."""
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m[1].replace('+', '')}{m[2]}", f"{value:g}")


def scientific(value: float) -> str:
    """Two significant digits in scientific notation, exponent unpadded: ``2.5e-4``."""
    if not value:
        return "0"
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m[1].replace('+', '')}{m[2]}", f"{value:.1e}")
