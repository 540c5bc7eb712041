"""Markdown helpers: tables, the generated-page guard, and generated blocks inside pages.

A page xbench generates (RESULTS.md, STUDY.md) carries a marker line saying so; xbench
replaces a page only when the marker is one of its lines, or with ``--overwrite``. A block
inside a page people write sits between two marker lines (``markers``), and only the text
between them is replaced.
"""

from __future__ import annotations

import os
from pathlib import Path

from tabulate import tabulate

from xbench.errors import UsageError
from xbench.records.storage import write_atomically


def table(rows: list[list], headers: list[str]) -> str:
    """A GitHub Markdown table; cells are shown as given (no number parsing)."""
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def captioned(caption: str, rows: list[list], headers: list[str]) -> str:
    """``caption``, a blank line and the table; empty when the table has no row."""
    return f"{caption}\n\n{table(rows, headers)}\n" if rows else ""


def relative_link(path: Path, start: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
    except ValueError:  # another drive
        return path.name


def ensure_generated(path: Path, marker: str, command: str, overwrite: bool = False) -> None:
    """Refuse a ``path`` that exists without ``marker`` as one of its lines (it was not
    written by ``xbench <command>``), unless ``overwrite``; and a directory always."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if not path.exists() or overwrite:
        return
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if marker not in lines:
        raise UsageError(
            f"refusing to overwrite {path}: it was not written by `xbench {command}`; "
            "pass --overwrite or choose another --out"
        )


def write_generated(path: Path, text: str, marker: str, command: str, overwrite=False) -> Path:
    """Write a generated page (which must hold ``marker``), guarded by ``ensure_generated``."""
    assert marker in text.splitlines(), "a generated page must carry its marker"
    ensure_generated(path, marker, command, overwrite)
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {path.parent} does not exist")
    return write_atomically(path, lambda f: f.write(text.encode()))


def markers(command: str, name: str) -> tuple[str, str]:
    """The two lines around a generated block."""
    return (f"<!-- xbench {command}: {name} start -->", f"<!-- xbench {command}: {name} end -->")


def splice_block(text: str, block: str, start_marker: str, end_marker: str) -> str | None:
    """``text`` with ``block`` between the markers, or None when it has no such block."""
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        return None
    return text[: start + len(start_marker)] + "\n" + block + text[end:]


def replace_block(page: Path, block: str, start_marker: str, end_marker: str) -> tuple[str, str]:
    """(the page's text, its text with ``block`` between the markers); nothing is written."""
    try:
        text = page.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{page}: cannot read it ({exc.strerror})") from None
    new = splice_block(text, block, start_marker, end_marker)
    if new is None:
        raise UsageError(f"{page}: no '{start_marker}' ... '{end_marker}' block to update")
    return text, new


def write_if_changed(page: Path, old: str, new: str) -> bool:
    """Write ``new`` over ``page`` when it differs from ``old``; whether it did."""
    if new != old:
        write_atomically(page, lambda f: f.write(new.encode()))
    return new != old
