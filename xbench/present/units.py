"""Numbers as text: durations, spreads, percentages, short floats."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection

import numpy as np

from xbench.analysis.paired import Ratio
from xbench.records.bench_run import NOISY_SPREAD, Result

TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))
two_decimals = "{:.2f}".format  # a ratio to two decimals: ``0.62``


def format_seconds(seconds: float | None) -> str:
    """Three significant digits in ns, µs, ms or s: ``5.48 ms``, ``210 µs``, ``68.0 µs``."""
    if seconds is None:
        return "-"
    rounded = float(f"{seconds:.3g}")
    unit, scale = next((u, s) for u, s in TIME_UNITS if rounded >= s or u == "ns")
    value = rounded / scale
    decimals = max(0, 2 - math.floor(math.log10(value))) if value > 0 else 0
    return f"{value:.{decimals}f} {unit}"


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


def gbps(value: float | None) -> str:
    """GB/s to one decimal: ``12.3``; ``-`` for none."""
    return "-" if value is None else f"{value:.1f}"


def percent(fraction: float) -> str:
    """A fraction as a percentage of three significant digits: 0.1 → ``10%``."""
    return f"{fraction * 100:.3g}%"


def mean_pct(fractions) -> str:
    """Fractions' mean in %, ± their standard deviation when several (seeds): ``97.2 ± 0.4%``."""
    return mean_num(np.asarray(fractions) * 100, 1) + "%"


def mean_pts(fractions) -> str:
    """A difference of fractions in percentage points, as ``mean_pct``: ``1.2 ± 0.3 pts``."""
    return mean_pct(fractions)[:-1] + " pts"


def mean_num(values, digits: int = 3) -> str:
    """The mean to ``digits`` decimals, ± the standard deviation when there are several."""
    values = np.asarray(values)
    if values.size == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def span(values: Collection[float], show: Callable[[float], str]) -> str:
    """``low–high`` as ``show`` writes them, or one value when both read the same."""
    low, high = show(min(values)), show(max(values))
    return low if low == high else f"{low}–{high}"


def ratio_multiplier(ratio: Ratio) -> str:
    """NEW/BASE as a multiplier, three decimals: ``×1.043 [1.021, 1.066]``."""
    if ratio.low is None:
        return f"×{ratio.estimate:.3f} (no interval)"
    return f"×{ratio.estimate:.3f} [{ratio.low:.3f}, {ratio.high:.3f}]"


def ratio_resolved(ratio: Ratio) -> str:
    """``0.62 [0.60, 0.65]``, two decimals; ``no difference resolved: …`` if it holds 1."""
    if ratio.low is None:
        return f"{ratio.estimate:.2f} (one process pair: no interval)"
    text = f"{ratio.estimate:.2f} [{ratio.low:.2f}, {ratio.high:.2f}]"
    return f"no difference resolved: {text}" if ratio.contains(1.0) else text


def short_float(value: float) -> str:
    """``1e-12``, ``5e-7``, ``0.5``: ``:g`` without the exponent's padding zero."""
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m[1].replace('+', '')}{m[2]}", f"{value:g}")


def scientific(value: float) -> str:
    """Two significant digits in scientific notation, exponent unpadded: ``2.5e-4``."""
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m[1].replace('+', '')}{m[2]}", sci_padded(value))


def sci_padded(value: float) -> str:
    """``scientific`` with Python's padded exponent: ``2.5e-04``."""
    return "0" if value == 0 else f"{value:.1e}"


def rounds_text(rounds: int | list[int]) -> str:
    """Round pairs per process pair: ``40``, or ``38–52`` when they differ."""
    return span(rounds if isinstance(rounds, list) else [rounds], str)


def relative(ratio: float) -> str:
    """A ratio to the fastest, two decimals; the fastest itself in bold: ``**1.00**``."""
    return "**1.00**" if ratio == 1.0 else two_decimals(ratio)


def share(part: int, whole: int) -> str:
    """``3 of 40 (8%)``."""
    return f"{part} of {whole} ({part / whole:.0%})"


def clock(seconds: float) -> str:
    """``0:01:05``: seconds as hours:minutes:seconds."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
