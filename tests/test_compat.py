"""Each compat fix: needed while its upstream bug is there, a no-op otherwise."""

from __future__ import annotations

import io
import textwrap

import numpy as np
import pytest
import torch
from _paths import run_python

from stad_helpers import compat

# A finder that makes `importlib_metadata` look uninstalled.
BLOCK_IMPORTLIB_METADATA = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "importlib_metadata":
                raise ModuleNotFoundError("blocked", name=name)
    sys.meta_path.insert(0, Block())
""")


def test_drn_stub_lets_mmaction_models_import():
    code = ("import stad_helpers\nimport mmaction.models\n"
            "from mmaction.models.localizers import BMN, DRN\n"
            "print(stad_helpers.compat.APPLIED.get('drn_stub', False))")
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    applied = res.stdout.strip().endswith("True")
    without = run_python("import mmaction.models")
    if applied:  # the wheel lacks drn: without the fix the import fails
        assert without.returncode != 0
        assert "drn" in without.stderr
    else:  # upstream ships drn: the fix must not have touched anything
        assert without.returncode == 0


def test_drn_stub_raises_a_clear_error_when_used():
    pytest.importorskip("mmaction.models")
    from mmaction.models.localizers import DRN

    if compat.APPLIED.get("drn_stub"):
        with pytest.raises(ImportError, match="DRN"):
            DRN()


def test_importlib_metadata_alias_when_backport_missing():
    code = BLOCK_IMPORTLIB_METADATA + textwrap.dedent("""
        import stad_helpers
        from mmaction.utils.dependency import satisfy_requirement
        print(stad_helpers.compat.APPLIED.get("importlib_metadata_alias"))
        print(satisfy_requirement("numpy>=1.0"))
    """)
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True"]
    without = run_python(BLOCK_IMPORTLIB_METADATA + "import mmaction.utils.dependency")
    assert without.returncode != 0 and "importlib_metadata" in without.stderr


def test_importlib_metadata_alias_is_noop_when_installed():
    import importlib_metadata

    assert not compat.APPLIED.get("importlib_metadata_alias")
    assert importlib_metadata.__name__ == "importlib_metadata"


def _hub_checkpoint() -> bytes:
    from mmengine.logging import HistoryBuffer

    buf = io.BytesIO()
    hub = {"log_scalars": {"loss": HistoryBuffer([1.0, 0.5], [1, 1])},
           "runtime_info": {"iter": np.int64(3), "lr": np.float64(0.1)}}
    torch.save({"message_hub": hub, "state_dict": {"w": torch.ones(2)}}, buf)
    return buf.getvalue()


def test_checkpoint_reloads_in_a_fresh_process(tmp_path):
    # No HistoryBuffer has been built there yet, so its statistics registry is empty.
    path = tmp_path / "ckpt.pth"
    path.write_bytes(_hub_checkpoint())
    res = run_python("import stad_helpers, torch, mmengine.runner.checkpoint\n"
                     f"c = torch.load({str(path)!r})\n"
                     "print(c['message_hub']['log_scalars']['loss'].mean())")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0.75"


def test_mmengine_checkpoints_reload_with_weights_only():
    import mmengine.runner.checkpoint  # noqa: F401  (installs the allowlist)

    ckpt = torch.load(io.BytesIO(_hub_checkpoint()))
    assert ckpt["message_hub"]["runtime_info"]["iter"] == 3
    assert ckpt["message_hub"]["log_scalars"]["loss"].mean() == pytest.approx(0.75)


def test_checkpoint_fix_is_needed_and_safety_stays_on():
    # Without stad_helpers, torch >= 2.6 refuses mmengine's own message hub.
    code = textwrap.dedent("""
        import io, sys, torch, numpy as np
        from mmengine.logging import HistoryBuffer
        buf = io.BytesIO()
        torch.save({"h": HistoryBuffer([1.0], [1]), "n": np.float64(1)}, buf)
        buf.seek(0)
        try:
            torch.load(buf)
            print("loaded")
        except Exception as exc:
            print("refused", type(exc).__name__)
    """)
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    if tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 6):
        assert res.stdout.startswith("refused")
    # With the fix, anything outside the allowlist is still refused.
    import argparse

    buf = io.BytesIO()
    torch.save({"c": argparse.Namespace(a=1)}, buf)
    buf.seek(0)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported global"):
        torch.load(buf)


def test_checkpoint_getattr_only_reaches_history_buffer_statistics():

    import mmengine.runner.checkpoint  # noqa: F401
    from mmengine.logging import HistoryBuffer

    class Evil:  # pickles as getattr(HistoryBuffer, "__init__")
        def __reduce__(self):
            return (getattr, (HistoryBuffer, "__init__"))

    buf = io.BytesIO()
    torch.save({"x": Evil()}, buf)
    buf.seek(0)
    with pytest.raises(Exception, match="HistoryBuffer statistics"):
        torch.load(buf)


# --- mmaction2 MultiSports video-mAP ------------------------------------------
def _video_ap_case():
    """Two test videos, one label, one 20-frame GT tube each.

    Video a: a correct tube scored 0.9. Video b: a wrong tube scored 0.8 and a
    correct one scored 0.4; the last detection of all is a stray box scored 0.001.
    Ranked: TP (0.9), FP (0.8), TP (0.4) -> precision 1 at recall 0.5, 2/3 at
    recall 1 -> VOC AP = 0.5 * 1 + 0.5 * 2/3 = 5/6.
    """
    n = 20
    frames = np.arange(1, n + 1, dtype=np.float32)[:, None]
    box_a, box_b, box_z = [10, 10, 50, 90], [100, 10, 140, 90], [200, 10, 240, 90]
    tube = lambda box: np.hstack([frames, np.tile(np.float32(box), (n, 1))])  # noqa: E731
    anno = {"labels": ["wave"], "test_videos": [["s/a", "s/b"]],
            "nframes": {"s/a": n, "s/b": n},
            "gttubes": {"s/a": {0: [tube(box_a)]}, "s/b": {0: [tube(box_b)]}}}
    dets = []
    for f in range(1, n + 1):
        dets.append([0, f, 0, 0.9, *box_a])
        dets.append([1, f, 0, 0.8, *box_z])
        dets.append([1, f, 0, 0.4, *box_b])
    dets.append([1, n, 0, 0.001, 300, 10, 310, 20])
    return anno, np.array(dets, dtype=np.float64)


def _video_ap(anno, dets) -> float:
    from mmaction.evaluation.functional import multisports_utils as mu

    return mu.videoAP(anno, mu.link_tubes(anno, dets, len_thre=15), 0.5,
                      print_info=False)


def test_video_ap_matches_hand_computation():
    anno, dets = _video_ap_case()
    assert _video_ap(anno, dets) == pytest.approx(100 * 5 / 6)


def test_video_ap_is_wrong_without_the_score_fix(monkeypatch):
    from mmaction.evaluation.functional import multisports_utils as mu

    if "vid_dets_score" not in compat.ORIGINALS:
        pytest.skip("installed mmaction2 has the fix upstream")
    monkeypatch.setattr(mu.Dataset, "get_vid_dets", compat.ORIGINALS["vid_dets_score"])
    anno, dets = _video_ap_case()
    # every box gets the stray 0.001 score, so every tube falls below the
    # 0.005 tube-score floor and the video-AP collapses.
    assert _video_ap(anno, dets) != pytest.approx(100 * 5 / 6)


def test_vid_dets_keep_each_box_score():
    from mmaction.evaluation.functional import multisports_utils as mu

    anno, dets = _video_ap_case()
    vid = mu.Dataset(anno, dets).get_vid_dets()
    assert sorted(vid["s/b"][3][0][:, 4].tolist()) == pytest.approx([0.4, 0.8])
    assert vid["s/a"][5][0][0, 4] == pytest.approx(0.9)


def test_iou3dt_voc_on_numpy_2_4():
    from mmaction.evaluation.functional import multisports_utils as mu

    frames = np.arange(1, 11, dtype=np.float32)[:, None]
    b1 = np.hstack([frames, np.tile([0, 0, 10, 10], (10, 1))]).astype(np.float32)
    b2 = np.hstack([frames[4:], np.tile([0, 0, 10, 5], (6, 1))]).astype(np.float32)
    # temporal IoU (10-5)/(10-1) = 5/9, spatial IoU 50/100 -> 5/18
    assert mu.iou3dt_voc(b1, b2) == pytest.approx(5 / 18)
    if "iou3dt_int" in compat.ORIGINALS:
        major, minor = (int(x) for x in np.__version__.split(".")[:2])
        if (major, minor) >= (2, 4):
            with pytest.raises(TypeError):
                compat.ORIGINALS["iou3dt_int"](b1, b2)


def test_moviepy_display_is_importable():
    from moviepy.video.io.display_in_notebook import display_in_notebook

    assert callable(compat.ipython_display) and callable(display_in_notebook)


def test_opencv_is_the_contrib_build():
    assert compat.opencv_problem() is None


def test_post_import_hook_runs_after_import():
    seen = []
    compat.when_imported("json.tool", lambda m: seen.append(m.__name__))
    import json.tool  # noqa: F401

    assert seen == ["json.tool"]
