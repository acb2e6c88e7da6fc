"""stad_helpers.weights: the checkpoints a run needs, found in the configs, fetched
into torch's hub cache (from a local HTTP server on 127.0.0.1 or a folder), checked,
and a clear one-line error offline. No network."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
from pathlib import Path

import pytest
from _paths import ROOT

from stad_helpers import weights
from stad_helpers.cli import main
from stad_helpers.errors import StadError

# The two checkpoints of the original tutorial (its transcript and configs).
COCO_PERSON = ("https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/"
               "faster_rcnn_r50_fpn_1x_coco-person/"
               "faster_rcnn_r50_fpn_1x_coco-person_20201216_175929-d022e227.pth")
MULTISPORTS_R50 = (
    "https://download.openmmlab.com/mmaction/v1.0/detection/slowonly/"
    "slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb/"
    "slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb_"
    "20230320-a1ca5e76.pth")


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """A fresh torch hub cache; returns its `checkpoints/` folder."""
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # follow TORCH_HOME
    return tmp_path / "torch" / "hub" / "checkpoints"


def _payload(seed: int = 0) -> bytes:
    """A small real torch checkpoint (what MMEngine would load)."""
    import torch

    torch.manual_seed(seed)
    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.randn(3, 4)}, "meta": {}}, buf)
    return buf.getvalue()


def _named(stem: str, data: bytes) -> str:
    """`stem-<first 8 hex digits of SHA-256>.pth`, as OpenMMLab names its files."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth"


class _Server:
    """Serves `files` (name -> bytes) from 127.0.0.1; counts the requests."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    data = _payload()
    srv = _Server({_named("model_20240101", data): data})
    yield srv
    srv.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path, text: str, name: str = "cfg.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------
# The registry: read from the configs
# ---------------------------------------------------------------------------
def test_gpu_profile_needs_exactly_the_tutorials_two_checkpoints():
    needed = weights.profile_weights("gpu")
    assert [w.url for w in needed] == [COCO_PERSON, MULTISPORTS_R50]
    assert [w.sha256_prefix for w in needed] == ["d022e227", "a1ca5e76"]
    assert needed[0].file_name == COCO_PERSON.rsplit("/", 1)[1]
    assert all(w.where.endswith(": load_from") for w in needed)
    assert weights.profile_weights("cpu") == []  # slim models from scratch


def test_references_follow_init_cfg_pretrained_aliases_and_options(tmp_path):
    config = _config(tmp_path, (
        "model = dict(type='X', backbone=dict(type='B', pretrained="
        "'torchvision://resnet50', init_cfg=dict(type='Pretrained', checkpoint="
        "'open-mmlab://detectron2/resnet50_caffe')),\n"
        "    neck=[dict(init_cfg=dict(type='Normal'))])\n"
        "load_from = 'https://example.org/a/b/model-0123abcd.pth'\n"))
    found = weights.required([config])
    # MMEngine's own tables (mmengine/hub/openmmlab.json, torchvision_0.12.json).
    assert [w.url for w in found] == [
        "https://download.pytorch.org/models/resnet50-0676ba61.pth",
        "https://download.openmmlab.com/pretrain/third_party/"
        "resnet50_msra-5891d200.pth",
        "https://example.org/a/b/model-0123abcd.pth",
    ]
    assert [w.where for w in found] == [
        "cfg.py: model.backbone.pretrained",
        "cfg.py: model.backbone.init_cfg.checkpoint", "cfg.py: load_from"]
    assert found[1].reference == "open-mmlab://detectron2/resnet50_caffe"
    assert found[1].sha256_prefix == "5891d200"
    # --cfg-options are followed: one dict for all configs, or one per config.
    assert len(weights.required([config], {"load_from": None})) == 2
    assert len(weights.required([config, config], [None, {"load_from": None}])) == 3


def test_unknown_alias_and_missing_local_checkpoint_are_clear_errors(tmp_path):
    bad = _config(tmp_path, "load_from = 'open-mmlab://no/such_model'\n")
    with pytest.raises(StadError, match="MMEngine knows no model 'open-mmlab://no"):
        weights.required([bad])
    local = _config(tmp_path, "load_from = 'nowhere/epoch_2.pth'\n", "local.py")
    with pytest.raises(StadError) as info:
        weights.preflight([local])
    assert str(info.value) == (
        "nowhere/epoch_2.pth: checkpoint file not found (local.py: load_from)")
    ckpt = tmp_path / "epoch_2.pth"
    ckpt.write_bytes(_payload())
    assert weights.preflight([local], {"load_from": str(ckpt)}) == [ckpt]


# ---------------------------------------------------------------------------
# Fetching: HTTP, cache, checksums, offline
# ---------------------------------------------------------------------------
def test_preflight_downloads_once_and_mmengine_loads_from_that_cache(
        server, torch_home, tmp_path):
    import torch
    from mmengine.runner.checkpoint import _load_checkpoint

    (name, data), = server.files.items()
    url = server.base + name
    config = _config(tmp_path, f"load_from = {url!r}\n")
    assert weights.preflight([config], progress=False) == [torch_home / name]
    assert (torch_home / name).read_bytes() == data
    assert server.requests == [f"/{name}"]
    assert not [p for p in torch_home.iterdir() if p.name != name]  # no .part left
    # Cached: a second preflight does not ask the server.
    weights.preflight([config], progress=False)
    assert len(server.requests) == 1
    # MMEngine's own loader finds the file where we put it: no network needed.
    server.close()
    loaded = _load_checkpoint(url, map_location="cpu")
    assert torch.equal(loaded["state_dict"]["w"],
                       torch.load(io.BytesIO(data))["state_dict"]["w"])


def test_download_with_wrong_checksum_is_removed(server, torch_home):
    (name, data), = server.files.items()
    server.files["model-00000000.pth"] = data  # name claims another SHA-256
    w = weights.RemoteWeights(server.base + "model-00000000.pth", "x", "cfg.py: x")
    with pytest.raises(StadError, match="SHA-256 is .*expected 00000000") as info:
        weights.ensure(w, progress=False)
    assert "run again to download it anew" in str(info.value)
    assert not (torch_home / "model-00000000.pth").exists()


def test_offline_is_one_line_naming_the_url_and_the_fix(torch_home, tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/m/model_x-1234abcd.pth"
    config = _config(tmp_path, f"load_from = {url!r}\n", "det.py")
    with pytest.raises(StadError) as info:
        weights.preflight([config], progress=False)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"cannot download {url} (det.py: load_from): no "
                           "connection to 127.0.0.1:")
    assert "stad weights fetch" in text
    assert text.endswith(f"copy model_x-1234abcd.pth to {torch_home}")
    assert info.value.__suppress_context__
    assert not torch_home.exists() or not any(torch_home.iterdir())
    # Without downloads allowed, the same advice without trying the network.
    with pytest.raises(StadError, match="is not downloaded .*stad weights fetch"):
        weights.preflight([config], download=False, progress=False)


def test_fetch_from_a_folder_checks_and_copies(torch_home, tmp_path):
    good, bad = _payload(1), _payload(2)
    stick = tmp_path / "usb"
    (stick / "weights").mkdir(parents=True)
    good_name = _named("det", good)
    (stick / "weights" / good_name).write_bytes(good)  # below the folder: found
    bad_name = _named("act", good)  # the name's hash is of `good`, content is not
    (stick / bad_name).write_bytes(bad)
    port = _closed_port()  # offline: everything must come from the stick
    det = weights.RemoteWeights(f"http://127.0.0.1:{port}/{good_name}", "d", "d")
    act = weights.RemoteWeights(f"http://127.0.0.1:{port}/{bad_name}", "a", "a")
    assert weights.fetch([det], from_dir=stick, progress=False) == [
        torch_home / good_name]
    assert (torch_home / good_name).read_bytes() == good
    with pytest.raises(StadError, match="SHA-256 is") as info:
        weights.fetch([act], from_dir=stick, progress=False)
    assert str(info.value).startswith(str(stick / bad_name))
    assert (stick / bad_name).read_bytes() == bad  # the user's file is untouched
    assert not (torch_home / bad_name).exists()
    missing = weights.RemoteWeights(f"http://127.0.0.1:{port}/other-12345678.pth",
                                    "o", "o")
    with pytest.raises(StadError, match="other-12345678.pth is not downloaded"):
        weights.fetch([missing], from_dir=stick, download=False, progress=False)


def test_a_checkpoint_argument_by_url_becomes_the_cached_file(server, torch_home,
                                                              tmp_path):
    (name, data), = server.files.items()
    local = weights.local_checkpoint(server.base + name, progress=False)
    assert local == str(torch_home / name)
    assert (torch_home / name).read_bytes() == data
    assert weights.local_checkpoint(tmp_path / "mine.pth") == str(tmp_path / "mine.pth")
    url = f"http://127.0.0.1:{_closed_port()}/ckpt-1234abcd.pth"
    with pytest.raises(StadError, match=r"cannot download .* \(--checkpoint\)"):
        weights.local_checkpoint(url, progress=False)


class _Payload:
    """Not a tensor nor a plain value: torch's weights_only loading refuses it."""


def test_a_brought_file_that_is_not_plain_weights_is_refused(torch_home, tmp_path):
    import torch

    buf = io.BytesIO()
    torch.save({"state_dict": {}, "meta": _Payload()}, buf)
    data = buf.getvalue()
    stick = tmp_path / "usb"
    stick.mkdir()
    name = _named("model", data)  # the checksum in its name matches
    (stick / name).write_bytes(data)
    w = weights.RemoteWeights(f"http://127.0.0.1:{_closed_port()}/{name}", "x", "x")
    with pytest.raises(StadError, match="refused: it does not load as plain "
                                        "weights .*copy it to") as info:
        weights.fetch([w], from_dir=stick, download=False, progress=False)
    assert "\n" not in str(info.value) and "_Payload" in str(info.value)
    assert not (torch_home / name).exists()
    # A real checkpoint (tensors, plain values) passes.
    assert weights.load_problem(stick / name) is not None
    good = tmp_path / "good.pth"
    good.write_bytes(_payload())
    assert weights.load_problem(good) is None


def test_corrupt_cache_entry_is_replaced(server, torch_home):
    (name, data), = server.files.items()
    torch_home.mkdir(parents=True)
    (torch_home / name).write_bytes(data[:100])  # an interrupted copy
    w = weights.RemoteWeights(server.base + name, "x", "x")
    assert weights.ensure(w, progress=False).read_bytes() == data
    assert server.requests == [f"/{name}"]


# ---------------------------------------------------------------------------
# CLI and doctor
# ---------------------------------------------------------------------------
def test_cli_fetch_list_and_offline_train(server, torch_home, tmp_path, capsys):
    (name, data), = server.files.items()
    config = _config(tmp_path, f"load_from = {server.base + name!r}\n")
    assert main(["weights", "list", "--profile", "cpu", "--config",
                 str(config)]) == 0
    out = capsys.readouterr().out
    assert f"absent  {name}" in out and "1 checkpoint(s), 1 absent" in out
    assert main(["weights", "fetch", "--profile", "cpu", "--config",
                 str(config)]) == 0
    assert f"ok  {torch_home / name}" in capsys.readouterr().out
    assert main(["weights", "list", "--profile", "cpu", "--config",
                 str(config)]) == 0
    assert f"cached  {name}" in capsys.readouterr().out

    # From a folder you brought, never the network (the server is not asked).
    (torch_home / name).unlink()
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / name).write_bytes(data)
    assert main(["weights", "fetch", "--profile", "cpu", "--config", str(config),
                 "--from", str(stick), "--no-download"]) == 0
    assert (torch_home / name).read_bytes() == data
    assert len(server.requests) == 1
    capsys.readouterr()

    # `stad train` resolves the weights before anything else: offline, one line.
    det = ROOT / "configs" / "det"
    slim = next(det.glob("faster-rcnn_r18-slim_*.py"))
    url = f"http://127.0.0.1:{_closed_port()}/coco-abcdef12.pth"
    status = main(["train", "det", str(slim), "--work-dir", str(tmp_path / "w"),
                   "--cfg-options", f"load_from={url}"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and err.startswith(
        f"stad train: error: cannot download {url}")
    assert not (tmp_path / "w").exists()


def test_doctor_lists_which_gpu_weights_are_cached(torch_home):
    from stad_helpers.doctor import OK, check_weights

    checks = check_weights()
    assert [c.status for c in checks] == ["info", "info"]
    assert all("not cached" in c.detail and "stad weights fetch" in c.hint
               for c in checks)
    torch_home.mkdir(parents=True)
    (torch_home / COCO_PERSON.rsplit("/", 1)[1]).write_bytes(b"x")
    checks = check_weights()
    assert [c.status for c in checks] == [OK, "info"]
    assert "cached" in checks[0].detail
