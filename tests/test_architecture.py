"""ARCHITECTURE.md stays true: every module, `stad` command and notebook it names
exists, and every module of the package is named in it.

Module paths are checked against the files; commands against the CLI's own help
(`stad ... --help`, parsed by `build_parser`), so a renamed module or command, or
a new module nobody placed in the picture, fails here with its name.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from _paths import ROOT

from stad_helpers.cli import build_parser

DOC = ROOT / "ARCHITECTURE.md"
PACKAGE = ROOT / "stad_helpers"
ROOT_DIRS = ("stad_helpers/", "tests/", "tools/", "benchmarks/", "configs/")
WORD = r"[a-z][a-z-]*"
# `stad data export cvat|label-studio`: levels of words, a level may list
# alternatives with `|`; the first option, placeholder or punctuation ends it.
LEVEL = rf"{WORD}(?:\s*\|\s*{WORD})*"
COMMAND = re.compile(rf"\bstad((?: {LEVEL})+)")


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


def _module_paths(text: str) -> set[str]:
    """Every `.py` path the document names, relative to the project root.

    A path not starting with a top-level folder (`train.py`, `viz/clip.py`, as
    written after a full `stad_helpers/...` path in one box) is in the package.
    """
    out = set()
    for token in re.findall(r"[\w./-]+\.py\b", text):
        out.add(token if token.startswith(ROOT_DIRS) else f"stad_helpers/{token}")
    return out


def _help(words: list[str]) -> str:
    """What `stad WORDS --help` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*words, "--help"])
    assert exc.value.code == 0, f"stad {' '.join(words)} --help failed"
    return out.getvalue()


def _is_subcommand(word: str, help_text: str) -> bool:
    """`word` is listed as a subcommand (an indented line) or a choice ({a,b})."""
    listed = re.search(rf"^\s{{2,}}{re.escape(word)}(\s|$)", help_text, re.M)
    choice = re.search(rf"\{{[^}}]*(?<![\w-]){re.escape(word)}(?![\w-])[^}}]*\}}",
                       help_text)
    return bool(listed or choice)


def test_named_modules_exist(text):
    paths = _module_paths(text)
    assert len(paths) > 20, "ARCHITECTURE.md names too few modules to be the picture"
    missing = sorted(p for p in paths if not (ROOT / p).is_file())
    assert not missing, f"ARCHITECTURE.md names modules that do not exist: {missing}"


def test_every_module_is_placed(text):
    """A new module of the package gets a place in the picture (cli/ is one row)."""
    named = _module_paths(text)
    modules = {
        p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
        and "cli" not in p.relative_to(PACKAGE).parts[:1]
    }
    unplaced = sorted(modules - named)
    assert not unplaced, f"modules missing from ARCHITECTURE.md: {unplaced}"


def test_named_commands_exist(text):
    commands = [re.findall(LEVEL, m.group(1)) for m in COMMAND.finditer(text)]
    assert len(commands) > 15, "ARCHITECTURE.md names too few `stad` commands"
    checked = set()
    for levels in commands:
        prefix: list[str] = []
        for level in levels:
            words = [w.strip() for w in level.split("|")]
            key = (*prefix, level)
            if key not in checked:
                help_text = _help(prefix)
                for word in words:
                    assert _is_subcommand(word, help_text), (
                        f"ARCHITECTURE.md names `stad {' '.join(prefix)} {word}`, "
                        "which the CLI does not have")
                checked.add(key)
            if len(words) > 1:
                break  # alternatives: the levels after them are not followed
            prefix.append(words[0])


def test_named_notebooks_exist(text):
    names = set(re.findall(r"\b0\d_[a-z_]+[a-z]\b", text))
    assert len(names) == len(list((ROOT / "notebooks").glob("0*.ipynb"))), names
    missing = sorted(n for n in names if not (ROOT / "notebooks" / f"{n}.ipynb")
                     .is_file())
    assert not missing, f"ARCHITECTURE.md names notebooks that do not exist: {missing}"


def test_checker_catches_a_wrong_name():
    """The checks can fail: a renamed command and module are caught."""
    assert not _is_subcommand("nonsense", _help(["data"]))
    assert _is_subcommand("import", _help(["data"]))
    assert _module_paths("see viz/gone.py") == {"stad_helpers/viz/gone.py"}
    assert not (ROOT / "stad_helpers/viz/gone.py").is_file()
