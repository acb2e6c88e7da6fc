"""Never destroy a user's file: output folders are marked, inputs are never outputs.

`stad_helpers.fileio`'s mechanism (`OUTPUT_MARKER`, `check_output_dir`,
`claim_output_dir`, `replace_output_dir`, `check_not_input`) and the writers that
use it: `stad data import` (the forgotten-OUT case of every format), the synthetic
dataset, frame extraction, the demo and the conversions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stad_helpers.cli import main
from stad_helpers.data import layout
from stad_helpers.errors import StadError
from stad_helpers.fileio import (
    OUTPUT_MARKER,
    check_not_input,
    check_output_dir,
    claim_output_dir,
    is_output_dir,
    read_output_kind,
    replace_output_dir,
    temp_dir_beside,
)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` (hidden ones too) with a file's bytes."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def _user_folder(path: Path) -> Path:
    (path / "sub").mkdir(parents=True)
    (path / "notes.txt").write_text("mine")
    (path / "sub" / "a.xml").write_text("<annotations/>")
    return path


# ---------------------------------------------------------------------------
# The mechanism
# ---------------------------------------------------------------------------
def test_claim_creates_and_marks_then_keeps(tmp_path):
    out = tmp_path / "a" / "frames"
    assert claim_output_dir(out, kind="frames") == out
    assert is_output_dir(out) and read_output_kind(out) == "frames"
    (out / "x").write_text("1")
    claim_output_dir(out, kind="frames")  # ours, same kind: kept as is
    assert (out / "x").read_text() == "1"
    empty = tmp_path / "empty"
    empty.mkdir()
    claim_output_dir(empty, kind="frames")
    assert is_output_dir(empty, "frames")


def test_claim_refuses_user_folder_file_and_other_kind(tmp_path):
    user = _user_folder(tmp_path / "user")
    before = _snapshot(tmp_path)
    with pytest.raises(StadError, match="was not made by stad") as err:
        claim_output_dir(user, kind="frames")
    assert str(user) in str(err.value)
    plain = tmp_path / "plain.txt"
    plain.write_text("keep")
    before = _snapshot(tmp_path)
    with pytest.raises(StadError, match="is a file, not a frames folder"):
        claim_output_dir(plain, kind="frames")
    other = claim_output_dir(tmp_path / "ds", kind="dataset")
    (other / "x").write_text("1")
    before = _snapshot(tmp_path)
    with pytest.raises(StadError, match="holds a dataset written by stad"):
        claim_output_dir(other, kind="frames")
    assert _snapshot(tmp_path) == before


def test_claim_accepts_what_legacy_recognizes(tmp_path):
    old = _user_folder(tmp_path / "old")
    claim_output_dir(old, kind="frames", legacy=lambda p: (p / "notes.txt").is_file())
    assert is_output_dir(old, "frames") and (old / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("overwrite", [False, True])
def test_check_output_dir_refuses_whatever_overwrite_says(tmp_path, overwrite):
    user = _user_folder(tmp_path / "user")
    plain = tmp_path / "b.xml"
    plain.write_text("<annotations/>")
    src = user / "sub" / "a.xml"
    for path, message, inputs in ((user, "was not made by stad", [plain]),
                                  (plain, "is a file", []),
                                  (user / "sub", "holds the input", [src]),
                                  (src, "is also an input", [src])):
        with pytest.raises(StadError, match=message):
            check_output_dir(path, kind="dataset", overwrite=overwrite,
                             inputs=inputs)
    ours = claim_output_dir(tmp_path / "ours", kind="dataset")
    (ours / "x").write_text("1")
    if overwrite:
        check_output_dir(ours, kind="dataset", overwrite=True)
    else:
        with pytest.raises(StadError, match="not empty"):
            check_output_dir(ours, kind="dataset")
    check_output_dir(tmp_path / "new", kind="dataset")  # missing: fine
    assert not (tmp_path / "new").exists()


def test_replace_output_dir_swaps_only_our_folder(tmp_path):
    dest = tmp_path / "ds"
    for content in ("one", "two"):
        tmp = temp_dir_beside(dest)
        (tmp / "f.txt").write_text(content)
        replace_output_dir(tmp, dest, kind="dataset", overwrite=True)
        assert (dest / "f.txt").read_text() == content
        assert is_output_dir(dest, "dataset")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # nothing hidden left
    user = _user_folder(tmp_path / "user")
    tmp = temp_dir_beside(user)
    before = _snapshot(user)
    with pytest.raises(StadError, match="was not made by stad"):
        replace_output_dir(tmp, user, kind="dataset", overwrite=True)
    assert _snapshot(user) == before


def test_check_not_input_compares_resolved_paths(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("x")
    link = tmp_path / "link.csv"
    os.symlink(src, link)
    for out in (src, link, tmp_path / "sub" / ".." / "in.csv"):
        with pytest.raises(StadError, match="is also an input"):
            check_not_input([out], [src])
    check_not_input([tmp_path / "out.csv", None], [src, None])
    with pytest.raises(StadError, match="holds the input"):
        check_not_input([tmp_path], [src], replaced=True)
    check_not_input([tmp_path], [src])  # adding files beside an input is fine


# ---------------------------------------------------------------------------
# stad data import: the forgotten OUT
# ---------------------------------------------------------------------------
FORMATS = {"cvat": ".xml", "label-studio": ".json", "csv": ".csv"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("order", ["options last", "options between"])
def test_import_with_forgotten_out_destroys_nothing(tmp_path, capsys, fmt, order):
    """`stad data import FMT a b --videos V --overwrite`: b is taken as OUT and
    refused; nothing in the folder changes, nothing hidden appears."""
    ext = FORMATS[fmt]
    a, b = tmp_path / f"a{ext}", tmp_path / f"b{ext}"
    a.write_text("first export")
    b.write_text("second export")
    videos = tmp_path / "videos"
    videos.mkdir()
    before = _snapshot(tmp_path)
    if order == "options last":
        argv = ["data", "import", fmt, str(a), str(b), "--videos", str(videos),
                "--overwrite"]
    else:
        argv = ["data", "import", "--overwrite", fmt, str(a), "--videos",
                str(videos), str(b)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"stad data: error: {b}: is a file")
    assert "forget the output folder" in err and len(err.splitlines()) == 1
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("out", ["exports", "videos"])
def test_import_refuses_a_folder_it_did_not_make_or_an_input(tmp_path, capsys, out):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "b.xml").write_text("second export")
    a = tmp_path / "a.xml"
    a.write_text("first export")
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "v.mp4").write_bytes(b"video")
    before = _snapshot(tmp_path)
    assert main(["data", "import", "cvat", str(a), str(tmp_path / out), "--videos",
                 str(videos), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert ("was not made by stad" if out == "exports" else "is also an input") in err
    assert _snapshot(tmp_path) == before


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory):
    from stad_helpers.annotations import export_csv
    from stad_helpers.data import make_synthetic_dataset

    root = tmp_path_factory.mktemp("overwrite") / "synth"
    gt = make_synthetic_dataset(root, videos=2, frames=24, width=64, height=64,
                                progress=False)
    csv = export_csv(gt, root.parent / "boxes.csv")
    return root, Path(csv)


def test_import_replaces_only_its_own_dataset(small_synth, tmp_path, capsys):
    root, csv = small_synth
    out = tmp_path / "ds"
    gt = layout.gt_file(out)
    # options anywhere: OUT after --videos, --test-ratio after OUT
    assert main(["data", "import", "csv", str(csv), "--videos", str(root), str(out),
                 "--test-ratio", "0.5"]) == 0
    assert gt.is_file() and is_output_dir(out, "dataset")
    capsys.readouterr()
    assert main(["data", "import", "csv", str(csv), "--videos", str(root),
                 str(out)]) == 1
    assert "not empty" in capsys.readouterr().err
    (out / "stale.txt").write_text("from the old import")
    assert main(["data", "import", "csv", str(csv), str(out), "--overwrite",
                 "--videos", str(root)]) == 0
    assert gt.is_file() and not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    # the synthetic dataset is ours too, but holds the input videos
    before = _snapshot(root)
    assert main(["data", "import", "csv", str(csv), "--videos", str(root / "trainval"),
                 str(root), "--overwrite"]) == 1
    assert "holds the input" in capsys.readouterr().err
    assert _snapshot(root) == before


# ---------------------------------------------------------------------------
# The other writers of folders
# ---------------------------------------------------------------------------
def test_synth_never_writes_into_a_user_folder(tmp_path):
    from stad_helpers.data import make_synthetic_dataset

    user = _user_folder(tmp_path / "user")
    layout.annotations_dir(user).mkdir()
    layout.gt_file(user).write_bytes(b"their GT")
    before = _snapshot(user)
    with pytest.raises(StadError, match="was not made by stad"):
        make_synthetic_dataset(user, videos=2, frames=24, write_videos=False,
                               progress=False)
    assert _snapshot(user) == before
    out = tmp_path / "synth"
    for _ in range(2):  # a rerun writes into its own folder
        gt = make_synthetic_dataset(out, videos=2, frames=24, write_videos=False,
                                    progress=False)
        assert gt.is_file() and is_output_dir(out, "synthetic dataset")


def test_frames_never_write_into_a_user_folder_or_the_videos(tmp_path):
    from stad_helpers.convert import extract_frames

    videos = tmp_path / "videos"
    (videos / "sport").mkdir(parents=True)
    (videos / "sport" / "v_a.mp4").write_bytes(b"not decoded: refused before")
    user = _user_folder(tmp_path / "user")
    (user / "sport" / "v_a").mkdir(parents=True)
    (user / "sport" / "v_a" / "00001.jpg").write_bytes(b"their picture")
    before = _snapshot(tmp_path)
    with pytest.raises(StadError, match="was not made by stad"):
        extract_frames(videos, user, workers=1, progress=False)
    with pytest.raises(StadError, match="is also an input"):
        extract_frames(videos, videos, workers=1, progress=False)
    assert _snapshot(tmp_path) == before


def test_demo_output_is_never_its_input(tmp_path, capsys):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"the user's video")
    cfg = tmp_path / "cfg.py"
    cfg.write_text("")
    labels = tmp_path / "labels.json"
    labels.write_text("0: walk")
    models = ["--config", str(cfg), "--checkpoint", str(cfg), "--det-config",
              str(cfg), "--det-checkpoint", str(cfg)]
    before = _snapshot(tmp_path)
    # OUT.mp4 is the video; OUT.json (written beside OUT.mp4) is the label map
    for out, extra in ((video, []), (tmp_path / "labels.mp4", ["--label-map",
                                                                 str(labels)])):
        assert main(["demo", str(video), str(out), *models, *extra]) == 1
        err = capsys.readouterr().err
        assert "is also an input" in err and len(err.splitlines()) == 1
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("argv, name", [
    (["data", "export", "csv", "{gt}", "{gt}"], "gt"),
    (["convert", "det-anno", "{gt}", "{gt}"], "gt"),
    (["convert", "proposals", "{gt}", "{gt}", "{gt}"], "gt"),
    (["convert", "infer-anno", "{dir}", "{dir}"], "dir"),
])
def test_conversions_never_write_onto_an_input(tmp_path, capsys, argv, name):
    gt = tmp_path / "gt.pkl"
    gt.write_bytes(b"not even read")
    paths = {"gt": str(gt), "dir": str(tmp_path)}
    before = _snapshot(tmp_path)
    assert main([a.format(**paths) for a in argv]) == 1
    err = capsys.readouterr().err
    assert "is also an input" in err and paths[name] in err
    assert _snapshot(tmp_path) == before


def test_marker_name_is_hidden():
    assert OUTPUT_MARKER.startswith(".")  # listings and video searches skip it


def test_run_all_never_writes_into_a_user_folder(tmp_path):
    from stad_helpers.pipeline import run_all

    user = _user_folder(tmp_path / "user")
    before = _snapshot(tmp_path)
    with pytest.raises(StadError, match="was not made by stad"):
        run_all("cpu", work_dir=user)
    assert _snapshot(tmp_path) == before


def test_proposals_never_replace_their_detections(tmp_path):
    import pickle

    from stad_helpers.convert import proposals
    from stad_helpers.data import make_synthetic_dataset

    gt = make_synthetic_dataset(tmp_path / "d", videos=2, frames=24,
                                write_videos=False, progress=False)
    det = tmp_path / "p_train.pkl"  # OUT p.pkl would write p_train.pkl over it
    det.write_bytes(pickle.dumps([]))
    before = _snapshot(tmp_path)
    with pytest.raises(StadError, match="is also an input"):
        proposals(det, gt, tmp_path / "p.pkl", min_coverage=0)
    assert _snapshot(tmp_path) == before
