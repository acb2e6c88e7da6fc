"""Every public function and class of stad_helpers has a docstring a user can act
on: at least one exists, and one that raises `StadError` says so in `Raises:`.

Public means: a top-level function or class of any module of the package (the
CLI excluded: its help text is its documentation) whose name does not start with
`_`, and the public methods (properties included) of such a class. A `raise
StadError` in a class's dunder methods (`__init__`, `__post_init__`, ...) must be
documented in the class docstring or that method's own.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stad_helpers"
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
SECTION = re.compile(r"^(\w[\w ]*):\s*$")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if "cli" not in p.relative_to(PACKAGE).parts)


def _public(tree: ast.Module):
    """(qualified name, node, dunder methods) of each public item of a module."""
    for node in tree.body:
        if not isinstance(node, (*FUNCS, ast.ClassDef)) or node.name.startswith("_"):
            continue
        if isinstance(node, ast.ClassDef):
            methods = [n for n in node.body if isinstance(n, FUNCS)]
            dunders = [m for m in methods
                       if m.name.startswith("__") and m.name.endswith("__")]
            yield node.name, node, dunders
            for m in methods:
                if not m.name.startswith("_"):
                    yield f"{node.name}.{m.name}", m, []
        else:
            yield node.name, node, []


def _raises_stad_error(node: ast.AST) -> bool:
    """Whether `node`'s own code (nested functions included) has `raise StadError`."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Raise) and sub.exc is not None:
            exc = sub.exc.func if isinstance(sub.exc, ast.Call) else sub.exc
            name = exc.attr if isinstance(exc, ast.Attribute) else getattr(
                exc, "id", None)
            if name == "StadError":
                return True
    return False


def raises_section(doc: str | None) -> str:
    """The text of the Google-style `Raises:` section of `doc` ('' if none)."""
    lines = (doc or "").splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Raises:":
            indent = len(line) - len(line.lstrip())
            body = []
            for nxt in lines[i + 1:]:
                stripped = nxt.strip()
                if stripped and len(nxt) - len(nxt.lstrip()) <= indent and (
                        SECTION.match(stripped)):
                    break
                body.append(stripped)
            return "\n".join(body)
    return ""


def audit() -> tuple[list[str], list[str], int]:
    """(items without a docstring, items raising StadError undocumented, total)."""
    missing, undocumented, total = [], [], 0
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        rel = path.relative_to(PACKAGE).as_posix()
        for name, node, dunders in _public(tree):
            total += 1
            doc = ast.get_docstring(node)
            if not doc or not doc.strip():
                missing.append(f"{rel}:{name}")
                continue
            own = isinstance(node, FUNCS) and _raises_stad_error(node)
            if own and "StadError" not in raises_section(doc):
                undocumented.append(f"{rel}:{name}")
            for d in dunders:
                if _raises_stad_error(d) and not any(
                        "StadError" in raises_section(x)
                        for x in (doc, ast.get_docstring(d))):
                    undocumented.append(f"{rel}:{name}.{d.name}")
    return missing, undocumented, total


def test_raises_section_is_parsed():
    doc = ("Load it.\n\nArgs:\n    x: a thing.\n\nRaises:\n    StadError: when x\n"
           "        is bad.\n\nReturns:\n    ValueError never.\n")
    assert "StadError" in raises_section(doc) and "never" not in raises_section(doc)
    assert raises_section("Raises StadError on bad input.") == ""
    tree = ast.parse("def f():\n    raise StadError('x')\n"
                     "def g():\n    raise errors.StadError('x') from None\n"
                     "def h():\n    raise ValueError('StadError')\n")
    assert [_raises_stad_error(n) for n in tree.body] == [True, True, False]


def test_the_audit_sees_the_package():
    _, _, total = audit()
    assert total > 200  # stad_helpers has a few hundred public items


def test_every_public_item_has_a_docstring():
    missing, _, _ = audit()
    if missing:
        pytest.fail(f"{len(missing)} public item(s) without a docstring:\n"
                    + "\n".join(missing))


def test_stad_error_is_documented_where_raised():
    _, undocumented, _ = audit()
    if undocumented:
        pytest.fail(f"{len(undocumented)} public item(s) raise StadError without a "
                    "`Raises:` section naming it:\n" + "\n".join(undocumented))
