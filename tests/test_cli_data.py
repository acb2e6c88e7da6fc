"""`stad data validate|synth|download|stats`: exit codes and one-line errors."""

from __future__ import annotations

import io
import pickle
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest

from stad_helpers.cli import main
from stad_helpers.data import MultiSportsGT, layout
from stad_helpers.fileio import is_output_dir

VIDEOS = ["sport_a/v_one_c001", "sport_a/v_two_c002"]


def _gt() -> dict:
    tube = np.array([[f, 5, 5, 30, 40] for f in range(1, 6)], np.float32)
    beside = tube + np.float32([0, 10, 0, 10, 0])  # another person, 10 px right
    return {
        "labels": ["run", "jump"],
        "train_videos": [[VIDEOS[0]]],
        "test_videos": [[VIDEOS[1]]],
        "nframes": dict.fromkeys(VIDEOS, 8),
        "resolution": dict.fromkeys(VIDEOS, (48, 64)),
        "gttubes": {VIDEOS[0]: {0: [tube, beside]}, VIDEOS[1]: {1: [tube.copy()]}},
    }


def _write(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def test_validate_ok(tmp_path, capsys):
    gt = _write(tmp_path / "GT.pkl", _gt())
    assert main(["data", "validate", str(gt)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"{gt}: OK, 0 error(s), 0 warning(s)"
    assert out[0].startswith("videos not checked:") and "--videos-root" in out[0]


def test_validate_prints_every_problem_and_fails(tmp_path, capsys):
    raw = _gt()
    raw["gttubes"][VIDEOS[0]][0][1][2, 1] = 50  # x1 >= x2 at frame 3
    raw["gttubes"][VIDEOS[1]][1][0][4, 0] = 9  # frame 9 > nframes 8
    raw["gttubes"][VIDEOS[1]][5] = [raw["gttubes"][VIDEOS[1]][1][0][:2].copy()]
    gt = _write(tmp_path / "GT.pkl", raw)
    assert main(["data", "validate", str(gt)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()[1:]  # after "not checked"
    assert lines == [
        f"error: video '{VIDEOS[1]}', label 5: label index outside 'labels' (0..1)",
        f"error: video '{VIDEOS[0]}', label 0, tube 1: x1 >= x2 at frame 3",
        f"error: video '{VIDEOS[1]}', label 1, tube 0: frame index outside "
        "1..nframes (8) at frame 9",
        f"{gt}: INVALID, 3 error(s), 0 warning(s)",
    ]


def test_validate_with_videos_root_reports_missing_videos(tmp_path, capsys):
    gt = _write(layout.gt_file(tmp_path), _gt())
    (tmp_path / "trainval" / "sport_a").mkdir(parents=True)
    assert main(["data", "validate", str(gt), "--videos-root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    for video in VIDEOS[:2]:  # both splits' videos belong in trainval/
        assert (f"error: video '{video}': video file missing: "
                f"{tmp_path / 'trainval' / video}.mp4") in out
    assert "2 error(s)" in out


def test_validate_checks_the_videos_of_a_gt_in_its_dataset_folder(tmp_path,
                                                                   capsys):
    """`stad data validate DATA/annotations/GT.pkl`: DATA's videos, unasked."""
    gt = _write(layout.gt_file(tmp_path), _gt())
    (tmp_path / layout.TRAINVAL / "sport_a").mkdir(parents=True)
    assert main(["data", "validate", str(gt)]) == 1
    out = capsys.readouterr().out
    assert f"checking the videos in {tmp_path}" in out
    assert f"video file missing: {layout.video_path(tmp_path, VIDEOS[0])}" in out
    assert f"{gt}: INVALID, 2 error(s)" in out


def test_validate_takes_a_dataset_folder(tmp_path, capsys):
    """As notebook 01 calls it: the folder's GT, and its videos by default."""
    gt = _write(layout.gt_file(tmp_path), _gt())
    for video in VIDEOS:
        path = layout.video_path(tmp_path, video)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert main(["data", "validate", str(tmp_path)]) == 1  # empty files: unreadable
    out = capsys.readouterr().out
    assert f"{gt}: INVALID" in out and VIDEOS[0] in out
    assert main(["data", "validate", str(tmp_path / "trainval")]) == 1
    err = capsys.readouterr().err.strip()
    assert "annotation missing" in err and len(err.splitlines()) == 1


def test_hostile_pickle_is_one_line_error_and_never_runs(tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    gt = _write(tmp_path / "evil.pkl", {"labels": Evil()})
    for command in ("validate", "stats"):
        assert main(["data", command, str(gt)]) == 1
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"stad data: error: {gt}: refused to load")
        assert "Traceback" not in captured.err + captured.out
    assert not marker.exists()


def test_missing_file_is_refused_naming_the_argument(tmp_path, capsys):
    for command, metavar in (("validate", "DATA|GT.pkl"), ("stats", "GT.pkl")):
        with pytest.raises(SystemExit) as info:
            main(["data", command, str(tmp_path / "none.pkl")])
        assert info.value.code == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last == (f"stad data {command}: error: argument {metavar}: not found: "
                        f"{tmp_path / 'none.pkl'} (see `stad data {command} --help`)")


def test_stats_prints_the_summary(tmp_path, capsys):
    gt = _write(tmp_path / "GT.pkl", _gt())
    assert main(["data", "stats", str(gt)]) == 0
    out = capsys.readouterr().out.split()
    summary = MultiSportsGT.load(gt).summary()
    assert summary == {"labels": 2, "train_videos": 1, "test_videos": 1, "tubes": 3,
                       "boxes": 15}
    for key, value in summary.items():
        assert out[out.index(key) + 1] == str(value)


def test_synth_calls_make_synthetic_dataset(tmp_path, capsys, monkeypatch):
    calls = []

    def fake(out_dir, seed=0, videos=None):
        calls.append((Path(out_dir), seed, videos))
        _write(layout.gt_file(out_dir), _gt())
        return Path(out_dir)

    module = types.ModuleType("stad_helpers.data.synth")
    module.make_synthetic_dataset = fake
    monkeypatch.setitem(sys.modules, "stad_helpers.data.synth", module)
    out = tmp_path / "synth"
    assert main(["data", "synth", str(out), "--seed", "3", "--videos", "2"]) == 0
    assert calls == [(out, 3, 2)]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(layout.gt_file(out))
    assert [line.split() for line in lines[1:]] == [
        ["labels", "2"], ["train_videos", "1"], ["test_videos", "1"], ["tubes", "3"],
        ["boxes", "15"]]


@pytest.mark.slow
def test_synth_real_dataset_validates(tmp_path, capsys):
    pytest.importorskip("stad_helpers.data.synth")
    out = tmp_path / "synth"
    assert main(["data", "synth", str(out), "--seed", "1", "--videos", "4"]) == 0
    gt = layout.gt_file(out)
    assert capsys.readouterr().out.splitlines()[0] == str(gt)
    assert main(["data", "validate", str(gt), "--videos-root", str(out)]) == 0


def test_download_from_tar(tmp_path, capsys):
    tar_path = tmp_path / "multisports-tiny.tar"
    with tarfile.open(tar_path, "w") as tar:
        data = pickle.dumps(_gt(), protocol=4)
        info = tarfile.TarInfo(f"multisports-tiny/multisports/{layout.GT_REL}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for folder, video in (("trainval", VIDEOS[0]), ("test", VIDEOS[1])):
            info = tarfile.TarInfo(f"multisports-tiny/multisports/{folder}/{video}.mp4")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"mp4"))
    out = tmp_path / "data" / "multisports"
    code = main(["data", "download", "multisports-tiny", str(out),
                 "--from-tar", str(tar_path)])
    assert code == 0
    gt = layout.gt_file(out)
    assert capsys.readouterr().out.splitlines()[0] == str(gt)
    assert (out / "trainval" / f"{VIDEOS[0]}.mp4").read_bytes() == b"mp4"
    assert is_output_dir(out, "dataset")  # ours: an import may --overwrite it


def test_download_offline_is_one_line_error(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/multisports-tiny.tar"
    assert main(["data", "download", "multisports-tiny", str(tmp_path / "m"),
                 "--url", url]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("stad data: error: cannot reach 127.0.0.1:")
    assert err.endswith("download the tar elsewhere and pass --from-tar FILE")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_download_rejects_unknown_dataset(capsys):
    with pytest.raises(SystemExit) as info:
        main(["data", "download", "kinetics", "out"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
