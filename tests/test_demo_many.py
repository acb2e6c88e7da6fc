"""Many videos in one demo call (`demo_many`, `stad demo VIDEO... OUT_DIR`): the
same per-video outputs as one `demo()` per video, an index, folders and globs,
names that never collide, clear errors, and torchrun shards."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import _action_data
import pytest
from _action_data import ACTION_CONFIG, DET_CONFIG
from _paths import ROOT
from _torchrun import subprocess_env
from test_demo import _fixed_person, _resized_frames, _write_video

import stad_helpers.demo.people as people_module
import stad_helpers.demo.runner as runner_module
from stad_helpers.action import data_options
from stad_helpers.cli import main
from stad_helpers.data.layout import video_path
from stad_helpers.demo import demo, demo_many, find_videos, output_names
from stad_helpers.demo.batch import INDEX_FILE, INDEX_FORMAT
from stad_helpers.errors import StadError

# Session fixtures of tests/_action_data.py
tiny_action_data = _action_data.tiny_action_data
untrained_checkpoints = _action_data.untrained_checkpoints


# ---------------------------------------------------------------------------
# Finding the videos and naming the outputs (no models)
# ---------------------------------------------------------------------------
def _touch(*paths):
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    return paths


def test_find_videos_takes_files_folders_and_globs(tmp_path):
    a, b, c, hidden, note = _touch(
        tmp_path / "v" / "x" / "clip.mp4", tmp_path / "v" / "y" / "clip.MP4",
        tmp_path / "v" / "z.avi", tmp_path / "v" / ".cache" / "h.mp4",
        tmp_path / "v" / "notes.txt")
    folder = tmp_path / "v"
    assert find_videos([folder]) == [a, b, c]  # recursive, sorted, no hidden/.txt
    assert find_videos([str(folder / "*" / "clip.*")]) == [a, b]
    assert find_videos([str(folder / "**" / "*.avi")]) == [c]
    # each video once, at its first place; an explicit file of any suffix is taken
    assert find_videos([c, folder, note]) == [c, a, b, note]
    # the output folder's own videos (a second run into videos/out) are skipped
    (out_video,) = _touch(folder / "out" / "clip.mp4")
    assert find_videos([folder], exclude=folder / "out") == [a, b, c]
    assert out_video in find_videos([folder])


@pytest.mark.parametrize("kind", ["folder", "glob", "missing", "none"])
def test_find_videos_names_what_holds_no_video(tmp_path, kind):
    empty = tmp_path / "empty"
    empty.mkdir()
    _touch(empty / "readme.txt")
    source, message = {
        "folder": (empty, "no videos .* in the folder"),
        "glob": (str(tmp_path / "*.mp4"), "no videos match the pattern"),
        "missing": (tmp_path / "gone.mp4", "video not found"),
        "none": (None, "no videos given"),
    }[kind]
    with pytest.raises(StadError, match=message) as info:
        find_videos([] if source is None else [source])
    if source is not None:
        assert str(source) in str(info.value)


def test_output_names_never_collide(tmp_path):
    videos = [tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4",
              tmp_path / "a" / "clip.avi", tmp_path / "a" / "Clip.mkv",
              tmp_path / "a" / "index.mp4", tmp_path / "a" / "sub" / "x.mp4"]
    names = output_names(videos)
    assert names[1] == "b/clip" and names[5] == "a/sub/x"
    lowered = [n.lower() for n in names] + ["index"]  # the index's own name
    assert len(set(lowered)) == len(lowered), names
    # what collides keeps its suffix, so the name still says which video it is
    assert names[0] == "a/clip.mp4" and names[2] == "a/clip.avi"
    assert output_names([tmp_path / "one.mp4"]) == ["one"]


def test_demo_many_refuses_an_empty_folder_before_loading_a_model(tmp_path):
    empty = tmp_path / "videos"
    empty.mkdir()
    with pytest.raises(StadError, match=f"{empty}: no videos"):
        demo_many(empty, tmp_path / "out", "no.py", "no.pth", "no.py", "no.pth")
    with pytest.raises(StadError, match="--workers must be >= 1"):
        demo_many(empty, tmp_path / "out", "no.py", "no.pth", "no.py", "no.pth",
                  workers=0)


def test_stad_demo_names_an_empty_glob_in_one_line(tmp_path, capsys):
    cfg = tmp_path / "cfg.py"
    cfg.write_text("x")
    pattern = str(tmp_path / "*.mp4")
    code = main(["demo", pattern, str(tmp_path / "out"), "--config", str(cfg),
                 "--checkpoint", str(cfg), "--det-config", str(cfg),
                 "--det-checkpoint", str(cfg)])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and pattern in err and "no videos" in err


def test_stad_demo_wants_a_folder_for_many_videos(tmp_path, capsys):
    a, b, cfg = _touch(tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "cfg.py")
    code = main(["demo", str(a), str(b), str(tmp_path / "out.mp4"), "--config",
                 str(cfg), "--checkpoint", str(cfg), "--det-config", str(cfg),
                 "--det-checkpoint", str(cfg)])
    assert code == 1
    assert "OUT must be a folder" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# The outputs: the same as one demo() per video
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_videos(tiny_action_data, tmp_path_factory):
    """Two tiny videos of different sizes and lengths, both named clip.mp4."""
    data, gt = tiny_action_data
    src = video_path(data, gt.test_videos[0])
    folder = tmp_path_factory.mktemp("two_videos")
    return folder, [
        _write_video(folder / "a" / "clip.mp4", _resized_frames(src, (160, 120), 20)),
        _write_video(folder / "b" / "clip.mp4", _resized_frames(src, (96, 64), 12)),
    ]


def _models(root, tiny_action_data, untrained_checkpoints):
    act, det = untrained_checkpoints
    return (root / ACTION_CONFIG, act, root / DET_CONFIG, det)


def _json(path):
    return json.loads(path.read_text())


@pytest.mark.slow
def test_demo_many_equals_one_demo_per_video(root, tiny_action_data,
                                             untrained_checkpoints, two_videos,
                                             tmp_path, monkeypatch, capsys):
    """A folder of two `clip.mp4`: each gets the JSON (and an mp4 of the same
    frames) that `demo()` writes for it alone; the models load once; the index
    lists both; one progress bar counts the frames of both."""
    data, gt = tiny_action_data
    folder, videos = two_videos
    models = _models(root, tiny_action_data, untrained_checkpoints)
    settings = dict(action_score_thr=0.0, output_stepsize=2, device="cpu",
                    cfg_options=data_options(data))
    monkeypatch.setattr(people_module, "detect_people", _fixed_person)
    singles = [demo(v, tmp_path / f"single{i}.mp4", *models, progress=False,
                    **settings)[1] for i, v in enumerate(videos)]
    loads = []
    real = runner_module.load_action_model
    monkeypatch.setattr(runner_module, "load_action_model",
                        lambda *a, **k: loads.append(1) or real(*a, **k))
    capsys.readouterr()
    index = demo_many(folder, tmp_path / "out", *models, progress=True, **settings)
    assert len(loads) == 1  # both videos, one model
    assert "32/32" in capsys.readouterr().err  # one bar: 20 + 12 frames
    assert index == tmp_path / "out" / INDEX_FILE
    listed = _json(index)
    assert (listed["format"], listed["version"]) == (INDEX_FORMAT, 1)
    assert [e["video"] for e in listed["videos"]] == [str(v) for v in videos]
    assert [e["mp4"] for e in listed["videos"]] == ["a/clip.mp4", "b/clip.mp4"]
    assert [e["frames"] for e in listed["videos"]] == [20, 12]
    assert [e["people"] for e in listed["videos"]] == [1, 1]  # one tracked person
    assert listed["frames"] == 32 and all(e["seconds"] > 0 for e in listed["videos"])
    for entry, single in zip(listed["videos"], singles):
        ours = tmp_path / "out" / entry["json"]
        assert _json(ours) == _json(single)
        assert len(_json(ours)["frames"]) == entry["frames"] // 2


@pytest.mark.slow
def test_stad_demo_with_a_glob_and_two_workers(root, tiny_action_data,
                                              untrained_checkpoints, two_videos,
                                              tmp_path):
    """`stad demo 'DIR/*/clip.mp4' OUT --workers 2`: two processes (each with its
    models) write what one process writes (the real detector; floats may differ
    in the last digit between thread counts)."""
    from stad_helpers.predictions import Predictions

    data, gt = tiny_action_data
    folder, videos = two_videos
    models = _models(root, tiny_action_data, untrained_checkpoints)
    options = dict(det_score_thr=0.0, action_score_thr=0.0, device="cpu",
                   cfg_options=data_options(data))
    one = demo_many(videos, tmp_path / "one", *models, progress=False, **options)
    act, det = untrained_checkpoints
    code = main(["demo", str(folder / "*" / "clip.mp4"), str(tmp_path / "two"),
                 "--workers", "2", "--config", str(root / ACTION_CONFIG),
                 "--checkpoint", str(act), "--det-config", str(root / DET_CONFIG),
                 "--det-checkpoint", str(det), "--det-score-thr", "0",
                 "--action-score-thr", "0", "--device", "cpu", "--data", str(data)])
    assert code == 0
    a, b = _json(one), _json(tmp_path / "two" / INDEX_FILE)
    assert [e["json"] for e in a["videos"]] == [e["json"] for e in b["videos"]]
    assert a["frames"] == b["frames"] == 32
    for entry in a["videos"]:
        x = Predictions.from_demo_json(tmp_path / "one" / entry["json"])
        y = Predictions.from_demo_json(tmp_path / "two" / entry["json"])
        assert x.frame_numbers.tolist() == y.frame_numbers.tolist()
        assert len(x) == len(y) > 0
        assert abs(x.boxes - y.boxes).max() <= 0.05
        assert abs(x.action_scores - y.action_scores).max() <= 2e-3


@pytest.mark.slow
def test_a_worker_names_a_bad_checkpoint(root, two_videos, tmp_path):
    """A worker process that cannot load the models says why, as one process
    would (not "a process terminated abruptly")."""
    folder, videos = two_videos
    missing = tmp_path / "gone.pth"
    with pytest.raises(StadError, match="gone.pth") as info:
        demo_many(videos, tmp_path / "out", root / ACTION_CONFIG, missing,
                  root / DET_CONFIG, missing, progress=False, workers=2,
                  device="cpu")
    with pytest.raises(StadError) as alone:
        demo_many(videos, tmp_path / "out", root / ACTION_CONFIG, missing,
                  root / DET_CONFIG, missing, progress=False, device="cpu")
    assert str(info.value) == str(alone.value)
    assert not (tmp_path / "out" / INDEX_FILE).exists()


# ---------------------------------------------------------------------------
# Under torchrun: 2 processes write what 1 writes
# ---------------------------------------------------------------------------
def _stad_demo(args: list[str], nproc: int | None) -> None:
    """`stad demo ARGS`, alone or under torchrun with `nproc` CPU processes."""
    launcher: list[str] = []
    if nproc is not None:
        with socket.socket() as s:  # a free port for the rendezvous
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        launcher = ["-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
                    "--master_addr", "127.0.0.1", "--master_port", str(port)]
    done = subprocess.run([sys.executable, *launcher, "-m", "stad_helpers.cli",
                           "demo", *args], cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


@pytest.mark.slow
def test_stad_demo_under_torchrun_shards_the_videos(root, tiny_action_data,
                                                    untrained_checkpoints,
                                                    two_videos, tmp_path):
    """2 gloo processes (one video each, by frame count) write the same files as
    1 process, and rank 0's index lists both videos."""
    data, gt = tiny_action_data
    folder, videos = two_videos
    act, det = untrained_checkpoints
    args = [str(folder), "--config", str(root / ACTION_CONFIG), "--checkpoint",
            str(act), "--det-config", str(root / DET_CONFIG), "--det-checkpoint",
            str(det), "--det-score-thr", "0", "--action-score-thr", "0",
            "--device", "cpu", "--data", str(data)]
    _stad_demo([*args, str(tmp_path / "one")], None)
    _stad_demo([*args, str(tmp_path / "two")], 2)
    one, two = _json(tmp_path / "one" / INDEX_FILE), _json(
        tmp_path / "two" / INDEX_FILE)
    # a shard each, the longer video (20 frames) on rank 0 (shard_by_weight)
    assert [e["rank"] for e in one["videos"]] == [0, 0]
    assert [e["rank"] for e in two["videos"]] == [0, 1]
    for entry in one["videos"] + two["videos"]:
        entry.pop("seconds"), entry.pop("rank")
    one.pop("seconds"), two.pop("seconds")
    assert one == two and len(one["videos"]) == 2
    for entry in one["videos"]:
        assert _json(tmp_path / "one" / entry["json"]) == _json(
            tmp_path / "two" / entry["json"])
        assert (tmp_path / "two" / entry["mp4"]).stat().st_size > 0
