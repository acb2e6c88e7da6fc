"""Your own videos: import from CVAT / Label Studio / CSV, export back, pre-annotation.

Round trips start from the synthetic dataset (3 videos x ~40 frames, built once)
and must give the same GT back. Tolerances by format: CVAT and CSV write each
float32 coordinate in full (shortest exact text), so they come back bit for bit;
Label Studio stores percentages of the frame, and percent -> pixel arithmetic
costs a few float32 ulps (we allow 1e-3 px).
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stad_helpers.annotations import (
    export_csv,
    export_cvat,
    export_cvat_predictions,
    export_label_studio,
    import_annotations,
    read_cvat,
)
from stad_helpers.annotations import importer as importer_module
from stad_helpers.cli import main as cli
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.errors import StadError

LS_TOL = 1e-3  # px, Label Studio percentages


# ---------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> tuple[Path, MultiSportsGT]:
    from stad_helpers.data import make_synthetic_dataset

    root = tmp_path_factory.mktemp("synth_own")
    gt_path = make_synthetic_dataset(root, videos=3, frames=40, progress=False)
    return root, MultiSportsGT.load(gt_path)


@pytest.fixture(scope="session")
def video0(synth) -> tuple[str, int]:
    """(file name, frame count) of the first synthetic video."""
    root, gt = synth
    key = sorted(gt.videos)[0]
    return Path(key).name + ".mp4", int(gt.nframes[key])


def assert_same_gt(a: MultiSportsGT, b: MultiSportsGT, tol: float = 0.0,
                   by_name: bool = False) -> None:
    """Same videos, splits, sizes, tubes (per label, in order) and idle tubes."""
    assert sorted(a.train_videos) == sorted(b.train_videos)
    assert sorted(a.test_videos) == sorted(b.test_videos)
    assert a.nframes == b.nframes
    assert a.resolution == b.resolution
    if not by_name:
        assert a.labels == b.labels
    for video in a.videos:
        ta = {a.labels[k]: v for k, v in a.gttubes[video].items() if v}
        tb = {b.labels[k]: v for k, v in b.gttubes[video].items() if v}
        assert ta.keys() == tb.keys(), video
        pairs = [(x, y) for name in ta for x, y in zip(ta[name], tb[name])]
        assert all(len(ta[n]) == len(tb[n]) for n in ta), video
        ia, ib = a.extra["idle_tubes"][video], b.extra["idle_tubes"][video]
        assert len(ia) == len(ib), video
        pairs += list(zip(ia, ib))
        for x, y in pairs:
            assert y.dtype == np.float32 and y.shape == x.shape
            np.testing.assert_array_equal(x[:, 0], y[:, 0])  # frames exactly
            np.testing.assert_allclose(y[:, 1:], x[:, 1:], rtol=0, atol=tol)


def cvat_xml(tracks: str, source: str, nframes: int, labels: str = "",
             size: tuple[int, int] = (320, 240)) -> str:
    """A hand-written "CVAT for video 1.1" file with one task."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>7</id><name>my task</name><size>{nframes}</size>
      <mode>interpolation</mode><start_frame>0</start_frame>
      <stop_frame>{nframes - 1}</stop_frame>
      <labels>{labels}</labels>
      <original_size><width>{size[0]}</width><height>{size[1]}</height></original_size>
    </task>
    <source>{source}</source>
  </meta>
{tracks}
</annotations>
"""


def box(frame: int, x1: float, y1: float, x2: float, y2: float, outside: int = 0,
        attrs: dict | None = None) -> str:
    inner = "".join(f'<attribute name="{k}">{v}</attribute>'
                    for k, v in (attrs or {}).items())
    return (f'<box frame="{frame}" keyframe="1" outside="{outside}" occluded="0" '
            f'xtl="{x1}" ytl="{y1}" xbr="{x2}" ybr="{y2}" z_order="0">{inner}</box>')


def label(name: str, attr: str = "") -> str:
    return f"<label><name>{name}</name><attributes>{attr}</attributes></label>"


def import_one(fmt: str, src: Path, videos: Path, out: Path, **kw) -> MultiSportsGT:
    kw.setdefault("test_ratio", 0.0)
    return MultiSportsGT.load(import_annotations(fmt, [src], videos, out,
                                                 progress=False, **kw))


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("attribute", [None, "action"])
def test_cvat_round_trip(synth, tmp_path, attribute):
    root, gt = synth
    files = export_cvat(gt, tmp_path / "cvat", action_attribute=attribute)
    assert len(files) == len(gt.videos)
    assert (tmp_path / "cvat" / "cvat_labels.json").is_file()
    back = MultiSportsGT.load(import_annotations(
        "cvat", [tmp_path / "cvat"], root, tmp_path / "ds", test_videos=gt.test_videos,
        action_attribute=attribute, progress=False))
    assert_same_gt(gt, back)  # labels in the same order: CVAT declares them
    # the dataset layout: every video in trainval/, hard-linked or copied
    for key in gt.videos:
        assert (tmp_path / "ds" / "trainval" / f"{key}.mp4").is_file()


def test_label_studio_round_trip(synth, tmp_path):
    root, gt = synth
    tasks = export_label_studio(gt, tmp_path / "ls")
    config = (tmp_path / "ls" / "label_config.xml").read_text()
    assert all(f'value="{name}"' in config for name in gt.labels)
    back = import_one("label-studio", tasks, root, tmp_path / "ds",
                      labels=gt.labels, test_ratio=None, test_videos=gt.test_videos)
    assert_same_gt(gt, back, tol=LS_TOL)


def test_csv_round_trip(synth, tmp_path):
    root, gt = synth
    csv_path = export_csv(gt, tmp_path / "boxes.csv")
    back = import_one("csv", csv_path, root, tmp_path / "ds", labels=gt.labels,
                      test_ratio=None, test_videos=gt.test_videos)
    assert_same_gt(gt, back)
    # Without a label list, the file's `# labels:` line keeps the ids.
    declared = import_one("csv", csv_path, root, tmp_path / "ds1",
                          test_ratio=None, test_videos=gt.test_videos)
    assert declared.labels == gt.labels != sorted(gt.labels)
    assert_same_gt(gt, declared)
    # Without that line either, labels are sorted names; the tubes are the same.
    lines = csv_path.read_text(encoding="utf-8").splitlines(True)
    assert lines[0].startswith("# labels:")
    csv_path.write_text("".join(lines[1:]), encoding="utf-8")
    sorted_back = import_one("csv", csv_path, root, tmp_path / "ds2",
                             test_ratio=None, test_videos=gt.test_videos)
    assert sorted_back.labels == sorted(gt.labels)
    assert_same_gt(gt, sorted_back, by_name=True)


def test_cvat_zip_export(synth, tmp_path, video0):
    """CVAT's dataset export is a zip holding annotations.xml."""
    root, gt = synth
    key = sorted(gt.videos)[0]
    xml = export_cvat(gt, tmp_path / "cvat")[0]
    assert xml.name == Path(key).name + ".xml"
    with zipfile.ZipFile(tmp_path / "task.zip", "w") as zf:
        zf.write(xml, "annotations.xml")
    from_zip = import_one("cvat", tmp_path / "task.zip", root, tmp_path / "a")
    from_xml = import_one("cvat", xml, root, tmp_path / "b")
    assert from_zip.videos == [key]
    assert_same_gt(from_xml, from_zip)
    assert from_zip.summary()["tubes"] == sum(len(t) for t in gt.gttubes[key].values())


def test_video_names_become_safe_keys(synth, tmp_path):
    """Spaces and commas would break MMAction2's CSV files: keys replace them."""
    root, gt = synth
    key = sorted(gt.videos)[0]
    src_video = next(root.rglob(Path(key).name + ".mp4"))
    (tmp_path / "videos").mkdir()
    shutil.copy(src_video, tmp_path / "videos" / "My clip, 1.mp4")
    csv_path = tmp_path / "b.csv"
    csv_path.write_text('"My clip, 1.mp4",1,a,10,10,50,90,jump\n')
    got = import_one("csv", csv_path, tmp_path / "videos", tmp_path / "ds")
    assert got.videos == ["custom/My_clip_1"]
    assert (tmp_path / "ds" / "trainval" / "custom" / "My_clip_1.mp4").is_file()


def test_split_from_ratio_is_seeded(synth, tmp_path):
    root, gt = synth
    src = export_csv(gt, tmp_path / "b.csv")
    a = import_one("csv", src, root, tmp_path / "a", test_ratio=0.4, seed=3)
    b = import_one("csv", src, root, tmp_path / "b", test_ratio=0.4, seed=3)
    assert a.test_videos == b.test_videos and len(a.test_videos) == 1
    assert sorted(a.train_videos + a.test_videos) == sorted(gt.videos)


# ---------------------------------------------------------------------------
# Tracks -> tubes
# ---------------------------------------------------------------------------
def test_cvat_frame_zero_is_multisports_frame_one(synth, tmp_path, video0):
    """Box at CVAT frame 0 -> MultiSports frame 1; sparse keyframes interpolated."""
    root, _ = synth
    name, n = video0
    track = ('<track id="0" label="wave" source="manual">'
             + box(0, 10, 20, 50, 100) + box(4, 30, 40, 70, 120)
             + box(6, 30, 40, 70, 120, outside=1) + "</track>")
    src = tmp_path / "t.xml"
    src.write_text(cvat_xml(track, name, n, label("wave") + label("march")))
    gt = import_one("cvat", src, root, tmp_path / "ds")
    assert gt.labels == ["wave", "march"]
    (video,) = gt.videos
    (tube,) = gt.gttubes[video][0]
    # frames 1..6 (CVAT 0..5: keyframes 0 and 4, held to 5, outside from 6)
    np.testing.assert_array_equal(tube[:, 0], [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(tube[0, 1:], [10, 20, 50, 100])
    np.testing.assert_allclose(tube[2, 1:], [20, 30, 60, 110])  # CVAT frame 2: halfway
    np.testing.assert_allclose(tube[4, 1:], [30, 40, 70, 120])
    np.testing.assert_allclose(tube[5, 1:], [30, 40, 70, 120])  # toward outside box


def test_cvat_open_track_holds_to_the_end(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0
    track = '<track id="3" label="wave">' + box(n - 3, 1, 2, 30, 40) + "</track>"
    src = tmp_path / "t.xml"
    src.write_text(cvat_xml(track, name, n, label("wave")))
    gt = import_one("cvat", src, root, tmp_path / "ds")
    (tube,) = gt.gttubes[gt.videos[0]][0]
    np.testing.assert_array_equal(tube[:, 0], [n - 2, n - 1, n])


def test_action_change_mid_track_gives_two_tubes(synth, tmp_path, video0):
    """A "person" track whose mutable attribute changes: two tubes, then idle."""
    root, _ = synth
    name, n = video0
    attr = ("<attribute><name>action</name><mutable>True</mutable>"
            "<input_type>select</input_type><default_value>none</default_value>"
            "<values>none\nwave\nmarch</values></attribute>")
    boxes = [box(f, 10 + f, 20, 60 + f, 120, attrs={"action": act})
             for f, act in [(0, "wave"), (5, "wave"), (9, "march"), (14, "none")]]
    boxes.append(box(19, 29, 20, 79, 120, outside=1))
    ball = '<track id="1" label="ball">' + box(0, 1, 1, 5, 5) + "</track>"
    src = tmp_path / "t.xml"
    src.write_text(cvat_xml('<track id="0" label="person">' + "".join(boxes)
                            + "</track>" + ball, name, n,
                            label("person", attr) + label("ball")))
    gt = import_one("cvat", src, root, tmp_path / "ds", action_attribute="action")
    assert gt.labels == ["wave", "march"]  # the attribute's values minus its default
    video = gt.videos[0]
    (wave,), (march,) = gt.gttubes[video][0], gt.gttubes[video][1]
    np.testing.assert_array_equal(wave[:, 0], np.arange(1, 10))  # CVAT 0..8
    np.testing.assert_array_equal(march[:, 0], np.arange(10, 15))  # CVAT 9..13
    np.testing.assert_allclose(wave[6, 1], 16)  # CVAT frame 6 between 5 and 9
    (idle,) = gt.extra["idle_tubes"][video]  # the default value: standing by
    np.testing.assert_array_equal(idle[:, 0], np.arange(15, 20))  # CVAT 14..18
    # --no-action names another value: "none" becomes an action
    gt2 = import_one("cvat", src, root, tmp_path / "ds2", action_attribute="action",
                     no_action="march")
    assert gt2.labels == ["none", "wave"]
    assert len(gt2.extra["idle_tubes"][video]) == 1
    assert gt2.gttubes[video][0][0][0, 0] == 15  # "none" from CVAT frame 14


def test_cvat_project_export_routes_tracks_by_task(synth, tmp_path):
    """A project export: several tasks in <meta>, tracks tagged with task_id."""
    root, gt = synth
    (k0, n0), (k1, n1) = [(k, int(gt.nframes[k])) for k in sorted(gt.videos)[:2]]
    tasks = "".join(
        f"<task><id>{tid}</id><name>{name}</name><size>{n}</size>"
        f"<stop_frame>{n - 1}</stop_frame><original_size><width>320</width>"
        "<height>240</height></original_size></task>"
        for tid, name, n in [(11, Path(k0).name, n0), (12, k1 + ".mp4", n1)])
    xml = (f"<annotations><version>1.1</version><meta><project><id>1</id>"
           f"<tasks>{tasks}</tasks><labels>{label('wave')}{label('march')}</labels>"
           "</project></meta>"
           '<track id="0" label="march" task_id="12">' + box(3, 1, 2, 30, 40)
           + box(5, 1, 2, 30, 40, outside=1) + "</track>"
           '<track id="1" label="wave" task_id="11">' + box(0, 1, 2, 30, 40)
           + box(1, 1, 2, 30, 40, outside=1) + "</track></annotations>")
    src = tmp_path / "project.xml"
    src.write_text(xml)
    got = import_one("cvat", src, root, tmp_path / "ds")
    assert got.videos == [k0, k1] and got.labels == ["wave", "march"]
    assert list(got.gttubes[k0]) == [0] and list(got.gttubes[k1]) == [1]
    np.testing.assert_array_equal(got.gttubes[k1][1][0][:, 0], [4, 5])


def test_idle_tracks_reach_detector_annotations(synth, tmp_path, video0):
    from stad_helpers.convert.to_coco import det_anno

    root, _ = synth
    name, n = video0
    tracks = ('<track id="0" label="wave">' + box(0, 10, 20, 50, 100)
              + box(2, 10, 20, 50, 100, outside=1) + "</track>"
              '<track id="1" label="no action">' + box(0, 200, 20, 250, 100)
              + box(4, 200, 20, 250, 100, outside=1) + "</track>")
    src = tmp_path / "t.xml"
    src.write_text(cvat_xml(tracks, name, n, label("wave") + label("no action")))
    gt = import_one("cvat", src, root, tmp_path / "ds")
    video = gt.videos[0]
    assert gt.labels == ["wave"] and len(gt.gttubes[video][0]) == 1
    (idle,) = gt.extra["idle_tubes"][video]
    assert len(idle) == 4
    out = det_anno(tmp_path / "ds" / "annotations" / "multisports_GT.pkl",
                   tmp_path / "det.json")
    coco = json.loads(Path(out["train"]).read_text())
    boxes = sorted(a["bbox"] for a in coco["annotations"])
    assert len(boxes) == 2 + 4  # the action tube's boxes and the idle person's
    assert boxes.count([200.0, 20.0, 50.0, 80.0]) == 4


def test_label_studio_lifespan_and_interpolation(synth, tmp_path, video0):
    """1-based frames, percent boxes; a disabled keyframe ends the lifespan after it."""
    root, _ = synth
    name, n = video0

    def key(frame, x, enabled=True):
        return {"frame": frame, "enabled": enabled, "rotation": 0, "x": x, "y": 10,
                "width": 25, "height": 50, "time": frame / 25}

    region = {"id": "abc", "type": "videorectangle", "from_name": "box",
              "to_name": "video",
              "value": {"framesCount": n, "labels": ["wave"],
                        "sequence": [key(1, 0), key(5, 10, enabled=False),
                                     key(10, 50)]}}
    idle = {"id": "xyz", "type": "videorectangle",
            "value": {"labels": [], "sequence": [key(2, 60, enabled=False)]}}
    task = {"id": 1, "data": {"video": f"/data/upload/3/0a1b2c3d-{name}"},
            "annotations": [{"was_cancelled": True, "result": []},
                            {"result": [region, idle]}]}
    src = tmp_path / "ls.json"
    src.write_text(json.dumps([task]))
    gt = import_one("label-studio", src, root, tmp_path / "ds")
    video = gt.videos[0]
    first, second = gt.gttubes[video][0]
    np.testing.assert_array_equal(first[:, 0], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(first[:, 1], np.array([0, 2.5, 5, 7.5, 10]) * 3.2)
    np.testing.assert_allclose(first[0, 1:], [0, 24, 80, 144])  # % of 320x240
    np.testing.assert_array_equal(second[:, 0], np.arange(10, n + 1))  # held to end
    (idle_tube,) = gt.extra["idle_tubes"][video]
    np.testing.assert_array_equal(idle_tube[:, 0], [2])

    # A frame count that the video's rate does not explain: another video.
    region["value"]["framesCount"] = round(n * 24 / 25) - 3
    src.write_text(json.dumps([task]))
    with pytest.raises(StadError, match=f"counted {region['value']['framesCount']} "
                                        "frames at 25 fps.*"
                                        r"\(wrong video\?\)"):
        import_one("label-studio", src, root, tmp_path / "ds2")


def test_csv_header_sets_frame_numbering(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0
    src = tmp_path / "b.csv"
    src.write_text("video,frame0,track_id,x1,y1,x2,y2,action\n"
                   f"{name},0,p1,10,10,50,90,wave\n"
                   f"{name},4,p1,30,10,70,90,wave\n"
                   f"{name},0,p2,100,10,150,90,\n")
    gt = import_one("csv", src, root, tmp_path / "ds")
    video = gt.videos[0]
    (tube,) = gt.gttubes[video][0]
    np.testing.assert_array_equal(tube[:, 0], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(tube[:, 1], [10, 15, 20, 25, 30])
    (idle,) = gt.extra["idle_tubes"][video]
    np.testing.assert_array_equal(idle[:, 0], [1])
    # The same rows without a header: a frame 0 shows they count from 0.
    src.write_text("".join(src.read_text().splitlines(True)[1:]))
    notes: list[str] = []
    gt0 = import_one("csv", src, root, tmp_path / "ds0", notes=notes)
    np.testing.assert_array_equal(gt0.gttubes[video][0][0][:, 0], [1, 2, 3, 4, 5])
    assert any("frames counted from 0 (detected" in n for n in notes)
    # Declared 1-based, frame 0 is not in the video.
    with pytest.raises(StadError, match="track p1, frame 0: not in the video"):
        import_one("csv", src, root, tmp_path / "ds1", frame_base=1)
    src.write_text(f"{name},1,p1,10,10,50,90,wave\n{name},5,p1,30,10,70,90,wave\n")
    gt1 = import_one("csv", src, root, tmp_path / "ds3")
    np.testing.assert_array_equal(gt1.gttubes[video][0][0][:, 0], [1, 2, 3, 4, 5])


# ---------------------------------------------------------------------------
# Hostile and broken input
# ---------------------------------------------------------------------------
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotations><meta><task><name>&lol9;</name></task></meta></annotations>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE annotations [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<annotations><meta><task><name>&secret;</name></task></meta></annotations>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY],
                         ids=["entity-expansion", "external-entity"])
def test_malicious_xml_is_refused_quickly(tmp_path, text):
    src = tmp_path / "evil.xml"
    src.write_text(text)
    start = time.perf_counter()
    with pytest.raises(StadError, match="refused") as err:
        read_cvat(src)
    assert time.perf_counter() - start < 1.0
    assert "evil.xml" in str(err.value) and "root:" not in str(err.value)


def test_not_a_cvat_file(tmp_path):
    (tmp_path / "a.xml").write_text("<html><body/></html>")
    with pytest.raises(StadError, match="not a CVAT XML"):
        read_cvat(tmp_path / "a.xml")
    (tmp_path / "b.xml").write_text("<annotations><track id='0'")
    with pytest.raises(StadError, match="not well-formed"):
        read_cvat(tmp_path / "b.xml")


def test_bad_boxes_are_named_errors(synth, tmp_path, video0):
    """Beyond the video, wholly outside the frame, empty: file, track and frame."""
    root, _ = synth
    name, n = video0
    tracks = ('<track id="11" label="wave">' + box(n + 5, 1, 1, 9, 9) + "</track>"
              '<track id="12" label="wave">' + box(3, 400, 10, 450, 90) + "</track>"
              '<track id="13" label="wave">' + box(2, 50, 10, 40, 90) + "</track>"
              '<track id="14" label="wave">' + box(1, -20, -5, 30, 90)
              + box(2, 0, 0, 1, 1, outside=1) + "</track>")
    src = tmp_path / "bad.xml"
    src.write_text(cvat_xml(tracks, name, n, label("wave")))
    with pytest.raises(StadError) as err:
        import_one("cvat", src, root, tmp_path / "ds")
    msg = str(err.value)
    assert "3 problem(s)" in msg
    assert f"track 11, frame {n + 5}: not in the video" in msg
    assert f"numbered 0..{n - 1}" in msg  # CVAT's own numbering in the message
    assert "track 12, frame 3" in msg and "wholly outside" in msg
    assert "track 13, frame 2: empty box" in msg
    assert msg.count("bad.xml") == 3
    assert not (tmp_path / "ds").exists()

    # a box partly outside the frame is clipped to it
    partly_out = ('<track id="14" label="wave">' + box(1, -20, -5, 330, 90)
                  + box(2, 0, 0, 1, 1, outside=1) + "</track>")
    src.write_text(cvat_xml(partly_out, name, n, label("wave")))
    gt = import_one("cvat", src, root, tmp_path / "ds")
    np.testing.assert_allclose(gt.gttubes[gt.videos[0]][0][0][0, 1:], [0, 0, 320, 90])


def test_unmatched_and_wrong_size_videos(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0
    track = '<track id="0" label="wave">' + box(0, 1, 1, 9, 9) + "</track>"
    src = tmp_path / "t.xml"
    src.write_text(cvat_xml(track, "nowhere.mp4", n, label("wave")))
    with pytest.raises(StadError, match="no video in .* matches 'nowhere.mp4'"):
        import_one("cvat", src, root, tmp_path / "ds")
    src.write_text(cvat_xml(track, name, n, label("wave"), size=(640, 480)))
    with pytest.raises(StadError, match="640x480 video, but .* is 320x240"):
        import_one("cvat", src, root, tmp_path / "ds")


def test_nothing_half_written(synth, tmp_path, monkeypatch):
    root, gt = synth
    src = export_csv(gt, tmp_path / "b.csv")
    out = tmp_path / "out" / "ds"
    calls = []

    def failing(src_path, dst, info):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        shutil.copy2(src_path, dst.parent.mkdir(parents=True, exist_ok=True) or dst)

    monkeypatch.setattr(importer_module, "place_video", failing)
    with pytest.raises(OSError, match="disk full"):
        import_annotations("csv", [src], root, out, progress=False)
    assert len(calls) == 2
    assert list((tmp_path / "out").iterdir()) == []  # no OUT, no temp folder

    # an existing dataset is neither touched nor half-replaced
    monkeypatch.undo()
    import_annotations("csv", [src], root, out, progress=False)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(StadError, match="not empty"):
        import_annotations("csv", [src], root, out, progress=False)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    import_annotations("csv", [src], root, out, overwrite=True, progress=False,
                       test_ratio=0.5)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ds"]


# ---------------------------------------------------------------------------
# Pre-annotation: demo predictions -> CVAT -> corrected import
# ---------------------------------------------------------------------------
def test_predictions_become_linked_cvat_tracks(synth, tmp_path, video0):
    root, gt = synth
    key = sorted(gt.videos)[0]
    video = root / "trainval" / f"{key}.mp4"
    if not video.exists():
        video = root / "test" / f"{key}.mp4"
    n = int(gt.nframes[key])
    frames = []
    for f in range(1, n + 1, 4):  # predicted every 4th frame, two people
        b = 2 if f > n // 2 else 0  # "march", else "wave"
        frames.append({"frame": f, "keyframe": f, "detections": [
            {"box": [200 - f, 30, 260 - f, 150], "labels": [1, 0],
             "scores": [0.8, 0.3]},
            {"box": [10 + f, 20, 60 + f, 140], "labels": [b], "scores": [0.6]}]})
    demo = tmp_path / "demo.json"
    demo.write_text(json.dumps({"video": str(video), "classes": {
        "0": "wave", "1": "jump", "2": "march"}, "frames": frames}))
    xml = export_cvat_predictions(demo, video, tmp_path / "pre")
    assert xml.read_text().count("<track ") == 2  # linked, not one per box
    back = import_one("cvat", xml, root, tmp_path / "ds", action_attribute="action")
    assert back.labels == ["wave", "jump", "march"]
    tubes = back.gttubes[back.videos[0]]
    last = frames[-1]["frame"]
    change = next(f["frame"] for f in frames if f["frame"] > n // 2)
    (jump,) = tubes[1]  # person 1: best label "jump" (0.8 > 0.3) throughout
    np.testing.assert_array_equal(jump[:, 0], np.arange(1, last + 1))
    np.testing.assert_allclose(jump[2, 1:], [197, 30, 257, 150])  # interpolated
    (wave,), (march,) = tubes[0], tubes[2]  # person 2 changes action mid-track
    np.testing.assert_array_equal(wave[:, 0], np.arange(1, change))
    np.testing.assert_array_equal(march[:, 0], np.arange(change, last + 1))


def test_demo_json_one_record_per_keyframe(synth, tmp_path):
    """`stad demo`'s JSON repeats each clip's boxes on every output frame."""
    root, gt = synth
    key = sorted(gt.videos)[0]
    video = next(root.rglob(Path(key).name + ".mp4"))
    records = []
    for f in range(1, 25):  # clips of 8 frames, keyframes 4, 12, 20
        k = (f - 1) // 8 * 8 + 4
        dets = [{"box": [10 + k, 20, 50 + k, 100], "person_score": 0.99,
                 "labels": [2], "names": ["wave"], "scores": [0.7]},
                {"box": [200, 20, 240, 100], "person_score": 0.9, "labels": [],
                 "names": [], "scores": []}]
        records.append({"frame": f, "keyframe": k, "detections": dets})
    demo = tmp_path / "demo.json"
    demo.write_text(json.dumps({"video": str(video), "frames": records,
                                "classes": {"0": "jump", "1": "march",
                                            "2": "wave"}}))
    xml = export_cvat_predictions(demo, video, tmp_path / "pre")
    text = xml.read_text()
    assert text.count("<track ") == 2
    assert text.count('frame="3"') == 2 and text.count('frame="11"') == 2
    back = import_one("cvat", xml, root, tmp_path / "ds", action_attribute="action")
    assert back.labels == ["jump", "march", "wave"]
    (wave,) = back.gttubes[key][2]
    np.testing.assert_array_equal(wave[:, 0], np.arange(4, 21))
    np.testing.assert_allclose(wave[4, 1:], [18, 20, 58, 100])  # frame 8: 4/8 of way
    (idle,) = back.extra["idle_tubes"][key]
    np.testing.assert_array_equal(idle[:, 0], np.arange(4, 21))


def test_cli_import_export(synth, tmp_path, capsys):
    root, gt = synth
    gt_path = root / "annotations" / "multisports_GT.pkl"
    assert cli(["data", "export", "cvat", str(gt_path), str(tmp_path / "x")]) == 0
    assert cli(["data", "export", "label-studio", str(gt_path),
                str(tmp_path / "ls")]) == 0
    assert cli(["data", "export", "csv", str(gt_path), str(tmp_path / "b.csv")]) == 0
    out = tmp_path / "ds"
    rc = cli(["data", "import", "cvat", str(tmp_path / "x"), "--videos", str(root),
              str(out), "--test-videos", ",".join(gt.test_videos)])
    assert rc == 0
    assert_same_gt(gt, MultiSportsGT.load(out / "annotations" / "multisports_GT.pkl"))
    assert "idle_tubes" in capsys.readouterr().out
    rc = cli(["data", "import", "csv", str(tmp_path / "b.csv"), str(out),
              "--videos", str(root)])
    assert rc == 1  # OUT exists
    assert "not empty" in capsys.readouterr().err

    # pre-annotation: demo predictions -> CVAT task
    key = sorted(gt.videos)[0]
    video = out / "trainval" / f"{key}.mp4"
    demo = tmp_path / "demo.json"
    demo.write_text(json.dumps({"classes": {"0": "wave"}, "frames": [
        {"frame": f, "keyframe": f, "detections": [
            {"box": [10, 10, 50, 90], "labels": [0], "scores": [0.9]}]}
        for f in (1, 5, 9)]}))
    rc = cli(["data", "export", "cvat", "--from-predictions", str(demo), str(video),
              str(tmp_path / "pre")])
    assert rc == 0
    xml = (tmp_path / "pre" / f"{video.stem}.xml").read_text()
    assert xml.count("<track ") == 1 and xml.count('keyframe="1"') == 4
    assert '<attribute name="action">wave</attribute>' in xml


@pytest.mark.parametrize("argv", [["data", "import", "--help"],
                                  ["data", "export", "cvat", "--help"],
                                  ["data", "export", "label-studio", "--help"],
                                  ["data", "export", "csv", "--help"]])
def test_cli_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(argv)
    assert exit_info.value.code == 0
    assert "usage: stad data" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# One video in several sources (issue 10, item 3)
# ---------------------------------------------------------------------------
def _person_track(tid: int, frames: range, x: float = 10, label_: str = "wave",
                  close: bool = True) -> str:
    boxes = [box(f, x + f, 20, x + 40 + f, 100) for f in frames]
    if close:
        f = frames[-1] + 1
        boxes.append(box(f, x + f, 20, x + 40 + f, 100, outside=1))
    return f'<track id="{tid}" label="{label_}">' + "".join(boxes) + "</track>"


def test_same_file_twice_is_read_once(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0
    src = tmp_path / "a.xml"
    src.write_text(cvat_xml(_person_track(0, range(0, 10, 3)), name, n, label("wave")))
    notes: list[str] = []
    gt = MultiSportsGT.load(import_annotations(
        "cvat", [src, src], root, tmp_path / "ds", test_ratio=0.0, progress=False,
        notes=notes))
    assert len(gt.gttubes[gt.videos[0]][0]) == 1
    assert any(n.startswith("warning:") and "given twice" in n for n in notes)


def test_identical_copies_are_merged_with_a_warning(synth, tmp_path, video0):
    """Two files (two annotators who agree, or a copy): each tube once, both named."""
    root, _ = synth
    name, n = video0
    tracks = _person_track(0, range(0, 10, 3)) + _person_track(1, range(5, 20, 5), 150)
    for f in ("a.xml", "b.xml"):
        (tmp_path / f).write_text(cvat_xml(tracks, name, n, label("wave")))
    notes: list[str] = []
    gt = MultiSportsGT.load(import_annotations(
        "cvat", [tmp_path / "a.xml", tmp_path / "b.xml"], root, tmp_path / "ds",
        test_ratio=0.0, progress=False, notes=notes))
    once = import_one("cvat", tmp_path / "a.xml", root, tmp_path / "once")
    assert_same_gt(once, gt)  # 2 tubes, not 4
    (warning,) = [n for n in notes if "identical" in n]
    assert warning.startswith("warning:") and "2 tube(s)" in warning
    assert "a.xml" in warning and "b.xml" in warning
    # without `notes`, the warning is issued, not swallowed
    with pytest.warns(UserWarning, match="identical"):
        import_annotations("cvat", [tmp_path / "a.xml", tmp_path / "b.xml"], root,
                           tmp_path / "ds2", test_ratio=0.0, progress=False)


def test_conflicting_annotations_of_a_video_are_an_error(synth, tmp_path, video0):
    """Two Label Studio tasks on one video: the same person, other boxes or action."""
    root, _ = synth
    name, n = video0

    def task(tid, x, action):
        seq = [{"frame": f, "enabled": f < 9, "x": x + f, "y": 10, "width": 20,
                "height": 40} for f in (1, 5, 9)]
        region = {"id": f"r{tid}", "type": "videorectangle",
                  "value": {"framesCount": n, "labels": [action], "sequence": seq}}
        return {"id": tid, "data": {"video": name},
                "annotations": [{"result": [region]}]}

    src = tmp_path / "ls.json"
    src.write_text(json.dumps([task(1, 10, "wave"), task(2, 12, "wave")]))
    with pytest.raises(StadError) as err:
        import_one("label-studio", src, root, tmp_path / "ds")
    msg = str(err.value)
    assert "1 conflict(s)" in msg and "frames 1..9" in msg
    assert f"video 'custom/{Path(name).stem}'" in msg or Path(name).stem in msg
    assert "task 1" in msg and "task 2" in msg and "px apart" in msg
    assert not (tmp_path / "ds").exists()
    src.write_text(json.dumps([task(1, 10, "wave"), task(2, 10, "march")]))
    with pytest.raises(StadError, match="labelled 'wave' in one and 'march'"):
        import_one("label-studio", src, root, tmp_path / "ds")
    # other people on the same video (boxes far apart) are simply both kept
    src.write_text(json.dumps([task(1, 10, "wave"), task(2, 60, "march")]))
    gt = import_one("label-studio", src, root, tmp_path / "ds")
    assert [len(v) for v in gt.gttubes[gt.videos[0]].values()] == [1, 1]


def test_validate_warns_about_duplicate_tubes(synth):
    from stad_helpers.data.validate import validate_gt

    _, gt = synth
    raw = gt.to_dict()
    video = gt.videos[0]
    label_, tubes = next(iter(gt.gttubes[video].items()))
    assert not [p for p in validate_gt(raw) if "duplicate" in p.message]
    near = tubes[0].copy()
    near[:, 1:] += 0.5  # within the tolerance
    far = tubes[0].copy()
    far[:, 1:] += 5
    raw["gttubes"] = {**raw["gttubes"], video: {**raw["gttubes"][video],
                                                label_: [*tubes, near, far]}}
    dup = [p for p in validate_gt(raw) if "duplicate" in p.message]
    assert len(dup) == 1 and dup[0].severity == "warning"
    assert f"tube {len(tubes)}" in dup[0].where and "as tube 0" in dup[0].message


# ---------------------------------------------------------------------------
# Ranges an export declares (issue 10, item 4)
# ---------------------------------------------------------------------------
def job_xml(tracks: str, source: str, job_id: int, start: int, stop: int,
            labels: str) -> str:
    """A CVAT 2.x per-job export: <job> meta with video frame numbers."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version><meta>
  <job><id>{job_id}</id><size>{stop - start + 1}</size><mode>interpolation</mode>
    <overlap>5</overlap><start_frame>{start}</start_frame>
    <stop_frame>{stop}</stop_frame><frame_filter></frame_filter>
    <labels>{labels}</labels></job>
  <original_size><width>320</width><height>240</height></original_size>
  <source>{source}</source></meta>
{tracks}
</annotations>
"""


def test_cvat_open_track_ends_at_the_task_stop_frame(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0
    xml = cvat_xml(_person_track(0, range(10, 13), close=False), name, n,
                   label("wave")).replace(f"<stop_frame>{n - 1}</stop_frame>",
                                          "<stop_frame>19</stop_frame>")
    (tmp_path / "t.xml").write_text(xml)
    gt = import_one("cvat", tmp_path / "t.xml", root, tmp_path / "ds")
    (tube,) = gt.gttubes[gt.videos[0]][0]
    np.testing.assert_array_equal(tube[:, 0], np.arange(11, 21))  # CVAT 10..19


def test_cvat_frame_step_interpolates_and_stops_at_the_task_end(synth, tmp_path,
                                                                 video0):
    root, _ = synth
    name, n = video0
    xml = (cvat_xml(_person_track(0, range(0, 9, 4), close=False), name, n,
                    label("wave"))
           .replace(f"<stop_frame>{n - 1}</stop_frame>", "<stop_frame>16</stop_frame>"
                    "<frame_filter>step=4</frame_filter>"))
    (tmp_path / "t.xml").write_text(xml)
    notes: list[str] = []
    gt = import_one("cvat", tmp_path / "t.xml", root, tmp_path / "ds", notes=notes)
    (tube,) = gt.gttubes[gt.videos[0]][0]
    np.testing.assert_array_equal(tube[:, 0], np.arange(1, 18))  # CVAT 0..16
    np.testing.assert_allclose(tube[2, 1], 12)  # CVAT frame 2: between 0 and 4
    assert any("frame step 4" in x for x in notes)


def test_cvat_job_exports_join_without_doubles(synth, tmp_path, video0):
    """Jobs 0..24 and 20..39 overlap; the track crossing them is one tube."""
    root, _ = synth
    name, n = video0
    labels = label("wave")
    # job 1: the person from CVAT frame 2, never closed (ends at the job's end);
    # a second person only in job 1, closed at 8
    job1 = (_person_track(0, range(2, 25, 2), close=False)
            + _person_track(1, range(0, 8, 7), x=200))
    # job 2: the same person, boxes 2 px off in the overlap, closed at 31
    job2 = _person_track(5, range(20, 31, 2), x=12)
    (tmp_path / "job1.xml").write_text(job_xml(job1, name, 11, 0, 24, labels))
    (tmp_path / "job2.xml").write_text(job_xml(job2, name, 12, 20, n - 1, labels))
    notes: list[str] = []
    gt = MultiSportsGT.load(import_annotations(
        "cvat", [tmp_path], root, tmp_path / "ds", test_ratio=0.0, progress=False,
        notes=notes))
    tubes = sorted(gt.gttubes[gt.videos[0]][0], key=len)
    assert [len(t) for t in tubes] == [8, 29]
    long = tubes[1]
    np.testing.assert_array_equal(long[:, 0], np.arange(3, 32))  # CVAT 2..30
    np.testing.assert_allclose(long[22, 1], 10 + 24)  # overlap: job 1's boxes
    np.testing.assert_allclose(long[-1, 1], 12 + 30)  # job 2 past job 1's end
    assert any("job segments" in x and not x.startswith("warning") for x in notes)
    # Job 1 alone: its open track ends at the job's stop frame, not the video's.
    one = import_one("cvat", tmp_path / "job1.xml", root, tmp_path / "one")
    assert max(len(t) for t in one.gttubes[one.videos[0]][0]) == 23  # CVAT 2..24


def test_cvat_jobs_without_overlap_join_at_the_boundary(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0
    labels = label("wave")
    job1 = _person_track(0, range(2, 20, 2), close=False)  # held to 19
    job2 = _person_track(3, range(20, 31, 2), x=11) + _person_track(4, range(20, 24),
                                                                     x=200)
    (tmp_path / "job1.xml").write_text(job_xml(job1, name, 1, 0, 19, labels))
    (tmp_path / "job2.xml").write_text(job_xml(job2, name, 2, 20, n - 1, labels))
    gt = import_one("cvat", tmp_path, root, tmp_path / "ds")
    spans = sorted((t[0, 0], t[-1, 0]) for t in gt.gttubes[gt.videos[0]][0])
    assert spans == [(3, 31), (21, 24)]  # one person across the boundary, one new


def test_cvat_tasks_on_consecutive_ranges_join(synth, tmp_path, video0):
    """A long video split into two tasks (frames 0..19, 20..end): one person, once."""
    root, _ = synth
    name, n = video0
    first = cvat_xml(_person_track(0, range(2, 20, 2), close=False), name, n,
                     label("wave")).replace(f"<stop_frame>{n - 1}</stop_frame>",
                                            "<stop_frame>19</stop_frame>")
    second = cvat_xml(_person_track(0, range(20, 31, 2), x=11), name, n,
                      label("wave")).replace("<start_frame>0</start_frame>",
                                             "<start_frame>20</start_frame>")
    (tmp_path / "a.xml").write_text(first)
    (tmp_path / "b.xml").write_text(second)
    notes: list[str] = []
    gt = import_one("cvat", tmp_path, root, tmp_path / "ds", notes=notes)
    (tube,) = gt.gttubes[gt.videos[0]][0]
    np.testing.assert_array_equal(tube[:, 0], np.arange(3, 32))
    assert any("consecutive task ranges" in x and not x.startswith("warning")
               for x in notes)


def test_cvat_project_export_frame_offsets_undone(synth, tmp_path):
    """CVAT 2.x numbers a project's second task's frames after the first task's."""
    root, gt = synth
    (k0, n0), (k1, n1) = [(k, int(gt.nframes[k])) for k in sorted(gt.videos)[:2]]
    tasks = "".join(
        f"<task><id>{tid}</id><name>{Path(k).name}</name><size>{n}</size>"
        f"<start_frame>0</start_frame><stop_frame>{n - 1}</stop_frame>"
        "<subset>default</subset><original_size><width>320</width>"
        "<height>240</height></original_size></task>"
        for tid, k, n in [(11, k0, n0), (12, k1, n1)])
    xml = (f"<annotations><version>1.1</version><meta><project><id>1</id>"
           f"<tasks>{tasks}</tasks><labels>{label('wave')}</labels></project></meta>"
           '<track id="0" label="wave" task_id="12">' + box(n0 + 3, 1, 2, 30, 40)
           + box(n0 + 5, 1, 2, 30, 40, outside=1) + "</track></annotations>")
    (tmp_path / "p.xml").write_text(xml)
    notes: list[str] = []
    got = import_one("cvat", tmp_path / "p.xml", root, tmp_path / "ds", notes=notes)
    np.testing.assert_array_equal(got.gttubes[k1][0][0][:, 0], [4, 5])
    assert any(f"shifted back by {n0}" in x for x in notes)


def test_label_studio_open_region_ends_at_frames_count(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0
    seq = [{"frame": n - 6, "enabled": True, "x": 10, "y": 10, "width": 20,
            "height": 40}]
    region = {"id": "r", "type": "videorectangle",
              "value": {"framesCount": n - 1, "labels": ["wave"], "sequence": seq}}
    (tmp_path / "ls.json").write_text(json.dumps(
        [{"id": 1, "data": {"video": name}, "annotations": [{"result": [region]}]}]))
    gt = import_one("label-studio", tmp_path / "ls.json", root, tmp_path / "ds")
    (tube,) = gt.gttubes[gt.videos[0]][0]
    np.testing.assert_array_equal(tube[:, 0], np.arange(n - 6, n))  # not to n


# ---------------------------------------------------------------------------
# Label ids (issue 10, item 6)
# ---------------------------------------------------------------------------
def test_label_ids_survive_cvat_to_csv_to_label_studio(synth, tmp_path):
    root, gt = synth
    assert gt.labels != sorted(gt.labels)
    export_cvat(gt, tmp_path / "cvat")
    a = import_one("cvat", tmp_path / "cvat", root, tmp_path / "a", test_ratio=None,
                   test_videos=gt.test_videos)
    b = import_one("csv", export_csv(a, tmp_path / "a.csv"), root, tmp_path / "b",
                   test_ratio=None, test_videos=gt.test_videos)
    assert a.labels == b.labels == gt.labels
    assert_same_gt(gt, b)
    tasks = export_label_studio(b, tmp_path / "ls")
    notes: list[str] = []
    c = import_one("label-studio", tasks, root, tmp_path / "c", test_ratio=None,
                   test_videos=gt.test_videos, notes=notes,
                   labels=tmp_path / "ls" / "label_config.xml")
    assert c.labels == gt.labels
    assert_same_gt(gt, c, tol=LS_TOL)
    assert any(x.startswith("label ids as listed in") for x in notes)
    # cvat_labels.json declares them too
    d = import_one("csv", tmp_path / "a.csv", root, tmp_path / "d",
                   labels=tmp_path / "cvat" / "cvat_labels.json")
    assert d.labels == gt.labels


# ---------------------------------------------------------------------------
# CSV as people write it (issue 10, item 7)
# ---------------------------------------------------------------------------
def test_csv_written_by_hand(synth, tmp_path, video0):
    """31.0 frames, ';' with decimal commas, an empty action cell, notes."""
    root, _ = synth
    name, n = video0
    src = tmp_path / "b.csv"
    src.write_text(f"{name};1.0;p1;10,5;10;50;90;wave\n"
                   f"{name};5.0;p1;30,5;10;70;90;wave\n"
                   f"{name};2;p2;100;10;150;90;\n"
                   f"{name};3;p2;100;10;150;90;\n")
    notes: list[str] = []
    gt = import_one("csv", src, root, tmp_path / "ds", notes=notes)
    video = gt.videos[0]
    (tube,) = gt.gttubes[video][0]
    np.testing.assert_array_equal(tube[:, 0], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(tube[[0, 4], 1], [10.5, 30.5])
    assert len(gt.extra["idle_tubes"][video]) == 1
    assert any("';'-separated" in x and "decimal commas" in x for x in notes)
    (empty,) = [x for x in notes if "empty action" in x]
    assert empty.startswith("warning:") and "2 row(s)" in empty and "line 3, 4" in empty
    (base,) = [x for x in notes if "frames counted from" in x]
    assert base.startswith("warning:") and "counted from 1 (assumed" in base
    src.write_text(f"{name},31.5,p1,10,10,50,90,wave\n")
    with pytest.raises(StadError, match="line 1: frame '31.5' is not a whole number"):
        import_one("csv", src, root, tmp_path / "ds2")


def test_csv_track_id_reused_after_a_long_gap(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0
    src = tmp_path / "b.csv"
    src.write_text("video,frame1,track_id,x1,y1,x2,y2,action\n"
                   + "".join(f"{name},{f},p1,10,10,50,90,wave\n"
                             for f in (1, 3, 5, 30, 32)))
    notes: list[str] = []
    gt = import_one("csv", src, root, tmp_path / "ds", notes=notes, max_gap=20)
    tubes = gt.gttubes[gt.videos[0]][0]
    assert [(t[0, 0], t[-1, 0]) for t in tubes] == [(1, 5), (30, 32)]
    assert any("reused after more than 20 frames" in x and "after frame 5" in x
               for x in notes)
    # a larger limit interpolates across the gap, as before
    gt2 = import_one("csv", src, root, tmp_path / "ds2", max_gap=24)
    (tube,) = gt2.gttubes[gt2.videos[0]][0]
    assert len(tube) == 32


# ---------------------------------------------------------------------------
# The pre-annotation loop closes without flags (issue 10, items 8 and 5)
# ---------------------------------------------------------------------------
def _demo_json(path: Path, video: Path, n: int, **head) -> Path:
    """The JSON `stad demo` writes: one person doing "march", every 4th frame."""
    frames = [{"frame": f, "keyframe": f, "detections": [
        {"box": [10 + f, 20, 60 + f, 140], "labels": [1], "scores": [0.9]}]}
        for f in range(1, n + 1, 4)]
    path.write_text(json.dumps({"video": str(video), **head,
                                "classes": {"0": "wave", "1": "march"},
                                "frames": frames}))
    return path


def test_prediction_export_imports_back_without_flags(synth, tmp_path):
    root, gt = synth
    key = sorted(gt.videos)[0]
    video = next(root.rglob(Path(key).name + ".mp4"))
    n = int(gt.nframes[key])
    xml = export_cvat_predictions(_demo_json(tmp_path / "d.json", video, n), video,
                                  tmp_path / "pre")
    notes: list[str] = []
    back = import_one("cvat", xml, root, tmp_path / "ds", notes=notes)
    assert back.labels == ["wave", "march"]  # not ["person"]
    (march,) = back.gttubes[key][1]
    assert march[0, 0] == 1
    assert any("the attribute 'action'" in x for x in notes)


def test_cvat_action_attribute_found_in_every_file(synth, tmp_path):
    """`export_cvat(action_attribute=...)` files import back without the flag."""
    root, gt = synth
    export_cvat(gt, tmp_path / "cvat", action_attribute="action")
    notes: list[str] = []
    back = import_one("cvat", tmp_path / "cvat", root, tmp_path / "ds", notes=notes,
                      test_ratio=None, test_videos=gt.test_videos)
    assert_same_gt(gt, back)
    (found,) = [x for x in notes if "the attribute 'action'" in x]
    assert found.endswith(f"({len(gt.videos)} files)")


def test_predictions_of_another_video_are_refused(synth, tmp_path):
    root, gt = synth
    k0, k1 = sorted(gt.videos)[:2]
    v0 = next(root.rglob(Path(k0).name + ".mp4"))
    v1 = next(root.rglob(Path(k1).name + ".mp4"))
    n = int(gt.nframes[k0])
    out = tmp_path / "pre"
    cases = [(_demo_json(tmp_path / "a.json", v1, n), "are of video"),
             (_demo_json(tmp_path / "b.json", v0, n, width=640, height=480),
              "640x480 video, but .* is 320x240"),
             (_demo_json(tmp_path / "c.json", v0, n, nframes=n + 7),
              f"{n + 7} frames, but .* has {n}")]
    for demo, match in cases:
        with pytest.raises(StadError, match=match) as err:
            export_cvat_predictions(demo, v0, out)
        assert str(demo) in str(err.value) and str(v0) in str(err.value)
        assert not out.exists()


def test_label_studio_several_annotations(synth, tmp_path, video0):
    root, _ = synth
    name, n = video0

    def annotation(who, when, action):
        seq = [{"frame": 1, "enabled": True, "x": 10, "y": 10, "width": 20,
                "height": 40}]
        return {"completed_by": who, "updated_at": when, "result": [
            {"id": "r", "type": "videorectangle",
             "value": {"framesCount": n, "labels": [action], "sequence": seq}}]}

    task = {"id": 7, "data": {"video": name}, "annotations": [
        annotation({"id": 2, "email": "bob@x.org"}, "2024-05-02T10:00:00Z", "march"),
        annotation({"id": 1, "email": "ann@x.org"}, "2024-05-01T10:00:00Z", "wave")]}
    src = tmp_path / "ls.json"
    src.write_text(json.dumps([task]))
    notes: list[str] = []
    latest = import_one("label-studio", src, root, tmp_path / "a", notes=notes)
    assert latest.labels == ["march"]
    assert any("annotated several times" in x and "bob@x.org" in x for x in notes)
    chosen = import_one("label-studio", src, root, tmp_path / "b",
                        annotator="ANN@x.org")
    assert chosen.labels == ["wave"]
    with pytest.raises(StadError, match="no annotation by annotator 'carol'.*"
                       "annotators present: ann@x.org, bob@x.org"):
        import_one("label-studio", src, root, tmp_path / "c", annotator="carol")


def test_cli_import_options_and_summary(synth, tmp_path, capsys, video0):
    root, _ = synth
    name, n = video0
    src = tmp_path / "b.csv"
    src.write_text("".join(f"{name},{f},p1,10,10,50,90,wave\n" for f in (0, 2, 30)))
    rc = cli(["data", "import", "csv", str(src), str(tmp_path / "ds"), "--videos",
              str(root), "--max-gap", "5"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "frames counted from 0 (detected" in out
    assert "reused after more than 5 frames" in out
    assert "label ids sorted" in out
    assert "--max-gap" in cli_help(["data", "import", "--help"], capsys)


def cli_help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit):
        cli(argv)
    return capsys.readouterr().out
