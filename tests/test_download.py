"""download_multisports_tiny: resume, checks, safe atomic extraction, offline message.

Served from a local HTTP server on 127.0.0.1 that honours Range; no network.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from stad_helpers.data import MultiSportsGT, download_multisports_tiny, layout
from stad_helpers.data.download import TUTORIAL_SIZE, TUTORIAL_URL, download
from stad_helpers.errors import StadError

PREFIX = "multisports-tiny/multisports/"
TRAIN = ["aerobic_gymnastics/v__wAgwttPYaQ_c001",
         "aerobic_gymnastics/v__wAgwttPYaQ_c002"]
TEST = ["aerobic_gymnastics/v_7G_IpU0FxLU_c001"]


def _gt(bad: bool = False) -> dict:
    tube = np.array([[f, 100, 50, 200, 300] for f in range(1, 11)], np.float32)
    if bad:
        tube[3, 1] = 500  # x1 >= x2 at frame 4
    videos = TRAIN + TEST
    return {
        "labels": ["aerobic push up", "aerobic explosive push up"],
        "train_videos": [list(TRAIN)],
        "test_videos": [list(TEST)],
        "nframes": {v: 10 for v in videos},
        "resolution": {v: (720, 1280) for v in videos},
        "gttubes": {v: {i % 2: [tube.copy()]} for i, v in enumerate(videos)},
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, **attrs) -> None:
    info = tarfile.TarInfo(name)
    if data is None and not attrs:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    for key, value in attrs.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def make_tar(path: Path, gt: dict | None = None, extra=None, prefix=PREFIX) -> Path:
    """A tar shaped like the tutorial's multisports-tiny.tar (dummy mp4 bytes)."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w") as tar:
        if prefix:
            _add(tar, prefix.split("/")[0] + "/")
            _add(tar, prefix)
        for folder, videos in (("test", TEST), ("trainval", TRAIN)):
            _add(tar, f"{prefix}{folder}/")
            _add(tar, f"{prefix}{folder}/aerobic_gymnastics/")
            for video in videos:
                _add(tar, f"{prefix}{folder}/{video}.mp4",
                     rng.integers(0, 255, 40_000, dtype=np.uint8).tobytes())
        _add(tar, f"{prefix}annotations/")
        _add(tar, f"{prefix}{layout.GT_REL}",
             pickle.dumps(gt if gt is not None else _gt(), protocol=4))
        for args, attrs in extra or []:
            _add(tar, *args, **attrs)
    return path


@pytest.fixture(scope="session")
def good_tar(tmp_path_factory) -> Path:
    return make_tar(tmp_path_factory.mktemp("tar") / "multisports-tiny.tar")


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".part" in p.name)


def _check_layout(out: Path) -> None:
    for video in TRAIN:
        assert (out / "trainval" / f"{video}.mp4").is_file()
    assert (out / "test" / f"{TEST[0]}.mp4").is_file()
    assert not (out / "multisports-tiny").exists()
    gt = MultiSportsGT.load(layout.gt_file(out))
    assert gt.train_videos == TRAIN and gt.test_videos == TEST


# ---------------------------------------------------------------------------
# --from-tar and extraction
# ---------------------------------------------------------------------------
def test_from_tar_extracts_the_layout_and_validates(good_tar, tmp_path):
    out = tmp_path / "data" / "multisports"
    assert download_multisports_tiny(out, from_tar=good_tar, progress=False) == out
    _check_layout(out)
    assert _leftovers(out.parent) == []
    # Same bytes as in the tar.
    with tarfile.open(good_tar) as tar:
        member = tar.extractfile(f"{PREFIX}trainval/{TRAIN[0]}.mp4")
        assert member.read() == (out / "trainval" / f"{TRAIN[0]}.mp4").read_bytes()
    # A second run finds it done and does not touch it.
    stamp = layout.gt_file(out).stat().st_mtime_ns
    assert download_multisports_tiny(out, from_tar=good_tar, progress=False) == out
    assert layout.gt_file(out).stat().st_mtime_ns == stamp


def test_tar_without_prefix_and_into_empty_folder(tmp_path):
    tar = make_tar(tmp_path / "plain.tar", prefix="")
    out = tmp_path / "out"
    out.mkdir()
    download_multisports_tiny(out, from_tar=tar, progress=False)
    _check_layout(out)


def test_non_empty_output_folder_is_refused(good_tar, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(StadError, match="exists and is not an unpacked"):
        download_multisports_tiny(out, from_tar=good_tar, progress=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("member", "attrs", "needle"),
    [
        (f"{PREFIX}../../evil.txt", {}, "points outside"),
        ("../evil.txt", {}, "points outside"),
        ("/tmp/stad_evil_abs.txt", {}, "absolute path"),
        (f"{PREFIX}trainval/link.mp4", {"type": tarfile.SYMTYPE,
                                        "linkname": "/etc/passwd"}, "is a link"),
        (f"{PREFIX}trainval/hard.mp4", {"type": tarfile.LNKTYPE,
                                        "linkname": "/etc/passwd"}, "is a link"),
        (f"{PREFIX}dev", {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3},
         "device"),
        (f"{PREFIX}fifo", {"type": tarfile.FIFOTYPE}, "device, fifo"),
    ],
)
def test_hostile_members_are_refused(tmp_path, member, attrs, needle):
    data = None if attrs else b"evil"
    tar = make_tar(tmp_path / "evil.tar", extra=[((member, data), attrs)])
    parent = tmp_path / "data"
    parent.mkdir()
    out = parent / "multisports"
    with pytest.raises(StadError, match=needle) as info:
        download_multisports_tiny(out, from_tar=tar, progress=False)
    assert "refused" in str(info.value) and str(tar) in str(info.value)
    assert not out.exists()
    assert list(parent.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/stad_evil_abs.txt").exists()


def test_invalid_annotation_leaves_nothing(tmp_path):
    tar = make_tar(tmp_path / "bad.tar", gt=_gt(bad=True))
    out = tmp_path / "data" / "multisports"
    with pytest.raises(StadError) as info:
        download_multisports_tiny(out, from_tar=tar, progress=False)
    text = str(info.value)
    assert f"video '{TRAIN[0]}', label 0, tube 0: x1 >= x2 at frame 4" in text
    assert str(info.value).startswith(
        f"{tar}:{PREFIX}{layout.GT_REL}: 3 error(s)")
    assert not out.exists() and _leftovers(out.parent) == []


def test_tar_without_annotation_and_truncated_tar(good_tar, tmp_path):
    with tarfile.open(tmp_path / "nogt.tar", "w") as tar:
        _add(tar, "x.mp4", b"123")
    with pytest.raises(StadError, match=f"no {layout.GT_REL}"):
        download_multisports_tiny(tmp_path / "a", from_tar=tmp_path / "nogt.tar")
    cut = tmp_path / "cut.tar"
    data = good_tar.read_bytes()
    cut.write_bytes(data[: len(data) - 30_000])
    with pytest.raises(StadError, match="truncated or corrupt"):
        download_multisports_tiny(tmp_path / "b", from_tar=cut, progress=False)
    assert not (tmp_path / "b").exists() and _leftovers(tmp_path) == []
    with pytest.raises(StadError, match="tar file not found"):
        download_multisports_tiny(tmp_path / "c", from_tar=tmp_path / "none.tar")


def test_from_tar_checksum_mismatch_keeps_the_users_file(good_tar, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(StadError, match="SHA-256 is"):
        download_multisports_tiny(out, from_tar=good_tar, sha256="0" * 64)
    assert good_tar.exists() and not out.exists()
    digest = hashlib.sha256(good_tar.read_bytes()).hexdigest()
    download_multisports_tiny(out, from_tar=good_tar, sha256=digest.upper(),
                              progress=False)
    _check_layout(out)


# ---------------------------------------------------------------------------
# HTTP: download, resume, checks, offline
# ---------------------------------------------------------------------------
class _Server:
    """Serves one payload at /multisports-tiny.tar; records the Range headers."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.ranges: list[str | None] = []
        self.honour_range = True
        self.cut_after: int | None = None  # send only this many bytes, then close
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                if self.path != "/multisports-tiny.tar":
                    self.send_error(404)
                    return
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = 0
                if rng and outer.honour_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(outer.payload):
                        self.send_response(416)
                        self.send_header("Content-Range",
                                         f"bytes */{len(outer.payload)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-"
                                     f"{len(outer.payload) - 1}/{len(outer.payload)}")
                else:
                    self.send_response(200)
                body = outer.payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut_after is not None:
                    body = body[: outer.cut_after]
                    outer.cut_after = None
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/multisports-tiny.tar"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(good_tar):
    srv = _Server(good_tar.read_bytes())
    yield srv
    srv.close()


def test_download_extracts_and_keeps_the_tar(server, tmp_path):
    out = tmp_path / "data" / "multisports"
    download_multisports_tiny(out, url=server.url, progress=False)
    _check_layout(out)
    tar = tmp_path / "data" / "multisports-tiny.tar"
    assert tar.read_bytes() == server.payload
    assert server.ranges == [None]
    assert _leftovers(tmp_path / "data") == []


def test_partial_download_resumes_with_range(server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    half = len(server.payload) // 2
    (data / "multisports-tiny.tar.part").write_bytes(server.payload[:half])
    download_multisports_tiny(data / "multisports", url=server.url, progress=False,
                              expected_size=len(server.payload))
    assert server.ranges == [f"bytes={half}-"]
    assert (data / "multisports-tiny.tar").read_bytes() == server.payload
    _check_layout(data / "multisports")


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.honour_range = False
    part = tmp_path / "multisports-tiny.tar.part"
    part.write_bytes(b"garbage that is not the start of the file")
    dest = download(server.url, tmp_path / "multisports-tiny.tar", progress=False)
    assert dest.read_bytes() == server.payload and not part.exists()


def test_complete_part_file_gets_416_and_is_used(server, tmp_path):
    part = tmp_path / "multisports-tiny.tar.part"
    part.write_bytes(server.payload)
    dest = download(server.url, tmp_path / "multisports-tiny.tar", progress=False)
    assert dest.read_bytes() == server.payload
    assert server.ranges == [f"bytes={len(server.payload)}-"]


def test_interrupted_download_keeps_part_then_resumes(server, tmp_path):
    server.cut_after = len(server.payload) // 2
    out = tmp_path / "multisports"
    with pytest.raises(StadError, match="run again to resume"):
        download_multisports_tiny(out, url=server.url, progress=False)
    part = tmp_path / "multisports-tiny.tar.part"
    assert part.stat().st_size == len(server.payload) // 2 and not out.exists()
    have = part.stat().st_size
    download_multisports_tiny(out, url=server.url, progress=False)
    assert server.ranges[-1] == f"bytes={have}-"
    _check_layout(out)


def test_checksum_mismatch_is_an_error_and_extracts_nothing(server, tmp_path):
    out = tmp_path / "multisports"
    with pytest.raises(StadError, match="SHA-256 is .* expected 1234"):
        download_multisports_tiny(out, url=server.url, sha256="1234", progress=False)
    assert not out.exists()
    assert not (tmp_path / "multisports-tiny.tar").exists()  # removed: rerun refetches
    assert _leftovers(tmp_path) == []


def test_size_mismatch_is_an_error(server, tmp_path):
    out = tmp_path / "multisports"
    with pytest.raises(StadError, match="expected 12345"):
        download_multisports_tiny(out, url=server.url, expected_size=12345,
                                  progress=False)
    assert not out.exists()


def test_http_error_is_reported(server, tmp_path):
    with pytest.raises(StadError, match="HTTP 404"):
        download_multisports_tiny(tmp_path / "m", url=server.url + ".missing",
                                  progress=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_is_a_clear_message(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/multisports-tiny.tar"
    with pytest.raises(StadError) as info:
        download_multisports_tiny(tmp_path / "m", url=url, progress=False)
    text = str(info.value)
    assert text.startswith("cannot reach 127.0.0.1:")
    assert "--from-tar FILE" in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not (tmp_path / "m").exists()


def test_tutorial_defaults():
    assert TUTORIAL_URL == ("https://download.openmmlab.com/mmaction/v1.0/projects/"
                            "stad_tutorial/multisports-tiny.tar")
    assert TUTORIAL_SIZE == 82_780_160
