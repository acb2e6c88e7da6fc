"""`stad`: the command line, a thin layer over `stad_helpers` functions.

Each module in this package adds one group of subcommands with `register(sub)`;
each subcommand parses its arguments and calls one helper function. Options may
come anywhere among the positional arguments (`_common.StadParser`); a bad value
is refused where it is parsed, naming the option (exit status 2). A `StadError`
is printed in one line and exits with status 1. Other packages' deprecation
notices are hidden; the project's own warnings are not.
"""

from __future__ import annotations

import importlib
import sys

from ..errors import StadError
from ._common import StadParser

# Modules in this package that add subcommands, in `stad --help` order. Each must
# exist: a missing one is an ImportError, not a silently absent command. (`data`
# also adds `stad data import|export` from `own_data`.)
GROUPS = ("doctor", "data", "convert", "train", "detect", "evaluate", "demo",
          "run_all", "weights")


def build_parser() -> StadParser:
    """The `stad` parser with every group's subcommands."""
    parser = StadParser(
        prog="stad", description="Spatio-temporal action detection tutorial tools."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in GROUPS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `stad` with `argv` (default: `sys.argv[1:]`); return the exit status.

    0 on success, 1 on a `StadError` (printed in one line), 130 on Ctrl-C. A bad
    command line, like `--help`, exits through argparse (`SystemExit`, status 2
    with a message naming the option).
    """
    from ..notebook import quiet_third_party_warnings

    quiet_third_party_warnings()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StadError as exc:
        print(f"stad {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"stad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
