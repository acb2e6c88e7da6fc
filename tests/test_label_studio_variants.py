"""Label Studio as users export it (issue 14, item 5): JSON-MIN, renamed uploads.

JSON-MIN records are written here by the rule of label-studio-converter 0.0.59
(`Converter.convert_to_json_min` over `annotation_result_from_task`: one record
per annotation, newest first, cancelled ones skipped; the task's data fields,
`id`, each control tag's region values with `type` popped (`prettify_result`),
`annotator`, `annotation_id`, `created_at`, `updated_at`, `lead_time`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from stad_helpers.annotations import import_annotations
from stad_helpers.annotations.videos import label_studio_upload_name
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.errors import StadError
from stad_helpers.video import VideoSink

W, H, N = 320, 240, 30


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Two small mp4s: 'My clip (1).mp4' (as the user named it) and 'other.mp4'."""
    root = tmp_path_factory.mktemp("ls_videos")
    for name in ("My clip (1).mp4", "other.mp4"):
        with VideoSink(root / name, fps=25, threads=1) as sink:
            for i in range(N):
                sink.write(np.full((H, W, 3), 8 * i, np.uint8))
    return root


def _key(frame: int, x: float, enabled: bool = True) -> dict:
    return {"frame": frame, "enabled": enabled, "rotation": 0, "x": x, "y": 12.5,
            "width": 20, "height": 50, "time": frame / 25}


def _region(rid: str, labels: list[str], seq: list[dict]) -> dict:
    return {"id": rid, "type": "videorectangle", "from_name": "box",
            "to_name": "video", "origin": "manual",
            "value": {"framesCount": N, "duration": N / 25, "sequence": seq,
                      "labels": labels}}


def _tasks() -> list[dict]:
    """Full JSON export: two tasks; the first annotated twice (the newer counts)."""
    old = [_region("Aa1", ["wave"], [_key(1, 5), _key(4, 5, enabled=False)])]
    new = [_region("Kz9_x", ["wave"], [_key(1, 0), _key(5, 10, enabled=False),
                                        _key(10, 50)]),
           _region("b7Q", [], [_key(2, 60, enabled=False)]),
           _region("c3", ["jump"], [_key(3, 30), _key(8, 40, enabled=False)])]
    return [
        {"id": 11, "data": {"video": "/data/upload/3/0a1b2c3d-My_clip_1.mp4"},
         "annotations": [
             {"id": 1, "completed_by": 1, "created_at": "2026-01-01T10:00:00Z",
              "updated_at": "2026-01-01T10:00:00Z", "result": old,
              "lead_time": 3.0},
             {"id": 2, "completed_by": 1, "created_at": "2026-01-02T10:00:00Z",
              "updated_at": "2026-01-02T10:00:00Z", "result": new,
              "lead_time": 9.5},
             {"id": 3, "completed_by": 2, "was_cancelled": True, "result": [],
              "created_at": "2026-01-03T10:00:00Z"}]},
        {"id": 12, "data": {"video": "/data/upload/3/9f8e7d6c-other.mp4"},
         "annotations": [
             {"id": 4, "completed_by": 2, "created_at": "2026-01-02T11:00:00Z",
              "updated_at": "2026-01-02T11:00:00Z", "lead_time": 1.0,
              "result": [_region("d1", ["jump"], [_key(1, 70), _key(N, 70)])]}]},
    ]


def _json_min(tasks: list[dict], bare_single: bool = False) -> list[dict]:
    """label-studio-converter's JSON-MIN of `tasks` (see the module docstring).

    `bare_single`: one region written as itself, not in a list (older
    converters collapsed one-item values).
    """
    records = []
    for task in tasks:
        anns = [a for a in task["annotations"]
                if not (a.get("skipped") or a.get("was_cancelled"))]
        for ann in sorted(anns, key=lambda a: a.get("created_at", 0), reverse=True):
            record = copy.deepcopy(task["data"])
            record["id"] = task["id"]
            outputs: dict[str, list] = {}
            for r in ann["result"]:
                outputs.setdefault(r["from_name"], []).append(copy.deepcopy(r["value"]))
            for name, values in outputs.items():
                record[name] = values[0] if bare_single and len(values) == 1 else values
            record.update(annotator=ann["completed_by"], annotation_id=ann["id"],
                          created_at=ann["created_at"], updated_at=ann["updated_at"],
                          lead_time=ann["lead_time"])
            records.append(record)
    return records


def _import(tmp_path: Path, name: str, payload, videos: Path, **kw) -> MultiSportsGT:
    src = tmp_path / f"{name}.json"
    src.write_text(json.dumps(payload))
    kw.setdefault("test_ratio", 0.0)
    return MultiSportsGT.load(import_annotations(
        "label-studio", [src], videos, tmp_path / name, progress=False,
        labels=["wave", "jump"], **kw))


def _assert_identical(a: MultiSportsGT, b: MultiSportsGT) -> None:
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key in da:
        if key in ("gttubes", "idle_tubes"):
            continue
        assert da[key] == db[key], key
    for video in a.videos:
        assert a.gttubes[video].keys() == b.gttubes[video].keys()
        for label, tubes in a.gttubes[video].items():
            assert len(tubes) == len(b.gttubes[video][label])
            for x, y in zip(tubes, b.gttubes[video][label]):
                np.testing.assert_array_equal(x, y)
        ia, ib = a.extra["idle_tubes"][video], b.extra["idle_tubes"][video]
        assert len(ia) == len(ib)
        for x, y in zip(ia, ib):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("bare_single", [False, True], ids=["lists", "bare-dict"])
def test_json_min_gives_the_same_gt_as_json(videos, tmp_path, bare_single):
    tasks = _tasks()
    records = _json_min(tasks, bare_single)
    assert all("annotations" not in r and "box" in r for r in records)
    full = _import(tmp_path, "full", tasks, videos)
    notes: list[str] = []
    flat = _import(tmp_path, "min", records, videos, notes=notes)
    _assert_identical(full, flat)
    assert any("JSON-MIN" in n and "2 task(s)" in n for n in notes)
    # What the tasks say, in pixels: the newer annotation of task 11 was used.
    video = "custom/My_clip_1"
    assert full.videos == [video, "custom/other"]
    wave, jump = full.gttubes[video][0], full.gttubes[video][1]
    assert len(wave) == 2  # frames 1-5, then 10..N (the disabled keyframe ends it)
    np.testing.assert_array_equal(wave[0][:, 0], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(wave[0][0, 1:], [0, 30, 64, 150])  # % of 320x240
    np.testing.assert_array_equal(wave[1][:, 0], np.arange(10, N + 1))
    np.testing.assert_array_equal(jump[0][:, 0], np.arange(3, 9))
    (idle,) = full.extra["idle_tubes"][video]
    np.testing.assert_array_equal(idle[:, 0], [2])
    np.testing.assert_array_equal(full.gttubes["custom/other"][1][0][:, 0],
                                  np.arange(1, N + 1))


def test_json_min_annotator_choice(videos, tmp_path):
    """--annotator picks among the records of one task as among its annotations."""
    records = _json_min(_tasks())
    full = _import(tmp_path, "full", _tasks(), videos, annotator="2")
    flat = _import(tmp_path, "min", records, videos, annotator="2")
    _assert_identical(full, flat)
    assert flat.videos == ["custom/other"]


@pytest.mark.parametrize("name, want", [
    ("My clip (1).mp4", "My_clip_1.mp4"),
    (" a,b;c d.mov ", "abc_d.mov"),
    ("été à la plage!.mp4", "été_à_la_plage.mp4"),
    ("run-2024_v2.MP4", "run-2024_v2.MP4"),
])
def test_upload_name_is_djangos_get_valid_filename(name, want):
    assert label_studio_upload_name(name) == want
    try:
        from django.utils.text import get_valid_filename
    except ImportError:
        return
    assert get_valid_filename(name) == want


def test_renamed_upload_finds_the_users_file(videos, tmp_path):
    task = _tasks()[0]
    gt = _import(tmp_path, "one", [task], videos)
    assert gt.videos == ["custom/My_clip_1"]  # from 'My clip (1).mp4'
    (tmp_path / "copy").mkdir()
    for p in videos.iterdir():
        (tmp_path / "copy" / p.name).hardlink_to(p)
    (tmp_path / "copy" / "My clip 1.mp4").hardlink_to(videos / "other.mp4")
    with pytest.raises(StadError, match="'My_clip_1.mp4' matches several videos"):
        _import(tmp_path, "two", [task], tmp_path / "copy")


def test_unmatched_upload_lists_close_names(videos, tmp_path):
    task = _tasks()[0]
    task["data"]["video"] = "/data/upload/3/0a1b2c3d-My_clip_2.mp4"
    with pytest.raises(StadError) as info:
        _import(tmp_path, "none", [task], videos)
    message = str(info.value)
    assert "task 11" in message and "no video in" in message
    assert "closest: My clip (1).mp4" in message
    assert not (tmp_path / "none").exists()
