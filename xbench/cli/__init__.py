"""The ``xbench`` command line: one module per sub-command, each adding its parser and
running it; shared flags in ``options``. Exit codes: 0 success, 1 a check or gate failed,
2 bad usage or bad input (one line naming the bad value and the valid ones)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading


def _interrupted_on_start(signum, frame):  # a stop signal while the commands import
    if signum == signal.SIGINT:
        line = "\nxbench: interrupted"
    else:
        line = f"xbench: interrupted by {signal.Signals(signum).name}"
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr)
    raise SystemExit(128 + signum)


# Before the commands (and torch or JAX) import: Ctrl-C or SIGTERM then ends in one line, no
# traceback, also when xbench was started in the background with SIGINT ignored. A signal
# ignored when xbench started stays ignored.
_DEFAULT = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
_ON_START = []
if threading.current_thread() is threading.main_thread():
    for _signum, _default in _DEFAULT.items():
        if signal.getsignal(_signum) is _default:
            signal.signal(_signum, _interrupted_on_start)
            _ON_START.append(_signum)

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
    STOP_SIGNALS,
    UsageError,
    forget_interrupts,
    interrupt_code,
    interrupted,
    on_interrupt,
    say_interrupted,
    unraisable_hook,
)
from xbench.records.scratch import remove_dead  # noqa: E402

for _signum in _ON_START:
    signal.signal(_signum, _DEFAULT[_signum])

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


def _handle_stop_signals() -> dict:
    """Install ``on_interrupt`` for the stop signals (those not ignored when xbench started);
    the handlers it replaced."""
    previous = {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, on_interrupt)
    return previous


def main(argv: list[str] | None = None) -> int:
    forget_interrupts()
    in_main = threading.current_thread() is threading.main_thread()
    previous = _handle_stop_signals() if in_main else {}
    hook, sys.unraisablehook = sys.unraisablehook, unraisable_hook(sys.unraisablehook)
    try:
        return _run(argv)
    finally:
        sys.unraisablehook = hook
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def entry() -> None:
    """The ``xbench`` command: ``main``, then exit with its code. Once the command has done
    its work and said so, a stop signal no longer changes the outcome: the interpreter's own
    shutdown (a fraction of a second: torch's and JAX's exit handlers) is not interrupted."""
    code = main()
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    sys.exit(code)


def _run(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        say_interrupted("xbench")
        return interrupt_code()
    try:
        remove_dead()  # temporary folders of xbench runs that died
        code = args.func(args)
        if interrupted() and code != interrupt_code():  # a library printed and dropped it
            raise KeyboardInterrupt
        return code
    except KeyboardInterrupt:  # results are written whole at the end, or not at all
        say_interrupted(f"xbench {args.command}")
        return interrupt_code()
    except (UsageError, OSError, RecursionError, MemoryError) as exc:
        if interrupted():  # what the interrupt caused (a closed terminal's EIO, after SIGHUP)
            say_interrupted(f"xbench {args.command}")
            return interrupt_code()
        reason = exc if isinstance(exc, UsageError) else _reason(exc)  # a safety net
        print(f"xbench {args.command}: error: {reason}", file=sys.stderr)
        return 2
