"""The ``xbench`` command line: one module per sub-command, each adding its parser and
running it; shared flags in ``options``. Exit codes: 0 success, 1 a check or gate failed,
2 bad usage or bad input (one line naming the bad value and the valid ones)."""

from __future__ import annotations

import signal
import sys
import threading


def _interrupted_on_start(signum, frame):  # Ctrl-C while the commands import: no traceback
    print("\nxbench: interrupted", file=sys.stderr)
    raise SystemExit(130)


_ON_START = threading.current_thread() is threading.main_thread() and (
    signal.getsignal(signal.SIGINT) is signal.default_int_handler
)
if _ON_START:
    signal.signal(signal.SIGINT, _interrupted_on_start)

from xbench import __version__  # noqa: E402
from xbench.cli import (  # noqa: E402
    ab,
    bench,
    check,
    compare,
    explain,
    export,
    migrate,
    report,
    study,
    trace,
    translate,
)
from xbench.cli.options import Parser  # noqa: E402
from xbench.errors import (  # noqa: E402
    UsageError,
    forget_interrupts,
    interrupted,
    on_interrupt,
    unraisable_hook,
)

if _ON_START:
    signal.signal(signal.SIGINT, signal.default_int_handler)

COMMANDS = (trace, check, bench, report, export, compare, ab, study, migrate, translate, explain)


def build_parser() -> Parser:
    parser = Parser(prog="xbench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"xbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _reason(exc: BaseException) -> str:
    """One line for an error no command turned into a UsageError: what the OS said, and about
    which file; else the exception's first line, or its name."""
    if isinstance(exc, OSError) and exc.strerror:
        names = [n for n in (exc.filename, exc.filename2) if n is not None]
        return exc.strerror + (f": {' -> '.join(map(str, names))}" if names else "")
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("\nxbench: interrupted", file=sys.stderr)
        return 130
    forget_interrupts()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    hook, sys.unraisablehook = sys.unraisablehook, unraisable_hook(sys.unraisablehook)
    try:
        code = args.func(args)
        if interrupted() and code != 130:  # a library printed and dropped the KeyboardInterrupt
            raise KeyboardInterrupt
        return code
    except UsageError as exc:
        print(f"xbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, RecursionError, MemoryError) as exc:  # a safety net: input or machine
        print(f"xbench {args.command}: error: {_reason(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # results are written whole at the end, or not at all
        print(f"\nxbench {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        sys.unraisablehook = hook
        if in_main and previous is not None:
            signal.signal(signal.SIGINT, previous)
