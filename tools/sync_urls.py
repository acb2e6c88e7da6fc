#!/usr/bin/env python3
"""Write the repository's address wherever a reader clicks or copies it.

The address is set once, in pyproject.toml (`[project.urls] Repository = "..."`).
From it this tool makes:
- each notebook's "Open in Colab" badge (title cell, second line);
- each notebook's first code cell, the install cell (`INSTALL_CELL` below): in a
  runtime without the project it clones the repository, installs it with
  `tools/bootstrap.py` keeping the runtime's torch, and says whether to restart;
- README.md's Colab badge and install line.

    python3 tools/sync_urls.py          # rewrite what differs
    python3 tools/sync_urls.py --check  # list what differs, exit 1 if anything does

A fork changes the pyproject.toml line and runs this. tests/test_colab.py runs the
check. Standard library only (runs before anything is installed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BRANCH = "main"  # the branch the Colab badges open
BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)[ \t]*$", re.M)
README_CLONE_RE = re.compile(r"^!git clone -q \S+ stad-tutorial && .*$", re.M)

# The first code cell of every notebook. Plain Python that needs nothing but the
# standard library until the project is installed. STAD_REPO: a checkout to install
# instead of cloning (tests); STAD_NO_DEPS=1: only the project, `pip --no-deps -e`.
INSTALL_CELL = '''\
# Install cell. Where the project is installed (`make setup`, the .venv kernel) it only
# checks the packages. In a runtime without it (a fresh Colab) it clones the repository,
# installs it keeping the runtime's torch (the first time builds mmcv: many minutes),
# and says whether the runtime must restart.
import importlib.util
import os
import runpy
import subprocess
from pathlib import Path

REPO_URL = "{url}"  # pyproject.toml [project.urls]
if importlib.util.find_spec("stad_helpers") is None:
    here = Path.cwd().resolve()
    found = [p for p in (here, *here.parents) if (p / "stad_helpers").is_dir()]
    repo = Path(os.environ.get("STAD_REPO") or (found[0] if found else "stad-tutorial"))
    if not (repo / "tools" / "bootstrap.py").is_file():
        subprocess.run(["git", "clone", "-q", "--depth", "1", REPO_URL, str(repo)],
                       check=True)
    runpy.run_path(str(repo / "tools" / "bootstrap.py"))["install_into_kernel"]()

from stad_helpers.notebook import project_root, setup_notebook

setup_notebook()  # checks the OpenMMLab packages, keeps their logs short'''


def repo_url(root: Path = ROOT) -> str:
    """`[project.urls] Repository` of root/pyproject.toml (a https://github.com/
    owner/name address)."""
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    table = re.search(r"(?ms)^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text)
    found = table and re.search(r'(?m)^Repository\s*=\s*"([^"]+)"', table.group(1))
    if not found:
        raise SystemExit(f"{path}: [project.urls] has no `Repository = \"...\"` line")
    url = found.group(1).rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise SystemExit(f"{path}: Repository must be https://github.com/OWNER/NAME "
                         f"(Colab opens notebooks from GitHub), not {url!r}")
    return url


def colab_url(url: str, notebook: str) -> str:
    """Colab's address for `notebooks/<notebook>` of the repository at `url`."""
    path = url.removeprefix("https://github.com/")
    return (f"https://colab.research.google.com/github/{path}/blob/{BRANCH}/"
            f"notebooks/{notebook}")


def badge(url: str, notebook: str) -> str:
    return f"[![Open In Colab]({BADGE_SVG})]({colab_url(url, notebook)})"


def install_cell(url: str) -> str:
    return INSTALL_CELL.format(url=url)


def _source_lines(text: str) -> list[str]:
    """A cell's text as nbformat stores it: lines that keep their newline."""
    return text.splitlines(keepends=True)


def _synced_title(title: str, line: str) -> str:
    if BADGE_RE.search(title):
        return BADGE_RE.sub(lambda _: line, title, count=1)
    head, _, rest = title.partition("\n")
    return f"{head}\n\n{line}\n" + (rest if rest.startswith("\n") else "\n" + rest)


def synced_notebook(path: Path, url: str) -> str:
    """The notebook's file text with its badge and install cell made from `url`
    (the rest untouched; the JSON layout as Jupyter writes it)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    if not cells or cells[0]["cell_type"] != "markdown":
        raise SystemExit(f"{path}: the first cell must be the title (markdown)")
    title = "".join(cells[0]["source"])
    cells[0]["source"] = _source_lines(_synced_title(title, badge(url, path.name)))
    code = next((c for c in cells if c["cell_type"] == "code"), None)
    if code is None:
        raise SystemExit(f"{path}: no code cell for the install cell")
    code["source"] = _source_lines(install_cell(url))
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def synced_readme(path: Path, url: str) -> str:
    """README.md with its Colab badge and install line made from `url`."""
    text = path.read_text(encoding="utf-8")
    for pattern, new, what in (
        (BADGE_RE, badge(url, "00_setup.ipynb"), "an Open In Colab badge line"),
        (README_CLONE_RE, f"!git clone -q {url} stad-tutorial && "
                          "python stad-tutorial/tools/bootstrap.py --system",
         "the `!git clone -q URL stad-tutorial && ...` line"),
    ):
        if not pattern.search(text):
            raise SystemExit(f"{path}: missing {what} (section Colab)")
        text = pattern.sub(lambda _, new=new: new, text)
    return text


def targets(root: Path = ROOT) -> list[Path]:
    return [*sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")),
            root / "README.md"]


def sync(root: Path = ROOT, write: bool = True) -> list[Path]:
    """Make every target agree with pyproject.toml's Repository; returns the files
    that differed (rewritten when `write`, each whole: temp file then rename)."""
    url = repo_url(root)
    changed = []
    for path in targets(root):
        old = path.read_text(encoding="utf-8")
        new = (synced_readme(path, url) if path.suffix == ".md"
               else synced_notebook(path, url))
        if new == old:
            continue
        changed.append(path)
        if write:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(new)
            os.chmod(tmp, path.stat().st_mode & 0o777)
            os.replace(tmp, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a file differs")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    changed = sync(args.root, write=not args.check)
    url = repo_url(args.root)
    for path in changed:
        verb = "differs from" if args.check else "now uses"
        print(f"{path.relative_to(args.root)} {verb} {url}")
    if args.check and changed:
        print("run `python3 tools/sync_urls.py` to rewrite them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
