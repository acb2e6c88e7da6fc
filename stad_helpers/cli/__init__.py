"""`stad`: the command line, a thin layer over `stad_helpers` functions.

Each module in this package adds one group of subcommands with `register(sub)`;
each subcommand parses its arguments and calls one helper function. A
`StadError` is printed in one line and exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import StadError

# Modules in this package that add subcommands, in `stad --help` order.
# "own_data" adds `import`/`export` to the `data` group, so it comes after "data".
GROUPS = ("doctor", "data", "own_data", "convert", "train", "detect", "evaluate",
          "demo", "run_all")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stad", description="Spatio-temporal action detection tutorial tools."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in GROUPS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue  # group not written yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
