"""An interleaved A/B timing (``xbench ab --json``): typed record, writer, reader (the format:
docs/formats.md, "A/B run"). It keeps each process pair's raw rounds; the ratio and verdict
are recomputed from them on reading.
"""

from __future__ import annotations

import datetime
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xbench.errors import UsageError
from xbench.records.files import format_name, format_version, read_json
from xbench.records.storage import write_new
from xbench.run.interleave import Rounds

KIND, VERSION = "ab", 1


@dataclass(frozen=True)
class AbBenchmark:
    id: str
    case: dict
    pairs: list[Rounds]  # one per process pair: sides "base" and "new"
    # When the first measurement flagged the benchmark: a second one, with fresh process
    # pairs, that must agree for the verdict to stand (empty when not flagged or not asked)
    confirmation: list[Rounds] = field(default_factory=list)

    def median(self, side: str) -> float:
        return statistics.median(t for p in self.pairs for t in p.seconds[side])


@dataclass(frozen=True)
class Version:
    """One side of an A/B run: a git revision, or an interpreter running this checkout."""

    spec: str
    kind: str  # "revision" or "interpreter"
    commit: str | None
    python: str
    versions: dict = field(default_factory=dict)
    code: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "revision":
            return f"{self.spec} ({(self.commit or '?')[:10]})"
        changed = ", ".join(f"{k} {v}" for k, v in self.versions.items() if k in ("jax", "torch"))
        return f"{self.python} ({changed})"


@dataclass
class AbRun:
    datetime: str
    seconds: float
    machine: dict
    settings: dict
    base: Version
    new: Version
    benchmarks: list[AbBenchmark]

    @property
    def threshold(self) -> float:
        return self.settings["threshold"]

    def to_document(self, summaries: dict[str, dict]) -> dict:
        """The document; ``summaries`` holds each benchmark's ``ratio`` and ``verdict``
        (``xbench.analysis.paired.summaries``), written for other tools to read."""
        from xbench import __version__

        benchmarks = [
            {
                "id": bench.id,
                "case": bench.case,
                **summaries[bench.id],
                "base_seconds": bench.median("base"),
                "new_seconds": bench.median("new"),
                "pairs": [_pair(p) for p in bench.pairs],
                "confirmation": [_pair(p) for p in bench.confirmation],
            }
            for bench in self.benchmarks
        ]
        return {
            "format": format_name(KIND, VERSION),
            "xbench": __version__,
            "datetime": self.datetime,
            "seconds": self.seconds,
            "machine": self.machine,
            "settings": self.settings,
            "sides": {"base": asdict(self.base), "new": asdict(self.new)},
            "benchmarks": benchmarks,
        }

    def save(self, path: Path, summaries: dict[str, dict]) -> Path:
        text = json.dumps(self.to_document(summaries), indent=1) + "\n"
        return write_new(path, lambda f: f.write(text.encode()))  # never overwrites


def _pair(rounds: Rounds) -> dict:
    return {"iterations": rounds.iterations["base"], "warmup": rounds.warmup["base"],
            **rounds.seconds, "first": rounds.letters}  # fmt: skip


def _rounds(pair: dict) -> Rounds:
    calls = {k: dict.fromkeys(("base", "new"), pair[k]) for k in ("iterations", "warmup")}
    seconds = {"base": pair["base"], "new": pair["new"]}
    return Rounds.recorded(seconds, pair.get("first", ""), calls["iterations"], calls["warmup"])


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def load(path: Path) -> AbRun:
    """Read an ``xbench ab --json`` file; a UsageError naming what is wrong."""
    doc = read_json(path, "xbench ab JSON")
    if not isinstance(doc, dict) or doc.get("format") is None:
        raise UsageError(f"{path}: not an xbench ab result (no format field)")
    format_version(doc, KIND, VERSION, path)
    try:
        return AbRun(
            datetime=doc["datetime"],
            seconds=doc["seconds"],
            machine=doc["machine"],
            settings=doc["settings"],
            base=Version(**doc["sides"]["base"]),
            new=Version(**doc["sides"]["new"]),
            benchmarks=[
                AbBenchmark(
                    b["id"],
                    b["case"],
                    [_rounds(p) for p in b["pairs"]],
                    [_rounds(p) for p in b.get("confirmation", [])],
                )
                for b in doc["benchmarks"]
            ],
        )
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a complete xbench ab result ({exc!r} missing)") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not a valid xbench ab result ({exc})") from None
