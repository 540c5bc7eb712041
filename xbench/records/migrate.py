"""Bring a results folder written by an older xbench to the current layout
(``records.layout``), losing nothing: what moves where is ``xbench migrate``'s description
(``cli/migrate.py``); every number in every file stays as it was.

Each file is written whole under its new name before the old one is removed; a name
already taken stops the migration with nothing of that file changed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from xbench.errors import UsageError
from xbench.records import layout
from xbench.records.bench_run import labelled
from xbench.records.files import read_json
from xbench.records.storage import write_atomically

OLD_NAME = re.compile(r"^(\d{8}T\d{6}Z)_([^_]+)_([^_]+?)(?:-(\d+))?\.json$")


@dataclass(frozen=True)
class Move:
    old: Path
    new: Path
    relabel: bool  # a bench run: group and params are filled in


def plan(results: Path) -> list[Move]:
    """Every file of ``results`` to move, in the order to move them."""
    if not results.is_dir():
        raise UsageError(f"{results}: no such folder")
    folders = [p for p in sorted(results.iterdir()) if p.is_dir() and p.name not in
               layout.RESERVED]  # fmt: skip
    stability = results / "stability"
    if stability.is_dir():
        folders += [p for p in sorted(stability.iterdir()) if p.is_dir()]
    moves = []
    for folder in folders:
        old = sorted((p for p in folder.glob("*.json") if OLD_NAME.match(p.name)),
                     key=layout.name_order)  # fmt: skip
        runs = layout.bench_runs(folder)
        number = layout.run_number(runs[-1]) if runs else 0
        for path in old:
            when, kind, commit, _ = OLD_NAME.match(path.name).groups()
            if kind == layout.CHECK_KIND:
                target = results / layout.CHECKS / folder.name / path.name
                moves.append(Move(path, target, relabel=False))
                continue
            number += 1
            moves.append(Move(path, folder / f"{number:04d}_{commit}_{kind}_{when}.json", True))
    return moves


def migrate(results: Path, log=print) -> list[Move]:
    """Carry out ``plan(results)``; the moves made."""
    moves = plan(results)
    for move in moves:
        if move.new.exists():
            raise UsageError(f"cannot move {move.old} to {move.new}: a file is there")
    # every file read and checked before any moves
    contents = [_relabelled(m.old) if m.relabel else m.old.read_bytes() for m in moves]
    for move, data in zip(moves, contents, strict=True):
        move.new.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(move.new, lambda f, d=data: f.write(d), exclusive=True)
        move.old.unlink()
        log(f"{move.old} -> {move.new}")
    return moves


def _relabelled(path: Path) -> bytes:
    """The old bench run at ``path`` with group and params filled in, or a UsageError."""
    try:
        doc = labelled(read_json(path))
    except UsageError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        why = (str(exc).splitlines() or [""])[0]
        raise UsageError(
            f"{path}: not a bench run to migrate ({type(exc).__name__}: {why})"
        ) from None
    return (json.dumps(doc, indent=4) + "\n").encode()
