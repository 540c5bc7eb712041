"""The types and the ``ast`` helpers of ``xbench translate`` (``xbench.translate.parse``):
SPEC is parsed, never evaluated; only literal constants are read (``literal``)."""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass

from xbench.errors import UsageError
from xbench.workloads.cases import Case

FRAMEWORK_NAMES = {"torch": "torch", "optax": "jax", "jax": "jax"}  # --to values
MAX_SPEC_CHARS = 2000  # an optimizer call is a few hundred characters; SPEC is untrusted
MAX_DEPTH = 100  # nesting of SPEC's syntax tree (a chain of optax calls is about 10 deep)
MAX_INT_BITS = 1024  # an integer beyond ±2**1024 is no float either: out of range
DEFAULT_STEPS = 1000  # a torch scheduler's horizon when --steps is not given
TORCH_CLIP_EPS = 1e-6  # clip_grad_norm_'s fixed ε
RMSPROP_MOMENTUM = (  # why RMSprop momentum under a schedule has no counterpart, either way
    "optax.rmsprop scales by η_t before its momentum trace, torch after it: with a changing η "
    "the buffer keeps past rates (differs from step 2)"
)


class Untranslatable(Exception):
    """No exact counterpart in the other framework: the reason and the nearest that exists."""

    def __init__(self, reason: str, nearest: str) -> None:
        super().__init__(f"{reason}; nearest: {nearest}")
        self.reason, self.nearest = reason, nearest


@dataclass(frozen=True)
class Settings:
    """What a torch call cannot say itself: its scheduler, clipping and param groups."""

    to: str | None = None  # "torch" or "optax"/"jax"; None: the other framework
    mask: str = ""  # a MASKS convention: which parameters the decay reaches
    schedule: str = "constant"
    warmup_steps: int = 0
    steps: int | None = None  # the schedule's horizon (None: DEFAULT_STEPS)
    clip_norm: float | None = None


@dataclass(frozen=True)
class Translation:
    """The same optimizer as a torch Case and a JAX (optax) Case, and the conventions matched."""

    source: str  # "torch" or "jax": the framework SPEC was written for
    target: str
    torch_case: Case
    jax_case: Case
    notes: tuple[str, ...] = ()

    @property
    def source_case(self) -> Case:
        return self.torch_case if self.source == "torch" else self.jax_case

    @property
    def target_case(self) -> Case:
        return self.torch_case if self.target == "torch" else self.jax_case


# ----------------------------------------------------------------------------- safe literals

BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
BINARY |= {ast.Div: operator.truediv, ast.Pow: operator.pow}


def literal(node: ast.AST, what: str, depth: int = 0):
    """The constant ``node`` spells: a number, a bool, None or a tuple of them; else a
    UsageError. Nothing is evaluated but arithmetic on constants, at most ``MAX_DEPTH`` deep
    and on integers within ±2**1024."""
    if node is None:
        raise UsageError(f"{what} is missing")
    if depth > MAX_DEPTH:
        raise UsageError(f"{what}: nested more than {MAX_DEPTH} deep; write the number itself")
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, (bool, int, float))
    ):
        return _in_range(node.value, what)
    if isinstance(node, ast.Tuple):
        return tuple(literal(e, what, depth + 1) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _number(literal(node.operand, what, depth + 1), what)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        a, b = (_number(literal(n, what, depth + 1), what) for n in (node.left, node.right))
        if isinstance(node.op, ast.Pow) and abs(b) > 400:
            raise UsageError(f"{what}: exponent {b} is out of range")
        try:
            value = BINARY[type(node.op)](a, b)
        except (ZeroDivisionError, OverflowError) as exc:
            raise UsageError(f"{what}: {source(node)} cannot be computed ({exc})") from None
        if isinstance(value, complex) or (isinstance(value, float) and not math.isfinite(value)):
            raise UsageError(f"{what}: {source(node)} is not a finite number")
        return _in_range(value, what)
    raise UsageError(
        f"{what} must be a literal (a number, True/False/None or a tuple), not {source(node)!r}"
    )


def _in_range(value, what: str):
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:  # a bool is 1 bit
        raise UsageError(f"{what}: an integer beyond ±2**{MAX_INT_BITS} is out of range")
    return value


def source(node: ast.AST, limit: int = 120) -> str:
    """``node`` as text for a message, cut to ``limit`` characters."""
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError):  # too deep, or an integer too long to print
        return f"<{type(node).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{what} must be a number, not {value!r}")
    return value


def number(node: ast.AST, what: str) -> float:
    return float(_number(literal(node, what), what))


def boolean(node: ast.AST, what: str) -> bool:
    value = literal(node, what)
    if not isinstance(value, bool):
        raise UsageError(f"{what} must be True or False, not {value!r}")
    return value


def integer(node: ast.AST, what: str) -> int:
    value = literal(node, what)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{what} must be an integer > 0, not {value!r}")
    return value


def dotted(node: ast.AST) -> str | None:
    """``torch.optim.AdamW`` for a chain of names and attributes; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def bind(call: ast.Call, name: str, positional: tuple[str, ...], known: set[str]) -> dict:
    """Each argument's node by parameter name, as Python would bind them; a UsageError for
    ``*args``, too many positionals, a repeated or an unknown keyword."""
    if len(call.args) > len(positional) or any(isinstance(a, ast.Starred) for a in call.args):
        raise UsageError(f"{name} takes at most {len(positional)} positional arguments")
    bound = dict(zip(positional, call.args, strict=False))
    for kw in call.keywords:
        if kw.arg is None:
            raise UsageError(f"{name}: **kwargs is not supported; write each keyword")
        if kw.arg in bound:
            raise UsageError(f"{name}: argument {kw.arg!r} given twice")
        if kw.arg not in known:
            raise UsageError(
                f"{name}: unsupported keyword {kw.arg!r}; valid: {', '.join(sorted(known))}"
            )
        bound[kw.arg] = kw.value
    return bound


def parse_expression(spec: str) -> ast.Call:
    """SPEC as one call expression (comments allowed), or a one-line UsageError. SPEC is
    untrusted: longer than ``MAX_SPEC_CHARS`` or nested deeper than ``MAX_DEPTH`` is refused
    before Python's parser or xbench's recursion can run out of stack or memory."""
    text = spec.strip()
    if len(text) > MAX_SPEC_CHARS:
        raise UsageError(
            f"SPEC is {len(text)} characters; the limit is {MAX_SPEC_CHARS} (an optimizer call "
            "is a few hundred)"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise UsageError(f"SPEC is not a Python expression: {_syntax_message(exc)}") from None
    except (RecursionError, MemoryError):
        raise UsageError(f"SPEC is nested too deeply to parse (the limit is {MAX_DEPTH})") from None
    except ValueError as exc:  # e.g. a null byte
        raise UsageError(f"SPEC is not a Python expression: {exc}") from None
    if tree_depth(tree) > MAX_DEPTH:
        raise UsageError(f"SPEC nests more than {MAX_DEPTH} deep (an optimizer call, about 10)")
    if not isinstance(tree.body, ast.Call) or dotted(tree.body.func) is None:
        raise UsageError("SPEC must be one optimizer call, e.g. 'torch.optim.AdamW(params, ...)'")
    return tree.body


def _syntax_message(exc: SyntaxError) -> str:
    if "integer string conversion" in str(exc.msg):  # Python's advice on its own limit
        return "an integer literal with thousands of digits is not a setting"
    return f"{exc.msg} (column {exc.offset})"


def tree_depth(tree: ast.AST) -> int:
    """How deep ``tree`` nests, counted without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest
