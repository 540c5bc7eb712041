"""The ``xbench`` command line: one module per sub-command, each adding its parser and
running it; shared flags in ``options``. Exit codes: 0 success, 1 a check or gate failed,
2 bad usage or bad input (one line naming the bad value and the valid ones)."""

from __future__ import annotations

import sys

from xbench import __version__
from xbench.cli import (
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
from xbench.cli.options import Parser
from xbench.errors import UsageError

COMMANDS = (trace, check, bench, report, export, compare, ab, study, migrate, translate, explain)


def build_parser() -> Parser:
    parser = Parser(prog="xbench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"xbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"xbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # results are written whole at the end, or not at all
        print(f"\nxbench {args.command}: interrupted", file=sys.stderr)
        return 130
