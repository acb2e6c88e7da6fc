"""Download and unpack MultiSports-tiny, the real data the original tutorial uses.

`download_multisports_tiny(out_dir)` replaces the tutorial's
``wget -c ... && tar -xvf ... --strip 1``: it shows a progress bar, resumes a
partial download (HTTP Range on a `.part` file), checks size and (optionally)
SHA-256, refuses hostile tar members (absolute paths, `..`, links, devices),
extracts into a temporary folder beside `out_dir`, validates the annotation,
and only then moves the folder into place, so `out_dir` is complete or absent.

Layout produced (the tar's leading `multisports-tiny/multisports/` is stripped):
`out_dir/trainval/<sport>/<video>.mp4`, `out_dir/test/<sport>/<video>.mp4`,
`out_dir/annotations/multisports_GT.pkl`.

Used in: 01_dataset.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import posixpath
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..errors import StadError
from ..fileio import mark_output_dir
from .layout import GT_REL

TUTORIAL_URL = (
    "https://download.openmmlab.com/mmaction/v1.0/projects/stad_tutorial/"
    "multisports-tiny.tar"
)
TUTORIAL_SIZE = 82_780_160  # bytes, as served in the tutorial's transcript (2023-06)
GT_NAME = GT_REL  # the GT's member path in the tar, below the dataset root
CHUNK = 1 << 16  # 64 KiB: progress and resume granularity
TIMEOUT_S = 30


def download_multisports_tiny(
    out_dir: str | os.PathLike,
    url: str = TUTORIAL_URL,
    from_tar: str | os.PathLike | None = None,
    sha256: str | None = None,
    expected_size: int | None = None,
    progress: bool = True,
) -> Path:
    """Fetch (or take `from_tar`) MultiSports-tiny and unpack it into `out_dir`.

    The tar is kept beside `out_dir` (`<parent>/<name from url>`) so a rerun
    neither downloads again nor loses a partial download. Returns `out_dir`.

    The tar is the one of MMAction2's STAD tutorial
    (`projects/stad_tutorial`, MultiSports-tiny: a few videos of the MultiSports
    release, https://github.com/MCG-NJU/MultiSports); `out_dir` then holds
    `trainval/`, `test/` and `annotations/multisports_GT.pkl`.

    Args:
        out_dir: The dataset root to create (missing or empty).
        url: Where to download the tar from (default: the tutorial's).
        from_tar: A tar already on disk; no network is used.
        sha256: Expected hex SHA-256 of the tar, checked when given.
        expected_size: Expected size in bytes (the tutorial's own tar: known).
        progress: Show tqdm bars.

    Returns:
        `out_dir` (unchanged if it already holds the unpacked dataset).

    Raises:
        StadError: `out_dir` exists and is neither empty nor an unpacked dataset;
            `from_tar` is missing; the download fails (HTTP error, no network,
            interrupted, wrong size or checksum: rerun to resume); the tar is
            unreadable, unsafe (absolute paths, links, `..`) or holds no valid
            `multisports_GT.pkl` (see `extract_multisports_tar`).
    """
    out_dir = Path(out_dir)
    if (out_dir / GT_NAME).is_file():
        return out_dir  # already unpacked by an earlier run
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise StadError("exists and is not an unpacked MultiSports folder; remove it "
                        "or choose another output folder", out_dir)
    if expected_size is None and from_tar is None and url == TUTORIAL_URL:
        expected_size = TUTORIAL_SIZE
    if from_tar is not None:
        tar_path = Path(from_tar)
        if not tar_path.is_file():
            raise StadError("tar file not found", tar_path)
        _check_file(tar_path, expected_size, sha256, remove_if_bad=False)
    else:
        name = posixpath.basename(urllib.parse.urlparse(url).path) or "download.tar"
        tar_path = out_dir.parent / name
        download(url, tar_path, expected_size=expected_size, progress=progress)
        _check_file(tar_path, expected_size, sha256, remove_if_bad=True)
    extract_multisports_tar(tar_path, out_dir, progress=progress)
    return out_dir


# ---------------------------------------------------------------------------
# Download with resume
# ---------------------------------------------------------------------------
def download(url: str, dest: str | os.PathLike, expected_size: int | None = None,
             progress: bool = True) -> Path:
    """Download `url` to `dest` through `dest.part`, resuming that file if present.

    Args:
        url: http(s) URL of the file.
        dest: Final path; it appears only when the download is complete.
        expected_size: Size in bytes, if known: a complete `dest` is kept, a
            short `.part` resumed (HTTP Range), and a different final size is an
            error.
        progress: Show a tqdm bar.

    Returns:
        `dest`.

    Raises:
        StadError: The server answers an HTTP error, cannot be reached, stops
            early, or resumes at the wrong byte, or the size differs from
            `expected_size`; `dest.part` is kept, so a rerun resumes.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    if dest.is_file() and expected_size in (None, dest.stat().st_size):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if expected_size is not None and have > expected_size:
        part.unlink()  # longer than the file can be: not a prefix of it
        have = 0
    host = urllib.parse.urlparse(url).netloc or url
    if not (expected_size is not None and have == expected_size):
        request = urllib.request.Request(url, headers={"User-Agent": "stad-tutorial"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # range past the end: .part already whole
                response = None
            else:
                raise StadError(f"the server answered HTTP {exc.code} {exc.reason} "
                                f"for {url}", dest) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StadError(f"cannot reach {host} ({reason}); download the tar "
                            "elsewhere and pass --from-tar FILE") from None
        if response is not None:
            with response:
                _receive(response, part, have, url, expected_size, progress, tqdm)
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        raise StadError(f"download ended at {size} of {expected_size} bytes; run "
                        "again to resume", part)
    os.replace(part, dest)
    return dest


def _receive(response, part: Path, have: int, url: str, expected_size: int | None,
             progress: bool, tqdm) -> None:
    """Append (206) or write from the start (200) the response body to `part`."""
    status = getattr(response, "status", 200)
    if status == 206:
        first = _content_range_start(response.headers.get("Content-Range"))
        if first != have:
            raise StadError(f"server resumed at byte {first}, expected {have}; delete "
                            "the .part file and run again", part)
        mode = "ab"
    else:
        have, mode = 0, "wb"  # server ignored the Range header: start over
    length = response.headers.get("Content-Length")
    total = have + int(length) if length and length.isdigit() else expected_size
    if expected_size is not None and total is not None and total != expected_size:
        raise StadError(f"the server offers {total} bytes, expected {expected_size}; "
                        "the file at the URL has changed (pass --url or "
                        "--from-tar)", url)
    with open(part, mode) as fh, tqdm(
        total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
        desc=part.name.removesuffix(".part"), disable=not progress,
    ) as bar:
        received = have
        try:
            while chunk := response.read(CHUNK):
                fh.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        except (OSError, socket.timeout, http.client.HTTPException) as exc:
            raise StadError(f"download interrupted ({exc!r}); run again to resume "
                            "from the partial file", part) from None
    # http.client returns b"" when the connection drops early; compare sizes.
    if total is not None and received != total:
        raise StadError(f"download interrupted at {received} of {total} bytes; run "
                        "again to resume from the partial file", part)


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200"
    try:
        return int(value.split()[1].split("-")[0])
    except (AttributeError, IndexError, ValueError):
        return None


def _check_file(path: Path, expected_size: int | None, sha256: str | None,
                remove_if_bad: bool) -> None:
    """Size and SHA-256 check; a bad download is removed so a rerun fetches it again."""
    problem = None
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        problem = f"size is {size} bytes, expected {expected_size}"
    elif sha256:
        digest = file_sha256(path)
        if digest.lower() != sha256.strip().lower():
            problem = f"SHA-256 is {digest}, expected {sha256}"
    if problem:
        if remove_if_bad:
            path.unlink()
            problem += " (the file was removed; run again to download it anew)"
        raise StadError(problem, path)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Safe, atomic extraction
# ---------------------------------------------------------------------------
def extract_multisports_tar(tar_path: str | os.PathLike, out_dir: str | os.PathLike,
                            progress: bool = True) -> Path:
    """Unpack a MultiSports tar into `out_dir`, stripping the folders above it.

    The dataset root inside the tar is the folder holding
    `annotations/multisports_GT.pkl` (`multisports-tiny/multisports/` in the
    tutorial's tar); members outside it are skipped. Every member is checked
    before anything is written; the annotation is validated before `out_dir`
    appears.

    Args:
        tar_path: The tar (any compression `tarfile` reads).
        out_dir: Folder to create; if it exists it must be empty.
        progress: Show a tqdm bar (bytes).

    Returns:
        `out_dir`, holding the dataset root's contents and an output marker.

    Raises:
        StadError: The tar is unreadable, truncated or corrupt; a member has an
            absolute path, leaves the folder, is a link or a device; there is no
            `annotations/multisports_GT.pkl`; or that annotation is not a valid
            MultiSports GT. Nothing is left in `out_dir` then.
    """
    from tqdm.auto import tqdm

    from .safe_pickle import safe_loads
    from .validate import raise_if_invalid

    tar_path, out_dir = Path(tar_path), Path(out_dir)
    try:
        tar = tarfile.open(tar_path, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise StadError(f"not a readable tar file ({exc})", tar_path) from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise StadError(f"tar file is truncated or corrupt ({exc})",
                            tar_path) from None
        plan, root = _plan(members, tar_path)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".part",
                                    dir=out_dir.parent))
        try:
            total = sum(m.size for m, _ in plan if m.isfile())
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc="extracting", disable=not progress) as bar:
                for member, rel in plan:
                    target = tmp.joinpath(*rel.split("/"))
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        src = tar.extractfile(member)
                        with src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
                    except (tarfile.TarError, OSError, EOFError) as exc:
                        raise StadError(f"cannot extract {member.name!r} ({exc}); the "
                                        "tar is truncated or corrupt",
                                        tar_path) from None
                    bar.update(member.size)
            # Errors name the member in the tar, not the temporary folder.
            source = f"{tar_path}:{root}{GT_NAME}"
            raw = safe_loads((tmp / GT_NAME).read_bytes(), source)
            raise_if_invalid(raw, source=source)
            if out_dir.is_dir():
                out_dir.rmdir()  # empty (checked by the caller); rename needs it gone
            mark_output_dir(tmp, "dataset")  # ours: an import may overwrite it
            os.replace(tmp, out_dir)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _plan(members: list[tarfile.TarInfo], tar_path: Path) -> tuple[list, str]:
    """[(member, path below the dataset root)] to extract, and that root.

    Refuses the whole tar if any member is hostile.
    """
    for m in members:
        name = m.name
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise StadError(f"refused: member {name!r} has an absolute path", tar_path)
        if ".." in name.replace("\\", "/").split("/"):
            raise StadError(f"refused: member {name!r} points outside the folder "
                            "('..')", tar_path)
        if m.issym() or m.islnk():
            raise StadError(f"refused: member {name!r} is a link (to "
                            f"{m.linkname!r}); a dataset tar has only files and "
                            "folders", tar_path)
        if not (m.isfile() or m.isdir()):
            raise StadError(f"refused: member {name!r} is a device, fifo or other "
                            "special file", tar_path)
    names = {posixpath.normpath(m.name): m for m in members}
    gts = sorted((n for n in names if n == GT_NAME or n.endswith("/" + GT_NAME)),
                 key=len)
    if not gts:
        raise StadError(f"no {GT_NAME} in the tar; is this a MultiSports tar?",
                        tar_path)
    root = gts[0][: -len(GT_NAME)]  # '' or 'multisports-tiny/multisports/'
    plan = []
    for norm, m in names.items():
        if norm.startswith(root) and len(norm) > len(root):
            plan.append((m, norm[len(root):]))
    return sorted(plan, key=lambda t: t[1]), root
