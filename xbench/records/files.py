"""Reading a JSON document with one-line errors, and its ``format`` field.

Every xbench document says what it is and in which version: ``"format": "xbench-check/1"``.
A file from before the field is version 0 and still reads; a newer version than this xbench
knows is refused, naming both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from xbench.errors import UsageError

FORMAT = re.compile(r"^xbench-(?P<kind>[a-z]+)/(?P<version>\d+)$")
# Deeper JSON is refused before it is decoded. xbench's documents nest under 10 levels; the
# decoder's own limit is the interpreter's recursion limit, which torch.compile raises from
# 1000 to 2000 for the rest of the process: the same file must get the same answer.
MAX_DEPTH = 100
# what matters for nesting, in one left-to-right pass: an escape (its character is text),
# a quote (into or out of a string), a bracket
TOKEN = re.compile(r'\\.|["\[\]{}]', re.S)


def format_name(kind: str, version: int) -> str:
    return f"xbench-{kind}/{version}"


def read_json(path: Path, what: str = "result JSON") -> object:
    """The parsed file, or a UsageError naming ``path`` and what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a {what}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    if not text.strip():
        raise UsageError(f"{path}: is empty")
    return parse_json(text, path)


def nesting_depth(text: str) -> int:
    """How deep ``text``'s arrays and objects nest (brackets inside strings do not count);
    linear in the length of ``text``, whatever it holds."""
    depth = deepest = 0
    in_string = False
    for match in TOKEN.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif not in_string and token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif not in_string and token in "]}":
            depth -= 1
    return deepest


def parse_json(text: str, path: Path | str) -> object:
    """``text`` parsed, or a UsageError naming ``path``: malformed JSON, and JSON nested
    deeper than MAX_DEPTH or too big for memory, alike."""
    try:
        if nesting_depth(text) > MAX_DEPTH:
            raise UsageError(
                f"{path}: not valid JSON: nested too deeply to read (over {MAX_DEPTH} levels)"
            )
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON (truncated or corrupt?): {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: not valid JSON: nested too deeply to read") from None
    except MemoryError:
        raise UsageError(f"{path}: not valid JSON: too big to read into memory") from None


def format_version(doc: dict, kind: str, newest: int, path: Path) -> int:
    """The document's version of ``xbench-<kind>``: 0 when it has no ``format`` field."""
    found = doc.get("format")
    if found is None:
        return 0
    match = FORMAT.match(found) if isinstance(found, str) else None
    if not match or match["kind"] != kind:
        raise UsageError(f"{path}: format {found!r} is not {format_name(kind, newest)}")
    version = int(match["version"])
    if version > newest:
        raise UsageError(
            f"{path}: written by a newer xbench (format {found}); this one reads up to "
            f"{format_name(kind, newest)}"
        )
    return version
