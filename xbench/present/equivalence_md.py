"""The equivalence matrix of RESULTS.md, from a check record: each cross-framework pair and
known non-equivalence in float64 and float32, and each framework against the reference."""

from __future__ import annotations

from collections.abc import Iterable

from xbench.present.check_text import counts
from xbench.present.markdown import table
from xbench.present.units import short_float, span
from xbench.records.check_run import EQUAL, CheckEntry, CheckRun
from xbench.workloads.cases import FRAMEWORKS, REFERENCE

DTYPES = ("float64", "float32")  # the order of the columns


def equivalence_cell(entry: CheckEntry) -> str:
    a = entry.agreement
    if a is None:
        return entry.verdict
    error = f"{a.max_abs_error:.1e}"
    if not entry.held:
        return f"**FAIL**: {entry.verdict.removeprefix('FAIL: ')}, max abs error {error}"
    if entry.expected == EQUAL:
        return f"equal, {error}"
    return f"differs from step {a.first_divergent_step} as expected, {error}"


def reference_matrix(entries: Iterable[CheckEntry]) -> tuple[list[list[str]], list[str]]:
    """Each framework against the float64 reference: rows cases, columns framework × dtype."""
    columns = [(f, d) for f in FRAMEWORKS for d in DTYPES]
    rows: dict[str, dict[tuple[str, str], str]] = {}
    for e in entries:
        framework = e.left.framework
        suffix = f"-{framework}-vs-reference-{e.dtype}"
        if e.right.framework != REFERENCE or not e.name.endswith(suffix):
            continue
        rows.setdefault(e.name.removesuffix(suffix), {})[(framework, e.dtype)] = equivalence_cell(e)
    table_rows = [
        [f"`{name}`", *(cells.get(c, "-") for c in columns)] for name, cells in rows.items()
    ]
    return table_rows, ["case", *(f"{f} {d}" for f, d in columns)]


def pair_matrix(entries: Iterable[CheckEntry]) -> tuple[list[list[str]], list[str]]:
    """Framework against framework (and known misconfigurations), float64 and float32."""
    rows: dict[str, dict[str, CheckEntry]] = {}
    for e in entries:
        if e.right.framework == REFERENCE:
            continue
        rows.setdefault(e.name.removesuffix(f"-{e.dtype}"), {})[e.dtype] = e
    table_rows = [
        [f"`{name}`", _per_dtype(by_dtype, "expected"),
         *(equivalence_cell(by_dtype[d]) if d in by_dtype else "-" for d in DTYPES),
         _per_dtype(by_dtype, "reason")]
        for name, by_dtype in rows.items()
    ]  # fmt: skip
    return table_rows, ["pair", "expected", "float64", "float32", "reason"]


def _per_dtype(by_dtype: dict[str, CheckEntry], field: str) -> str:
    """One value when both dtypes agree, else ``float64: …; float32: …``."""
    values = {d: getattr(by_dtype[d], field) for d in DTYPES if d in by_dtype}
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    return "; ".join(v if v.startswith(f"{d}:") else f"{d}: {v}" for d, v in values.items())


def tolerance_text(check: CheckRun) -> str:
    """``Tolerances: float64 `atol 1e-12 + rtol 1e-10·|b|`, float32 `...```, from the file."""
    t = check.tolerances
    if not all(d in t for d in DTYPES):
        return "Tolerances: not recorded in this file."
    f64, f32 = t["float64"], t["float32"]
    return (
        f"Tolerances: float64 `atol {short_float(f64.atol)} + rtol {short_float(f64.rtol)}·|b|`, "
        f"float32 `{short_float(f32.atol)} + {short_float(f32.rtol)}·|b|` against the float64 "
        "reference run from the same float32 inputs."
    )


def equivalence_markdown(check: CheckRun | None) -> str:
    if check is None:
        return (
            "### Equivalence\n\nNo `xbench check` result for this machine: run "
            "`make check FLAGS=--publish` to add one.\n"
        )
    held, _, skipped = counts(check)
    steps = f"{span(check.steps, str)} steps" if check.steps else "no steps"
    parts = [
        "### Equivalence\n",
        f"`xbench check` ({check.path.name}): {held} of {len(check.entries) - skipped} "
        "expectations held"
        + (f", {skipped} entries skipped (a framework was not installed)" if skipped else "")
        + ". Each cell: the verdict and the largest |a − b| over every step, tensor and the "
        f"loss ({steps}). {tolerance_text(check)}\n",
        "Framework against framework, and known non-equivalences:\n\n"
        f"{table(*pair_matrix(check.entries))}\n",
        "Each framework against the float64 NumPy reference (`-` where the framework cannot "
        f"express the case):\n\n{table(*reference_matrix(check.entries))}\n",
    ]
    return "\n".join(parts)
