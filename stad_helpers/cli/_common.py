"""What every `stad` subcommand shares: the parser class, value checks, cfg-options.

- `StadParser` parses each leaf subcommand with argparse's
  `parse_known_intermixed_args`, so options may come anywhere among the
  positional arguments (`stad data import cvat a.xml b.xml --videos V OUT
  --test-ratio 0.5`): a variable-length positional (`SRC...`) no longer swallows
  the positionals after an option, nor takes the output folder for an input.
- `type=` callables check values where they are parsed; the refusal is one line
  naming the option (`stad demo: error: argument --det-score-thr: must be in
  [0, 1], got -0.5 (see `stad demo --help`)`), exit status 2.
- `add_cfg_options` / `parse_cfg_options`: the one `--cfg-options KEY=VALUE ...`,
  parsed like MMEngine's tools.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class StadParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose leaf (sub)commands accept intermixed options.

    `parse_intermixed_args` refuses parsers holding subcommands, so parsers that
    have them parse as usual, and each leaf parser (which the subcommand action
    hands the rest of the command line to, through `parse_known_args`) parses
    intermixed. Subparsers inherit this class (argparse's default `parser_class`).
    Public argparse API only; checked on Python 3.10 to 3.13.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.has_subcommands = False
        self._intermixing = False

    def error(self, message: str):
        """A refused command line: one line naming the argument, exit status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def add_subparsers(self, **kwargs):
        self.has_subcommands = True
        return super().add_subparsers(**kwargs)

    def parse_known_args(self, args=None, namespace=None):
        if self.has_subcommands or self._intermixing:
            return super().parse_known_args(args, namespace)
        # parse_known_intermixed_args calls parse_known_args itself (Python
        # <= 3.12): those inner calls take the plain path above.
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


# ---------------------------------------------------------------------------
# Value checks (argparse `type=`): the refusal names the option
# ---------------------------------------------------------------------------
def _number(text: str, kind=float) -> float:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def threshold(text: str) -> float:
    """A score threshold or fraction: a number in [0, 1]."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def ratio_below_one(text: str) -> float:
    """A fraction in [0, 1) (a split that must leave something)."""
    value = _number(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def positive_int(text: str) -> int:
    """A count: an integer >= 1."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (seeds)."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """A number > 0 (frame rates)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def jpeg_quality(text: str) -> int:
    """JPEG quality, an integer in [1, 100]."""
    value = _number(text, int)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be in [1, 100], got {text}")
    return value


def existing_path(text: str) -> Path:
    """An input that must exist: a file or a folder."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"not found: {text}")
    return path


def existing_file(text: str) -> Path:
    """An input file that must exist."""
    path = existing_path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"is not a file: {text}")
    return path


def existing_dir(text: str) -> Path:
    """An input folder that must exist."""
    path = existing_path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"is not a folder: {text}")
    return path


def file_or_url(text: str) -> str:
    """A checkpoint: an existing file, or a URL (`https://...`) left to MMEngine."""
    if _URL.match(text):
        return text
    return os.fspath(existing_file(text))


def cfg_option(text: str) -> str:
    """One `KEY=VALUE` of `--cfg-options`."""
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not KEY=VALUE (put --cfg-options after the positional "
            "arguments)")
    return text


# ---------------------------------------------------------------------------
# --cfg-options
# ---------------------------------------------------------------------------
def add_cfg_options(parser: argparse.ArgumentParser,
                    help: str = "override config settings, e.g. "
                                "train_cfg.max_iters=100 (MMEngine's syntax)") -> None:
    """Add the shared `--cfg-options KEY=VALUE ...` (read by `parse_cfg_options`)."""
    parser.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE",
                        type=cfg_option, help=help)


def parse_cfg_options(values: list[str] | None) -> dict:
    """`KEY=VALUE` strings -> dict, parsed exactly like MMEngine's `--cfg-options`
    (`mmengine.config.DictAction`: values become ints, floats, bools, None, lists
    and tuples where they read as such)."""
    if not values:
        return {}
    from mmengine.config import DictAction

    namespace = argparse.Namespace()
    DictAction(["--cfg-options"], "cfg_options")(None, namespace, values)
    return dict(namespace.cfg_options)
