"""Import mistakes said clearly (issue 14 follow-up): misspelt options, empty
splits, a labels path that does not exist, an unknown annotator, a single label
whose attribute holds the action, an output inside the videos folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _odd_videos import grey_clip, rotated_clip

from stad_helpers.annotations import import_annotations
from stad_helpers.cli import main as cli
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.errors import StadError

N = 20  # frames of each test video (160x120)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Two grey 160x120 clips of N frames: a.mp4, b.mp4."""
    root = tmp_path_factory.mktemp("videos")
    for name in ("a", "b"):
        grey_clip(root / f"{name}.mp4", nframes=N)
    return root


def _attribute(name: str, values: list[str], default: str) -> str:
    return (f"<attribute><name>{name}</name><mutable>True</mutable>"
            "<input_type>select</input_type>"
            f"<default_value>{default}</default_value>"
            f"<values>{chr(10).join(values)}</values></attribute>")


def _cvat(path: Path, video: str, labels: str, tracks: str,
          size: tuple[int, int] = (160, 120)) -> Path:
    """A one-task CVAT-for-video 1.1 file of `video` (`size` (w, h), N frames)."""
    path.write_text(f"""<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version><meta><task><id>1</id><name>t</name>
<size>{N}</size><mode>interpolation</mode><start_frame>0</start_frame>
<stop_frame>{N - 1}</stop_frame><labels>{labels}</labels>
<original_size><width>{size[0]}</width><height>{size[1]}</height></original_size></task>
<source>{video}</source></meta>
{tracks}
</annotations>
""")
    return path


def _track(tid: int, label: str, activity: str | None) -> str:
    attr = ("" if activity is None else
            f'<attribute name="activity">{activity}</attribute>')
    boxes = "".join(f'<box frame="{f}" keyframe="1" outside="0" occluded="0" '
                    f'xtl="10" ytl="10" xbr="50" ybr="90" z_order="0">{attr}</box>'
                    for f in (0, N - 1))
    return f'<track id="{tid}" label="{label}">{boxes}</track>'


PERSON = ("<label><name>person</name><attributes>"
          + _attribute("activity", ["none", "walk", "run"], "none")
          + "</attributes></label>")


def _import(src, videos, out, **kw) -> MultiSportsGT:
    kw.setdefault("test_ratio", 0.0)
    return MultiSportsGT.load(import_annotations("cvat", [src], videos, out,
                                                 progress=False, **kw))


def test_misspelt_action_attribute_is_an_error_with_the_near_match(videos, tmp_path):
    src = _cvat(tmp_path / "a.xml", "a.mp4", PERSON, _track(0, "person", "walk"))
    with pytest.raises(StadError, match=r"a\.xml: no label or box has an attribute "
                       r"'Activity'; attributes present: 'activity' \(did you mean "
                       r"--action-attribute 'activity'\?\)"):
        _import(src, videos, tmp_path / "ds", action_attribute="Activity")
    assert not (tmp_path / "ds").exists()
    gt = _import(src, videos, tmp_path / "ok", action_attribute="activity")
    assert gt.labels == ["walk", "run"] and len(gt.gttubes["custom/a"][0]) == 1


def test_tracks_of_other_objects_are_counted_and_all_dropped_is_an_error(
        videos, tmp_path):
    labels = PERSON + "<label><name>ball</name><attributes></attributes></label>"
    src = _cvat(tmp_path / "a.xml", "a.mp4", labels,
                _track(0, "person", "run") + _track(1, "ball", None)
                + _track(2, "ball", None))
    notes: list[str] = []
    _import(src, videos, tmp_path / "ds", notes=notes,
            action_attribute="activity")
    assert any("2 track(s) without the attribute 'activity' left out" in n
               and "2 'ball'" in n for n in notes), notes
    only_balls = _cvat(tmp_path / "b.xml", "a.mp4", labels, _track(1, "ball", None))
    with pytest.raises(StadError, match="no track has the action attribute "
                       "'activity' \\(tracks by label: 1 'ball'\\)"):
        _import(only_balls, videos, tmp_path / "ds2", action_attribute="activity")


def test_an_import_without_action_tubes_is_an_error(videos, tmp_path):
    src = _cvat(tmp_path / "a.xml", "a.mp4", PERSON, _track(0, "person", "none"))
    with pytest.raises(StadError, match="no action tube"):
        _import(src, videos, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_single_label_with_an_attribute_takes_the_action_from_it(videos, tmp_path):
    src = _cvat(tmp_path / "a.xml", "a.mp4", PERSON, _track(0, "person", "run"))
    notes: list[str] = []
    gt = _import(src, videos, tmp_path / "ds", notes=notes)
    assert gt.labels == ["walk", "run"]
    assert list(gt.gttubes["custom/a"]) == [1]  # run
    assert any("'activity'" in n and "taken as the action" in n for n in notes)
    # Two such attributes: neither is guessed; the summary names them.
    two = ("<label><name>person</name><attributes>"
           + _attribute("activity", ["none", "walk"], "none")
           + _attribute("team", ["red", "blue"], "red") + "</attributes></label>")
    src = _cvat(tmp_path / "b.xml", "a.mp4", two, _track(0, "person", "walk"))
    notes = []
    gt = _import(src, videos, tmp_path / "ds2", notes=notes)
    assert gt.labels == ["person"]
    assert any("'activity', 'team' are not used" in n for n in notes), notes
    # A fixed (not per-box) attribute describes the object, not its action.
    fixed = PERSON.replace("<mutable>True</mutable>", "<mutable>False</mutable>")
    src = _cvat(tmp_path / "c.xml", "a.mp4", fixed, _track(0, "person", "walk"))
    notes = []
    assert _import(src, videos, tmp_path / "ds3", notes=notes).labels == ["person"]
    assert any("'activity' are not used" in n for n in notes), notes


def test_an_empty_split_is_warned_at_import(videos, tmp_path):
    src = _cvat(tmp_path / "a.xml", "a.mp4", PERSON, _track(0, "person", "walk"))
    notes: list[str] = []
    gt = _import(src, videos, tmp_path / "ds", notes=notes, test_ratio=0.2)
    assert gt.test_videos == []
    assert any(n.startswith("warning: the val (test_videos) split is empty "
                            "(--test-ratio 0.2 of 1 video(s) gives 0)")
               for n in notes), notes
    both = [src, _cvat(tmp_path / "b.xml", "b.mp4", PERSON,
                       _track(0, "person", "run"))]
    notes = []
    import_annotations("cvat", both, videos, tmp_path / "ds2", progress=False,
                       notes=notes)
    assert not any("split is empty" in n for n in notes)


def test_output_inside_the_videos_folder_is_refused(videos, tmp_path):
    src = _cvat(tmp_path / "a.xml", "a.mp4", PERSON, _track(0, "person", "walk"))
    with pytest.raises(StadError, match="inside the videos folder"):
        _import(src, videos, videos / "ds")
    assert not (videos / "ds").exists()


def test_labels_path_that_does_not_exist(videos, tmp_path, capsys):
    src = _cvat(tmp_path / "a.xml", "a.mp4", PERSON, _track(0, "person", "walk"))
    for value in ("ann/nosuch.xml", "labels.txt"):
        code = cli(["data", "import", "cvat", str(src), str(tmp_path / "ds"),
                    "--videos", str(videos), "--labels", value])
        assert code != 0
        err = capsys.readouterr().err
        assert f"{value}: --labels: labels file not found" in err
        assert not (tmp_path / "ds").exists()
    assert cli(["data", "import", "cvat", str(src), str(tmp_path / "ds"),
                "--videos", str(videos), "--labels", "walk,run,jump",
                "--test-ratio", "0"]) == 0


def test_unknown_annotator_lists_those_present(videos, tmp_path):
    seq = [{"frame": 1, "enabled": True, "x": 10, "y": 10, "width": 20,
            "height": 40, "time": 0.0}]
    task = {"id": 1, "data": {"video": "a.mp4"}, "annotations": [
        {"completed_by": {"id": 4, "email": "ann@x.org"}, "result": [
            {"id": "r", "type": "videorectangle",
             "value": {"framesCount": N, "labels": ["wave"], "sequence": seq}}]}]}
    src = tmp_path / "ls.json"
    src.write_text(json.dumps([task]))
    with pytest.raises(StadError, match="no annotation by annotator 'nobody' in "
                       ".*ls.json; annotators present: ann@x.org"):
        import_annotations("label-studio", [src], videos, tmp_path / "ds",
                           annotator="nobody", progress=False)


def _coco_with_empty_val(root: Path) -> Path:
    """COCO JSONs of a dataset at `root`: one image in train, none in val; the
    val file's path."""
    from stad_helpers.data import layout

    anno = layout.annotations_dir(root)
    anno.mkdir(parents=True)
    image = {"id": 1, "file_name": "x/00001.jpg", "width": 160, "height": 120}
    layout.det_anno_file(anno, "train").write_text(json.dumps(
        {"images": [image], "annotations": [], "categories": []}))
    val = layout.det_anno_file(anno, "test")
    val.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    return val


def test_train_refuses_an_empty_split_up_front(tmp_path, capsys):
    """`stad train det` on a dataset whose val split is empty: one line naming the
    file, before MMEngine's `build_val_loop` ("need at least one array")."""
    from _paths import ROOT

    val = _coco_with_empty_val(tmp_path)
    config = next((ROOT / "configs" / "det").glob("faster-rcnn_r18-slim*.py"))
    code = cli(["train", "det", str(config), "--data", str(tmp_path),
                "--work-dir", str(tmp_path / "work")])
    err = capsys.readouterr().err
    assert code != 0
    assert f"{val}: the val split is empty" in err
    assert not (tmp_path / "work").exists()


def _ls_task(video: str, keys: list[tuple[int, float]], rate: float | None,
             frames_count: int) -> list[dict]:
    """A Label Studio task: one 'wave' region with keyframes (frame, x%), each
    with its `time` (frame / rate, Label Studio's rule) unless `rate` is None."""
    seq = [{"frame": f, "enabled": True, "rotation": 0, "x": x, "y": 10,
            "width": 10, "height": 50, **({} if rate is None else {"time": f / rate})}
           for f, x in keys]
    return [{"id": 5, "data": {"video": video}, "annotations": [{"result": [
        {"id": "r", "type": "videorectangle",
         "value": {"framesCount": frames_count, "sequence": seq,
                   "labels": ["wave"]}}]}]}]


def test_label_studio_wrong_framerate_is_placed_by_times(tmp_path):
    """A 30 fps video annotated in a project left at framerate 24: Label Studio
    frame 8 was drawn at 8/24 s, which the video shows as its frame 10."""
    videos = tmp_path / "videos"
    videos.mkdir()
    grey_clip(videos / "c.mp4", nframes=45, fps=30)
    src = tmp_path / "ls.json"
    src.write_text(json.dumps(_ls_task("c.mp4", [(1, 10), (8, 40), (16, 60)],
                                       24, 36)))
    notes: list[str] = []
    gt = MultiSportsGT.load(import_annotations(
        "label-studio", [src], videos, tmp_path / "ds", test_ratio=0.0,
        progress=False, notes=notes))
    tube = gt.gttubes["custom/c"][0][0]
    # keyframe (f - 0.5) / 24 s -> the 30 fps frame showing then: 1, 10, 20
    rows = {int(r[0]): r[1] for r in tube}
    assert rows[1] == pytest.approx(16) and rows[10] == pytest.approx(64)
    assert rows[20] == pytest.approx(96)
    assert any("framerate (24 fps) is not the video's (30 fps" in n
               and n.startswith("warning:") for n in notes), notes
    # Without times there is nothing to place boxes by: an error, nothing written.
    src.write_text(json.dumps(_ls_task("c.mp4", [(1, 10), (8, 40)], None, 36)))
    with pytest.raises(StadError, match="counted 36 frames.*no keyframe times"):
        import_annotations("label-studio", [src], videos, tmp_path / "ds2",
                           test_ratio=0.0, progress=False)
    assert not (tmp_path / "ds2").exists()


def test_annotation_of_the_sideways_picture_names_the_rotation(tmp_path):
    """A phone clip (coded 320x240, displayed 240x320) annotated at 320x240."""
    videos = tmp_path / "videos"
    videos.mkdir()
    rotated_clip(videos / "p.mp4", -90, nframes=N)
    src = _cvat(tmp_path / "p.xml", "p.mp4", PERSON, _track(0, "person", "walk"),
                size=(320, 240))
    with pytest.raises(StadError, match=r"annotated on the sideways picture "
                       r"\(320x240\): .*p\.mp4 has rotation metadata \(-90 degrees; "
                       r"players show it 240x320\)"):
        _import(src, videos, tmp_path / "ds")
    upright = _cvat(tmp_path / "q.xml", "p.mp4", PERSON, _track(0, "person", "walk"),
                    size=(240, 320))
    assert _import(upright, videos, tmp_path / "ok").resolution["custom/p"] == (320,
                                                                               240)


def test_empty_ava_csv_of_a_split_is_refused(tmp_path):
    """The action config's form: absolute AVA CSVs; an empty val CSV (what
    `stad convert ava` writes for an empty split) stops before the Runner."""
    from mmengine.config import Config

    from stad_helpers.data.validate import check_split_annotations

    train, val = tmp_path / "train.csv", tmp_path / "val.csv"
    train.write_text("x/v.mp4,0005,0.1,0.1,0.5,0.9,1,0\n")
    val.write_text("\n")
    cfg = Config({"train_dataloader": {"dataset": {"ann_file": str(train)}},
                  "val_dataloader": {"dataset": {"ann_file": str(val)}}})
    with pytest.raises(StadError, match=r"val\.csv: the val split is empty "
                       r"\(val_dataloader of cfg\.py\): the dataset's test_videos"):
        check_split_annotations(cfg, "cfg.py")
    val.write_text(train.read_text())
    check_split_annotations(cfg, "cfg.py")  # both splits hold data: fine


def test_train_detector_function_refuses_an_empty_split(tmp_path):
    """The Python API checks what `stad train` checks: an empty val split of the
    COCO JSONs stops `train_detector` before the Runner, naming the file."""
    from _paths import ROOT

    from stad_helpers.detector import train_detector

    val = _coco_with_empty_val(tmp_path)
    config = next((ROOT / "configs" / "det").glob("faster-rcnn_r18-slim*.py"))
    with pytest.raises(StadError, match="the val split is empty") as info:
        train_detector(config, data_root=tmp_path, work_dir=tmp_path / "work")
    assert str(val) in str(info.value)
    assert not (tmp_path / "work").exists()


def test_conversions_warn_about_an_empty_split(videos, tmp_path):
    """A dataset of one split only: `convert ava` and `convert det-anno` still
    write both files, and warn naming the empty split's file."""
    from stad_helpers.convert import ava, det_anno
    from stad_helpers.data import layout

    src = _cvat(tmp_path / "a.xml", "a.mp4", PERSON, _track(0, "person", "walk"))
    gt = _import(src, videos, tmp_path / "ds")  # test_ratio 0: val is empty
    assert not gt.split_videos("test") and gt.split_videos("train")
    with pytest.warns(UserWarning, match="the val split has no video") as caught:
        paths = ava(gt, tmp_path / "ava")
    assert [str(paths["val"]) in str(w.message) for w in caught] == [True]
    assert paths["val"].read_text() == ""
    with pytest.warns(UserWarning, match="the val split has no video") as caught:
        targets = det_anno(gt, tmp_path / "coco" / f"{layout.DET_ANNO_STEM}.json")
    assert [str(targets["val"]) in str(w.message) for w in caught] == [True]
