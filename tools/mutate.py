"""A small mutation tester for xbench's checker (``make mutate``; docs/mutation.md).

Each mutant is one classic change made with ``ast`` to one function of a checked module:
comparison flips (< ↔ <=, > ↔ >=, == ↔ !=, is ↔ is not, in ↔ not in), arithmetic (+ ↔ −,
* ↔ /), constants (0 ↔ 1, 1.0 → 2.0, True ↔ False), and ↔ or, ``not`` removed, a statement
dropped. The mutated source is written over the module, that module's targeted tests run
(``pytest -x -q``, a timeout each), and the file is restored in a ``finally``. A mutant the
tests fail on is killed; one they pass is a survivor.

    python tools/mutate.py [--sample N] [--seed S] [--module PATH] [--list]
"""

from __future__ import annotations

import argparse
import ast
import copy
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# module → (functions mutated, tests run against each mutant)
TARGETS = {
    "xbench/run/equivalence.py": (
        ("compare", "_series", "describe"),
        ("tests/run/test_equivalence.py", "tests/properties/test_mutation_kills.py"),
    ),
    "xbench/run/check.py": (
        ("entry_verdict",),
        (
            "tests/properties/test_mutation_kills.py",
            "tests/workloads/test_catalogue.py::test_entry_verdict",
        ),
    ),
    "xbench/analysis/compare.py": (
        ("timing_verdict", "compare_runs", "compare_checks", "ratio", "parse_threshold"),
        ("tests/properties/test_gate_power.py", "tests/analysis/test_compare.py"),
    ),
    "adapters/reference.py": (
        ("regularizer_gradient", "direction", "scaled", "clip_by_global_norm", "update",
         "running_update"),
        ("tests/adapters/test_reference_rules.py", "tests/properties/test_power.py"),
    ),
}  # fmt: skip
TIMEOUT = 240  # seconds per mutant

SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
            ast.In: ast.NotIn, ast.NotIn: ast.In}  # fmt: skip
SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
SWAP_BOOL = {ast.And: ast.Or, ast.Or: ast.And}


def _constant(value):
    if isinstance(value, bool):
        return [not value]
    if value == 0 and isinstance(value, int):
        return [1]
    if value == 1 and isinstance(value, int):
        return [0]
    if value == 1.0 and isinstance(value, float):
        return [2.0]
    if value == 0.0 and isinstance(value, float):
        return [1.0]
    return []


def _changes(node: ast.AST):
    """(description, apply) for each mutation of ``node`` itself; apply mutates in place."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in SWAP_CMP:
                new = SWAP_CMP[type(op)]
                yield (
                    f"{type(op).__name__}→{new.__name__}",
                    (lambda n, i=i, new=new: n.ops.__setitem__(i, new())),
                )
    elif isinstance(node, ast.BinOp) and type(node.op) in SWAP_BIN:
        new = SWAP_BIN[type(node.op)]
        yield f"{type(node.op).__name__}→{new.__name__}", lambda n, new=new: setattr(n, "op", new())
    elif isinstance(node, ast.BoolOp):
        new = SWAP_BOOL[type(node.op)]
        yield f"{type(node.op).__name__}→{new.__name__}", lambda n, new=new: setattr(n, "op", new())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not removed", None  # handled by the parent swap below
    elif isinstance(node, ast.Constant):
        for value in _constant(node.value):
            yield f"{node.value!r}→{value!r}", lambda n, v=value: setattr(n, "value", v)


class _Unnot(ast.NodeTransformer):
    def __init__(self, target: int) -> None:
        self.target = target

    def visit_UnaryOp(self, node):
        if id(node) == self.target:
            return node.operand
        return self.generic_visit(node)


def _functions(tree: ast.Module, names) -> list[ast.AST]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in names
    ]


def mutants(path: str, names) -> list[tuple[int, str, str]]:
    """Every mutant of ``path``'s functions ``names``: (line, description, source)."""
    source = (ROOT / path).read_text()
    tree = ast.parse(source)
    sites = []  # (function index, node index in walk order, change index)
    for fi, fn in enumerate(_functions(tree, names)):
        body_nodes = [n for stmt in fn.body for n in ast.walk(stmt)]
        for ni, node in enumerate(body_nodes):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # docstring
            for ci, (what, _) in enumerate(_changes(node)):
                sites.append((fi, ni, ci, what, node.lineno))
            if isinstance(node, ast.stmt) and not isinstance(node, ast.FunctionDef):
                sites.append((fi, ni, -1, f"dropped {type(node).__name__}", node.lineno))
    out = []
    for fi, ni, ci, what, line in sites:
        mutated = copy.deepcopy(tree)
        fn = _functions(mutated, names)[fi]
        node = [n for stmt in fn.body for n in ast.walk(stmt)][ni]
        if ci == -1:
            if not _drop(fn, node):
                continue
        elif what == "not removed":
            _Unnot(id(node)).visit(fn)
        else:
            list(_changes(node))[ci][1](node)
        out.append((line, f"{fn.name}: {what}", ast.unparse(ast.fix_missing_locations(mutated))))
    return out


def _drop(fn: ast.AST, stmt: ast.stmt) -> bool:
    """Remove ``stmt`` from its block (replaced by ``pass`` when it was alone)."""
    for parent in ast.walk(fn):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(parent, field, None)
            if isinstance(block, list) and any(s is stmt for s in block):
                if isinstance(stmt, ast.Return) and parent is fn:
                    return False  # a function's final return dropped: a crash, not a test
                block[:] = [s for s in block if s is not stmt] or [ast.Pass()]
                return True
    return False


def run_tests(tests) -> str:
    argv = [PY, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--benchmark-disable",
            "-W", "ignore", *tests]  # fmt: skip
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if done.returncode == 0 else "killed"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=0, help="mutants per module (0: all)")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--module", action="append", choices=sorted(TARGETS))
    parser.add_argument("--list", action="store_true", help="count the mutants, run nothing")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with &
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # the finally restores the file
    totals = {}
    for path in args.module or TARGETS:
        names, tests = TARGETS[path]
        every = mutants(path, names)
        chosen = every
        if args.sample and len(every) > args.sample:
            chosen = sorted(random.Random(args.seed).sample(every, args.sample))
        print(f"{path}: {len(every)} mutants, running {len(chosen)}", flush=True)
        if args.list:
            continue
        original = (ROOT / path).read_text()
        counts = {"killed": 0, "survived": 0, "timeout": 0}
        try:
            for line, what, source in chosen:
                (ROOT / path).write_text(source)
                start = time.perf_counter()
                outcome = run_tests(tests)
                counts[outcome] += 1
                if outcome != "killed":
                    print(f"  {outcome.upper()} {path}:{line} {what}", flush=True)
                else:
                    print(f"  killed {path}:{line} {what} ({time.perf_counter() - start:.0f} s)")
        finally:
            (ROOT / path).write_text(original)
        totals[path] = counts
        dead = counts["killed"] + counts["timeout"]
        print(f"{path}: {dead}/{len(chosen)} killed ({dead / max(len(chosen), 1):.0%}); {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
