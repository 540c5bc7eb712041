"""An equivalence check (``xbench check --json``, ``--publish``): typed record, writer, reader
(the format: docs/formats.md#check).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from xbench.errors import UsageError
from xbench.records.files import format_name, format_version, read_json
from xbench.run import machine
from xbench.run.check import Outcome
from xbench.run.equivalence import TOLERANCES, Agreement, Tolerance
from xbench.run.threads import available_cpus
from xbench.workloads.cases import DTYPES, Case
from xbench.workloads.catalogue import Setup

KIND, VERSION = "check", 1
EQUAL, DIFFERENT = "equal", "different"


@dataclass(frozen=True)
class CheckEntry:
    """One entry's outcome as recorded."""

    name: str
    left: Setup
    right: Setup
    expected: str  # EQUAL or DIFFERENT
    reason: str
    exact: bool
    agreement: Agreement | None  # None when skipped (a framework was not installed)
    held: bool
    verdict: str

    @property
    def dtype(self) -> str:
        return self.left.case.dtype

    @property
    def skipped(self) -> bool:
        return self.agreement is None


@dataclass(frozen=True)
class CheckRun:
    """One ``xbench check --json`` document."""

    path: Path | None
    machine_info: dict
    datetime: str
    tolerances: dict[str, Tolerance]
    entries: tuple[CheckEntry, ...]
    seconds: float | None = None
    folder_label: str | None = None
    format_version: int = VERSION

    @property
    def label(self) -> str | None:
        """None for a file from before checks recorded their machine."""
        if self.folder_label:
            return self.folder_label
        return machine.machine_label(self.machine_info) if self.machine_info else None

    @property
    def commit(self) -> dict:
        return self.machine_info.get("git_commit") or {}

    @property
    def steps(self) -> tuple[int, ...]:
        """The distinct step counts of the entries' cases."""
        return tuple(sorted({e.left.case.steps for e in self.entries}))


# ----------------------------------------------------------------------------- writing


def entry_from(o: Outcome) -> CheckEntry:
    e, expected = o.entry, EQUAL if o.entry.expect_equal else DIFFERENT
    return CheckEntry(
        e.name, e.left, e.right, expected, e.reason, e.exact, o.agreement, o.held, o.verdict
    )


def from_outcomes(outcomes: list[Outcome], seconds: float, device: str, commit: dict) -> CheckRun:
    """The record of a check that just ran on this machine."""
    info = {
        "versions": machine.versions(), "device": device,
        "device_name": machine.device_name(device), "cpu_model": machine.cpu_model(),
        "threads": available_cpus(), "git_commit": commit,
    }  # fmt: skip
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    entries = tuple(entry_from(o) for o in outcomes)
    return CheckRun(None, info, now, dict(TOLERANCES), entries, seconds)


def _json_safe(values: dict) -> dict:
    """Infinity is not JSON: an EXACT comparison that differs has err/tol "inf"."""
    return {k: "inf" if isinstance(v, float) and math.isinf(v) else v for k, v in values.items()}


def _side(side: Setup) -> dict:
    return {"framework": side.framework, "case": asdict(side.case)}


def to_document(run: CheckRun) -> dict:
    from xbench import __version__

    return {
        "format": format_name(KIND, VERSION),
        "xbench": __version__,
        "seconds": run.seconds,
        "datetime": run.datetime,
        "machine_info": run.machine_info,
        "tolerances": {k: vars(v) for k, v in run.tolerances.items()},
        "entries": [
            {
                "name": e.name,
                "left": _side(e.left),
                "right": _side(e.right),
                "expected": e.expected,
                "reason": e.reason,
                "exact": e.exact,
                "agreement": _json_safe(asdict(e.agreement)) if e.agreement else None,
                "held": e.held,
                "verdict": e.verdict,
            }
            for e in run.entries
        ],
    }


def to_bytes(run: CheckRun) -> bytes:
    return json.dumps(to_document(run), indent=1, allow_nan=False).encode()


# ----------------------------------------------------------------------------- reading


def is_check_document(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("entries"), list) and "tolerances" in doc


def load(path: Path, folder_label: str | None = None) -> CheckRun:
    """An ``xbench check --json`` document, or a one-line UsageError."""
    doc = read_json(path)
    if not is_check_document(doc):
        raise UsageError(
            f"{path}: not an `xbench check --json` file (needs 'entries', 'tolerances')"
        )
    version = format_version(doc, KIND, VERSION, path)
    entries = []
    for index, raw in enumerate(doc["entries"]):
        entry, problem = _entry(raw)
        if problem:
            name = raw.get("name", f"#{index}") if isinstance(raw, dict) else f"#{index}"
            raise UsageError(f"{path}: entry {name} {problem}")
        entries.append(entry)
    tolerances = _tolerances(doc["tolerances"])
    if tolerances is None:
        raise UsageError(f"{path}: 'tolerances' must map a dtype to its atol and rtol")
    seconds = doc["seconds"] if isinstance(doc.get("seconds"), (int, float)) else None
    when, info = str(doc.get("datetime", "")), doc.get("machine_info") or {}
    return CheckRun(path, info, when, tolerances, tuple(entries), seconds, folder_label, version)


def _tolerances(raw: object) -> dict[str, Tolerance] | None:
    if not isinstance(raw, dict):
        return None
    found = {}
    for dtype, value in raw.items():
        if not (isinstance(value, dict) and {"atol", "rtol"} <= set(value)):
            return None
        found[dtype] = Tolerance(float(value["atol"]), float(value["rtol"]))
    return found


def _entry(raw: object) -> tuple[CheckEntry | None, str | None]:
    """The typed entry, or None and what makes it unusable."""
    if not isinstance(raw, dict):
        return None, "is not an object"
    missing = {"name", "left", "right", "expected", "reason", "held", "verdict"} - set(raw)
    if missing:
        return None, f"lacks {', '.join(sorted(missing))}"
    if not isinstance(raw["held"], bool):
        return None, "has a 'held' that is not true or false"
    sides = []
    for name in ("left", "right"):
        side = raw[name]
        if not (isinstance(side, dict) and isinstance(side.get("case"), dict)):
            return None, f"has no {name}.case"
        if side["case"].get("dtype") not in DTYPES:
            return None, f"has no float32/float64 {name}.case.dtype"
        try:
            case = Case(**side["case"])
        except (TypeError, UsageError) as exc:
            return None, f"has an unreadable {name}.case ({exc})"
        sides.append(Setup(str(side.get("framework", "")), case))
    agreement, problem = _agreement(raw.get("agreement"))
    if problem:
        return None, problem
    name, expected, reason, verdict = (
        str(raw[k]) for k in ("name", "expected", "reason", "verdict")
    )
    exact = bool(raw.get("exact", False))
    return CheckEntry(name, *sides, expected, reason, exact, agreement, raw["held"], verdict), None


AGREEMENT_FIELDS = {f.name for f in dataclasses.fields(Agreement)}


def _agreement(raw: object) -> tuple[Agreement | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or not isinstance(raw.get("equal"), bool):
        return None, "has an agreement without 'equal'"
    error = raw.get("max_abs_error")
    if not (isinstance(error, (int, float)) and math.isfinite(error) and error >= 0):
        return None, f"has max_abs_error {error!r}; expected a finite number ≥ 0"
    values = {k: v for k, v in raw.items() if k in AGREEMENT_FIELDS}
    ratio = values.get("max_error_ratio", 0.0)
    values["max_error_ratio"] = math.inf if ratio == "inf" else float(ratio)
    values.setdefault("first_divergent_step", None)
    values.setdefault("tensor", None)
    return Agreement(**values), None
