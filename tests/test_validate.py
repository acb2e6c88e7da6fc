"""validate_gt reports every problem, naming video, label, tube and frame."""

from __future__ import annotations

import copy
import pickle
import time

import numpy as np
import pytest

from stad_helpers.data import MultiSportsGT, Problem, raise_if_invalid, validate_gt
from stad_helpers.data.layout import video_path
from stad_helpers.data.validate import BORDER_TOLERANCE_PX
from stad_helpers.errors import StadError

H, W, N = 48, 64, 12
TRAIN = ["sport_a/v_one_c001", "sport_b/v_two_c002"]
TEST = ["sport_a/v_three_c003"]


def _tube(first: int, n: int, x: float = 10.0) -> np.ndarray:
    frames = np.arange(first, first + n, dtype=np.float32)
    box = np.tile(np.array([x, 8, x + 20, 40], np.float32), (n, 1))
    return np.column_stack([frames, box]).astype(np.float32)


def make_gt() -> dict:
    """A small, valid GT dict in the exact MultiSports structure."""
    videos = TRAIN + TEST
    return {
        "labels": ["run", "jump", "throw"],
        "train_videos": [list(TRAIN)],
        "test_videos": [list(TEST)],
        "nframes": {v: N for v in videos},
        "resolution": {v: (H, W) for v in videos},
        "gttubes": {
            TRAIN[0]: {0: [_tube(1, 5), _tube(4, 9, x=30)], 2: [_tube(2, 3)]},
            TRAIN[1]: {1: [_tube(3, 10)]},
            TEST[0]: {2: [_tube(1, N)]},
        },
        "idle_tubes": {TRAIN[0]: [_tube(1, N, x=40)]},
    }


def _texts(problems: list[Problem], severity: str = "error") -> list[str]:
    return [str(p) for p in problems if p.severity == severity]


def test_valid_gt_has_no_problems():
    assert validate_gt(make_gt()) == []
    raise_if_invalid(make_gt())  # does not raise


def test_problem_str_names_video_label_tube_frame():
    gt = make_gt()
    gt["gttubes"][TRAIN[0]][0][1][2, 1] = 60  # x1 (60) >= x2 (50) at frame 6
    (problem,) = validate_gt(gt)
    assert problem == Problem(
        "error", f"video '{TRAIN[0]}', label 0, tube 1", "x1 >= x2 at frame 6"
    )
    assert str(problem) == f"video '{TRAIN[0]}', label 0, tube 1: x1 >= x2 at frame 6"


def test_every_problem_is_reported_not_just_the_first():
    gt = make_gt()
    tubes = gt["gttubes"]
    tubes[TRAIN[0]][0][0][:, 2] = 45  # y1 >= y2 on all 5 boxes
    tubes[TRAIN[0]][2][0][1, 0] = N + 1  # frame 13 > nframes 12
    tubes[TRAIN[1]][1][0][0, 3] = W + 5  # x2 beyond the width
    tubes[TEST[0]][7] = [_tube(1, 2)]  # unknown label
    tubes[TEST[0]][2].append(np.zeros((3, 4), np.float32))  # bad shape
    gt["test_videos"][0].append("sport_c/v_ghost_c009")  # unknown video
    errors = _texts(validate_gt(gt))
    expected = [
        f"video '{TRAIN[0]}', label 0, tube 0: y1 >= y2 at frames 1, 2, 3 and 2 more",
        f"video '{TRAIN[0]}', label 2, tube 0: frame index outside 1..nframes (12) "
        "at frame 13",
        f"video '{TRAIN[1]}', label 1, tube 0: box outside the 64x48 frame "
        "(by more than 1 px) at frame 3 (10, 8, 69, 40)",
        f"video '{TEST[0]}', label 7: label index outside 'labels' (0..2)",
        f"video '{TEST[0]}', label 2, tube 1: has shape (3, 4), expected (n, 5): "
        "frame, x1, y1, x2, y2",
        "video 'sport_c/v_ghost_c009': listed in 'test_videos' but missing from "
        "gttubes, nframes, resolution",
    ]
    assert sorted(errors) == sorted(expected)


def test_missing_keys_and_non_dict():
    gt = make_gt()
    del gt["labels"], gt["resolution"]
    errors = _texts(validate_gt(gt, source="GT.pkl"))
    assert "GT.pkl: missing key 'labels'" in errors
    assert "GT.pkl: missing key 'resolution'" in errors
    # Without labels and resolution the other checks still run.
    gt["gttubes"][TRAIN[1]][1][0][4, 0] = 0
    assert any("frame index outside 1..nframes (12) at frame 0" in e
               for e in _texts(validate_gt(gt)))
    # A missing table is reported once, not once per video.
    gt = make_gt()
    del gt["nframes"]
    assert _texts(validate_gt(gt, source="GT.pkl")) == ["GT.pkl: missing key 'nframes'"]
    # A bad value is reported as bad, not also as missing.
    gt = make_gt()
    gt["nframes"][TEST[0]] = None
    assert _texts(validate_gt(gt)) == [f"video '{TEST[0]}': nframes is None, expected "
                                       "a positive int"]
    gt["labels"] = None
    assert "annotation: 'labels' must be a list of str, got NoneType" in _texts(
        validate_gt(gt))
    (problem,) = validate_gt([1, 2], source="x.pkl")
    assert problem.is_error and "got list" in str(problem) and "x.pkl" in str(problem)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda g: g.update(labels="run"), "'labels' must be a list of str"),
        (lambda g: g["labels"].append(3), "'labels'[3] is int"),
        (lambda g: g.update(train_videos=None),
         "'train_videos' must be [[video, ...]]"),
        (lambda g: g["train_videos"][0].append(5), "'train_videos'[2] is int"),
        (lambda g: g["nframes"].update({TEST[0]: 0}), "nframes is 0"),
        (lambda g: g["nframes"].update({TEST[0]: 12.5}), "nframes is 12.5"),
        (lambda g: g["resolution"].update({TEST[0]: (48,)}), "resolution is (48,)"),
        (lambda g: g.update(gttubes=[]), "'gttubes' must be a dict"),
        (lambda g: g["gttubes"].update({TEST[0]: [1]}), "gttubes entry must be a dict"),
        (lambda g: g["gttubes"][TEST[0]].update({"2": []}), "label key is str"),
        (lambda g: g["gttubes"][TEST[0]].update({2: _tube(1, 2)}),
         "tubes must be a list"),
        (lambda g: g["gttubes"][TEST[0]][2].append([[1, 2, 3, 4, 5]]),
         "tube 1: is a list, expected a numpy array"),
        (lambda g: g["gttubes"][TEST[0]][2].append(np.array([["a"] * 5])),
         "tube 1: is not numeric"),
        (lambda g: g["gttubes"][TEST[0]][2].append(np.zeros(5, np.float32)),
         "tube 1: has shape (5,)"),
        (lambda g: g["gttubes"][TEST[0]][2][0].__setitem__((3, 2), np.nan),
         "tube 0: non-finite value (nan or inf) at frame 4"),
        (lambda g: g["gttubes"][TEST[0]][2][0].__setitem__((3, 0), 4.5),
         "tube 0: frame index is not a whole number at frame 4.5"),
        (lambda g: g["gttubes"][TEST[0]][2][0].__setitem__((0, 0), -3),
         "tube 0: frame index outside 1..nframes (12) at frame -3"),
        (lambda g: g["gttubes"][TEST[0]][2][0].__setitem__((0, 2), -9),
         "box outside the 64x48 frame (by more than 1 px) at frame 1 (10, -9, 30, 40)"),
        (lambda g: g["gttubes"][TEST[0]][2][0].__setitem__((5, 4), H + 2),
         "box outside the 64x48 frame (by more than 1 px) at frame 6 (10, 8, 30, 50)"),
        (lambda g: g["test_videos"][0].append(TRAIN[0]),
         "listed in both 'train_videos' and 'test_videos'"),
    ],
)
def test_each_broken_input_is_an_error(mutate, needle):
    gt = make_gt()
    mutate(gt)
    errors = _texts(validate_gt(gt))
    assert any(needle in e for e in errors), errors


def test_border_tolerance():
    gt = make_gt()
    tube = gt["gttubes"][TEST[0]][2][0]
    tube[0, 1:] = [-BORDER_TOLERANCE_PX, -BORDER_TOLERANCE_PX, W + 1, H + 1]
    tube[1, 1:] = [0, 0, W, H]  # the whole frame
    assert validate_gt(gt) == []
    tube[2, 3] = W + BORDER_TOLERANCE_PX + 0.5
    assert len(_texts(validate_gt(gt))) == 1


def test_warnings_do_not_make_it_invalid():
    gt = make_gt()
    gt["train_videos"] = list(TRAIN)  # not wrapped in one list
    gt["gttubes"]["sport_a/v_orphan_c010"] = {0: [_tube(1, 2)]}
    gt["gttubes"][TEST[0]][2].append(np.zeros((0, 5), np.float32))
    gt["gttubes"][TEST[0]][1] = [_tube(1, 3).astype(np.int64)]
    problems = validate_gt(gt)
    assert problems and not any(p.is_error for p in problems)
    warnings = " | ".join(_texts(problems, "warning"))
    assert "plain list" in warnings
    assert "'sport_a/v_orphan_c010': in 'gttubes' but in neither split" in warnings
    assert "tube 1: is empty" in warnings
    assert "has dtype int64" in warnings
    raise_if_invalid(gt)


def test_idle_tubes_are_checked_like_tubes():
    gt = make_gt()
    gt["idle_tubes"][TRAIN[0]][0][2, 3] = 5  # x2 < x1 at frame 3
    gt["idle_tubes"][TRAIN[1]] = [np.zeros((2, 6), np.float32)]
    errors = _texts(validate_gt(gt))
    assert f"video '{TRAIN[0]}', idle tube 0: x1 >= x2 at frame 3" in errors
    assert any(f"video '{TRAIN[1]}', idle tube 0: has shape (2, 6)" in e
               for e in errors)
    gt["idle_tubes"] = [1]
    assert any("'idle_tubes' must be a dict" in e for e in _texts(validate_gt(gt)))


def test_raise_if_invalid_lists_first_twenty_and_count(tmp_path):
    gt = make_gt()
    for i in range(30):
        gt["gttubes"][TEST[0]][2].append(np.zeros((1, 3), np.float32) + i)
    with pytest.raises(StadError) as info:
        raise_if_invalid(gt, source="data/GT.pkl")
    text = str(info.value)
    assert text.startswith("data/GT.pkl: 30 error(s) in the annotation")
    assert "tube 20: has shape (1, 3)" in text and "tube 21:" not in text
    assert "... and 10 more" in text and "stad data validate data/GT.pkl" in text


def test_gt_load_validates_and_names_the_file(tmp_path):
    gt = make_gt()
    gt["gttubes"][TRAIN[1]][1][0][2, 4] = 1  # y2 < y1 at frame 5
    path = tmp_path / "bad_GT.pkl"
    path.write_bytes(pickle.dumps(gt, protocol=5))
    with pytest.raises(StadError) as info:
        MultiSportsGT.load(path)
    assert str(path) in str(info.value)
    text = str(info.value)
    assert f"video '{TRAIN[1]}', label 1, tube 0: y1 >= y2 at frame 5" in text
    assert MultiSportsGT.load(path, validate=False).labels == gt["labels"]


def test_validation_does_not_modify_the_input():
    gt = make_gt()
    gt["gttubes"][TEST[0]][2][0][0, 0] = 99
    before = copy.deepcopy(gt)
    validate_gt(gt)
    assert pickle.dumps(before) == pickle.dumps(gt)


# ---------------------------------------------------------------------------
# --videos-root: files exist, frame counts and resolutions agree
# ---------------------------------------------------------------------------
def _write_mp4(path, nframes: int, h: int = H, w: int = W) -> None:
    from stad_helpers.video import VideoSink

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(nframes)
    with VideoSink(path, fps=25) as sink:
        for _ in range(nframes):
            sink.write(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.fixture(scope="session")
def videos_root(tmp_path_factory):
    pytest.importorskip("av")
    root = tmp_path_factory.mktemp("videos")
    for video in TRAIN:
        _write_mp4(video_path(root, video), N)
    # test-split videos sit in trainval/ too (MultiSports layout)
    _write_mp4(video_path(root, TEST[0]), N)
    return root


def test_videos_that_match_pass(videos_root):
    assert validate_gt(make_gt(), videos_root=videos_root) == []
    assert video_path(videos_root, TEST[0]) == (
        videos_root / "trainval" / "sport_a" / "v_three_c003.mp4")


def test_missing_short_and_wrong_size_videos(videos_root, tmp_path):
    gt = make_gt()
    gt["train_videos"][0].append("sport_b/v_missing_c004")
    gt["nframes"]["sport_b/v_missing_c004"] = N
    gt["resolution"]["sport_b/v_missing_c004"] = (H, W)
    gt["gttubes"]["sport_b/v_missing_c004"] = {0: [_tube(1, 2)]}
    gt["nframes"][TRAIN[1]] = N + 3  # the video has only N frames
    gt["nframes"][TEST[0]] = N - 2  # more frames than annotated: a warning
    gt["resolution"][TRAIN[0]] = (H * 2, W * 2)
    gt["gttubes"][TRAIN[0]] = {0: [_tube(1, 2)]}
    gt["idle_tubes"] = {}
    gt["gttubes"][TEST[0]] = {2: [_tube(1, N - 2)]}
    problems = validate_gt(gt, videos_root=videos_root)
    errors = _texts(problems)
    missing = videos_root / "trainval" / "sport_b" / "v_missing_c004.mp4"
    assert f"video 'sport_b/v_missing_c004': video file missing: {missing}" in errors
    short = video_path(videos_root, TRAIN[1])
    assert (f"video '{TRAIN[1]}': {short} has {N} frames, the annotation says "
            f"nframes = {N + 3} (annotated frames past the end cannot be "
            "read)") in errors
    wrong = video_path(videos_root, TRAIN[0])
    assert f"video '{TRAIN[0]}': {wrong} is 64x48, the annotation says 128x96" in errors
    assert len(errors) == 3
    (warning,) = _texts(problems, "warning")
    assert f"has {N} frames, the annotation says nframes = {N - 2}" in warning


def test_truncated_video_is_an_error(videos_root, tmp_path):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(videos_root, root)
    path = video_path(root, TEST[0])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    errors = _texts(validate_gt(make_gt(), videos_root=root))
    assert len(errors) == 1 and errors[0].startswith(
        f"video '{TEST[0]}': cannot read {path}")


def test_videos_root_must_exist(tmp_path):
    with pytest.raises(StadError, match="not a folder"):
        validate_gt(make_gt(), videos_root=tmp_path / "nope")


# ---------------------------------------------------------------------------
# Speed: full MultiSports statistics
# ---------------------------------------------------------------------------
def full_size_gt(seed: int = 0) -> dict:
    """3,200 videos, 66 labels, ~37,700 tubes, ~900k boxes (no videos)."""
    rng = np.random.default_rng(seed)
    videos = [f"sport_{i % 4}/v_{i:05d}_c001" for i in range(3200)]
    tubes_per_video = rng.multinomial(37_700 - 3200, np.ones(3200) / 3200) + 1
    gttubes, nframes = {}, {}
    for video, n_tubes in zip(videos, tubes_per_video):
        nframes[video] = 750
        by_label: dict[int, list] = {}
        for length, label in zip(rng.integers(4, 44, n_tubes),
                                 rng.integers(0, 66, n_tubes)):
            first = 1 + rng.integers(0, 750 - length)
            tube = np.empty((length, 5), np.float32)
            tube[:, 0] = np.arange(first, first + length)
            tube[:, 1:] = (100, 100, 300, 500)
            by_label.setdefault(int(label), []).append(tube)
        gttubes[video] = by_label
    return {
        "labels": [f"action {i}" for i in range(66)],
        "train_videos": [videos[:2200]],
        "test_videos": [videos[2200:]],
        "nframes": nframes,
        "resolution": {v: (720, 1280) for v in videos},
        "gttubes": gttubes,
    }


@pytest.mark.slow
def test_full_multisports_size_validates_in_seconds():
    gt = full_size_gt()
    n_boxes = sum(len(t) for v in gt["gttubes"].values() for ts in v.values()
                  for t in ts)
    assert 800_000 < n_boxes < 1_000_000
    start = time.perf_counter()
    problems = validate_gt(gt)
    seconds = time.perf_counter() - start
    assert problems == []
    assert seconds < 10, f"validate_gt took {seconds:.1f} s on {n_boxes} boxes"
    gt["gttubes"]["sport_1/v_00001_c001"][next(iter(
        gt["gttubes"]["sport_1/v_00001_c001"]))][0][0, 3] = 0
    assert len(validate_gt(gt)) == 1
