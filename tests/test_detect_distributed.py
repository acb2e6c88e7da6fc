"""`stad detect` on many processes: the sharding and environment helpers of
`stad_helpers.distributed`, resuming an interrupted detection, and detection under
torchrun (2 CPU processes, gloo) giving the file one process writes.

The detector is the slim config with random weights (saved once): what it detects
does not matter here, only that every route writes the same numbers.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from stad_helpers.data import layout
from stad_helpers.distributed import (
    dist_env,
    init_distributed,
    process_device,
    shard_by_weight,
)
from stad_helpers.errors import StadError

ROOT = Path(__file__).resolve().parent.parent
SLIM = (ROOT / "configs" / "det"
        / "faster-rcnn_r18-slim_fpn_256px-600it_synth-multisports-person.py")


def test_dist_env_outside_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert dist_env() == (0, 1, 0)


def test_dist_env_reads_torchrun(monkeypatch):
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert dist_env() == (5, 8, 1)


@pytest.mark.parametrize("env", [{"RANK": "x", "WORLD_SIZE": "2"},
                                 {"RANK": "2", "WORLD_SIZE": "2"},
                                 {"RANK": "0", "WORLD_SIZE": "0"}])
def test_dist_env_refuses_a_broken_environment(monkeypatch, env):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StadError, match="RANK|WORLD_SIZE"):
        dist_env()


def _best_max_load(weights, world_size):
    """The lightest possible heaviest shard, by brute force (tiny inputs)."""
    return min(
        max(sum(w for w, r in zip(weights, assign) if r == rank)
            for rank in range(world_size))
        for assign in itertools.product(range(world_size), repeat=len(weights)))


@pytest.mark.parametrize("weights,world_size", [
    ([120, 80, 75, 60, 45, 30, 10], 2),
    ([5, 5, 4, 4, 3, 3, 3], 3),
    ([700, 10, 10, 10], 2),
    ([3, 1], 4),
    ([], 2),
])
def test_shard_by_weight_partitions_sorted_and_balanced(weights, world_size):
    shards = shard_by_weight(weights, world_size)
    assert len(shards) == world_size
    assert sorted(i for s in shards for i in s) == list(range(len(weights)))
    assert all(s == sorted(s) for s in shards)
    heaviest = max(sum(weights[i] for i in s) for s in shards)
    best = _best_max_load(weights, world_size) if weights else 0
    assert heaviest <= 4 / 3 * best  # LPT's guarantee


def test_shard_by_weight_is_deterministic_and_lpt():
    weights = [10, 30, 20, 30]
    # LPT: item 1 (30) -> rank 0, item 3 (30) -> rank 1, item 2 (20): both at 30,
    # the lower rank takes it; item 0 (10) -> rank 1 (30 < 50)
    assert shard_by_weight(weights, 2) == [[1, 2], [0, 3]]
    assert shard_by_weight(weights, 2) == shard_by_weight(list(weights), 2)
    assert shard_by_weight(weights, 1) == [[0, 1, 2, 3]]


@pytest.mark.parametrize("weights,world_size", [([1, 2], 0), ([1, -1], 2)])
def test_shard_by_weight_refuses_bad_input(weights, world_size):
    with pytest.raises(StadError):
        shard_by_weight(weights, world_size)


# ---------------------------------------------------------------------------
# Process group
# ---------------------------------------------------------------------------
def test_init_distributed_none_is_one_process():
    assert init_distributed("none") == (0, 1, 0)


@pytest.mark.parametrize("launcher,match", [("mpi", "unknown launcher"),
                                            ("pytorch", "torchrun"),
                                            ("slurm", "srun")])
def test_init_distributed_refuses_a_launch_it_cannot_join(monkeypatch, launcher,
                                                          match):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "SLURM_PROCID",
                 "SLURM_NTASKS", "SLURM_NODELIST"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(StadError, match=match):
        init_distributed(launcher)


def test_init_distributed_slurm_needs_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name, value in (("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2"),
                        ("SLURM_NODELIST", "node[1-2]")):
        monkeypatch.setenv(name, value)
    with pytest.raises(StadError, match="needs CUDA"):
        init_distributed("slurm")


def test_process_device_without_gpu_is_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert process_device(3) == "cpu"


def test_process_device_is_the_local_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert process_device(1) == "cuda:1"
    with pytest.raises(StadError, match="--nproc-per-node"):
        process_device(2)


# ---------------------------------------------------------------------------
# Detection: resume, and torchrun
# ---------------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One thread, as each torchrun process has (OMP_NUM_THREADS=1): the machine
    is shared, and the reference run must do the same arithmetic."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """Four 96x72 videos of 21-24 frames."""
    from stad_helpers.data.synth import make_synthetic_dataset

    root = tmp_path_factory.mktemp("ddet_data")
    make_synthetic_dataset(root, seed=5, videos=4, frames=24, width=96, height=72,
                           progress=False, workers=1)
    return root


@pytest.fixture(scope="module")
def random_ckpt(tmp_path_factory) -> Path:
    """The slim detector with seeded random weights, saved as a checkpoint."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from stad_helpers.registry import register_all
    from stad_helpers.train import load_config

    register_all()
    cfg = load_config(SLIM)
    init_default_scope("mmdet")
    cfg.model.pop("init_cfg", None)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = tmp_path_factory.mktemp("ddet_ckpt") / "random.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)
    return path


def _detect(tiny, ckpt, out, **kwargs):
    from stad_helpers.person_detection import detect

    return detect(SLIM, ckpt, tiny, out, batch_size=3, progress=False,
                  **{"score_thr": 0.0, **kwargs})


@pytest.fixture(scope="module")
def clean(tiny, random_ckpt, tmp_path_factory) -> Path:
    """One uninterrupted run in this process."""
    return _detect(tiny, random_ckpt, tmp_path_factory.mktemp("ddet") / "clean.pkl")


class _Killed(BaseException):
    """What a kill (Ctrl-C) does to a run, without stopping pytest itself."""


def _count_decoded(monkeypatch, stop_at: int | None = None) -> list[str]:
    """Record each video `detect` decodes; with `stop_at`, fail on that one (0-based),
    as a killed run would."""
    from stad_helpers import person_detection

    decoded: list[str] = []
    monkeypatch.undo()  # an earlier recording is replaced, not wrapped
    real = person_detection._video_frames

    def frames(gt, data_root, videos):
        decoded.extend(videos)
        if stop_at is not None and len(decoded) > stop_at:
            raise _Killed
        return real(gt, data_root, videos)

    monkeypatch.setattr(person_detection, "_video_frames", frames)
    return decoded


def test_clean_run_leaves_only_the_results(tiny, clean):
    from stad_helpers.data.gt import MultiSportsGT
    from stad_helpers.data.safe_pickle import safe_load
    from stad_helpers.person_detection import parts_dir

    gt = MultiSportsGT.load(layout.gt_file(tiny))
    results = safe_load(clean)
    assert [r["img_path"] for r in results] == [
        layout.rawframe_relpath(v, i) for v in gt.videos
        for i in range(1, gt.nframes[v] + 1)]
    assert sum(len(r["pred_instances"]["scores"]) for r in results) > 0
    assert not parts_dir(clean).exists()


def test_interrupted_run_resumes_without_redoing_finished_videos(
        tiny, random_ckpt, clean, tmp_path, monkeypatch):
    from stad_helpers.data.gt import MultiSportsGT
    from stad_helpers.person_detection import parts_dir

    videos = MultiSportsGT.load(layout.gt_file(tiny)).videos
    out = tmp_path / "det.pkl"
    decoded = _count_decoded(monkeypatch, stop_at=2)
    with pytest.raises(_Killed):
        _detect(tiny, random_ckpt, out)
    assert decoded == videos[:3] and not out.exists()
    assert len(list(parts_dir(out).glob("*.pkl"))) == 2  # videos 0 and 1

    decoded = _count_decoded(monkeypatch)
    _detect(tiny, random_ckpt, out)
    assert decoded == videos[2:]  # finished videos are not redone
    assert out.read_bytes() == clean.read_bytes()
    assert not parts_dir(out).exists()


def test_parts_of_other_settings_are_redone(tiny, random_ckpt, tmp_path,
                                            monkeypatch):
    from stad_helpers.data.gt import MultiSportsGT
    from stad_helpers.data.safe_pickle import safe_load

    videos = MultiSportsGT.load(layout.gt_file(tiny)).videos
    out = tmp_path / "det.pkl"
    _count_decoded(monkeypatch, stop_at=2)
    with pytest.raises(_Killed):
        _detect(tiny, random_ckpt, out)  # score_thr 0.0
    decoded = _count_decoded(monkeypatch)
    _detect(tiny, random_ckpt, out, score_thr=0.6)
    assert decoded == videos  # a part at another threshold is stale
    scores = [s for r in safe_load(out) for s in r["pred_instances"]["scores"]]
    assert min(scores, default=1.0) >= 0.6


def test_a_damaged_part_is_a_clear_error(tiny, random_ckpt, tmp_path, monkeypatch):
    from stad_helpers.fileio import dump_pickle
    from stad_helpers.person_detection import parts_dir

    out = tmp_path / "det.pkl"
    _count_decoded(monkeypatch, stop_at=1)
    with pytest.raises(_Killed):
        _detect(tiny, random_ckpt, out)
    (part,) = parts_dir(out).glob("*.pkl")
    dump_pickle({"video": "someone/else", "frames": []}, part)
    monkeypatch.undo()
    with pytest.raises(StadError, match="delete the file") as err:
        _detect(tiny, random_ckpt, out)
    assert str(part) in str(err.value) and not out.exists()


def test_parts_folder_that_is_not_ours_is_refused(tiny, random_ckpt, tmp_path):
    from stad_helpers.person_detection import parts_dir

    out = tmp_path / "det.pkl"
    parts_dir(out).mkdir()
    (parts_dir(out) / "notes.txt").write_text("mine")
    with pytest.raises(StadError, match="not made by stad"):
        _detect(tiny, random_ckpt, out)
    assert (parts_dir(out) / "notes.txt").read_text() == "mine"


def test_stad_detect_launcher_needs_torchrun_and_no_device(tiny, random_ckpt,
                                                            tmp_path, capsys,
                                                            monkeypatch):
    from stad_helpers.cli import main

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"):
        monkeypatch.delenv(name, raising=False)
    args = ["detect", str(SLIM), str(random_ckpt), "--data", str(tiny), "--out",
            str(tmp_path / "d.pkl"), "--launcher", "pytorch"]
    assert main(args) != 0
    assert "torchrun" in capsys.readouterr().err
    assert main([*args, "--device", "cpu"]) != 0
    assert "--device is for one process" in capsys.readouterr().err


# A torchrun process: record the videos it decodes (one file per rank), then run
# `stad detect` as the command line does.
_RECORDING_DETECT = """
import os, sys
from stad_helpers import person_detection
from stad_helpers.cli import main

real = person_detection._video_frames
log = os.path.join(sys.argv[1], "rank%s.txt" % os.environ["RANK"])
open(log, "w").close()

def frames(gt, data_root, videos):
    with open(log, "a") as fh:
        fh.writelines(v + "\\n" for v in videos)
    return real(gt, data_root, videos)

person_detection._video_frames = frames
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_torchrun_two_processes_write_the_one_process_file(
        tiny, random_ckpt, clean, tmp_path, monkeypatch):
    """2 CPU processes share out the videos left by an interrupted run, by frame
    count, decode each once, and rank 0 writes the bytes one process writes."""
    from _torchrun import torchrun

    from stad_helpers.data.gt import MultiSportsGT
    from stad_helpers.person_detection import parts_dir

    gt = MultiSportsGT.load(layout.gt_file(tiny))
    out = tmp_path / "det.pkl"
    _count_decoded(monkeypatch, stop_at=1)
    with pytest.raises(_Killed):
        _detect(tiny, random_ckpt, out)  # video 0 done
    script = tmp_path / "recording_detect.py"
    script.write_text(_RECORDING_DETECT)
    done = torchrun(str(script), str(tmp_path), "detect", str(SLIM),
                    str(random_ckpt), "--data", str(tiny), "--out", str(out),
                    "--score-thr", "0", "--batch-size", "3", "--launcher",
                    "pytorch")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert done.stdout.count(str(out)) == 1  # rank 0 reports

    per_rank = [(tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    todo = gt.videos[1:]
    shards = shard_by_weight([gt.nframes[v] for v in todo], 2)
    assert per_rank == [[todo[i] for i in shard] for shard in shards]
    assert all(per_rank)  # both processes worked
    assert out.read_bytes() == clean.read_bytes()
    assert not parts_dir(out).exists()


@pytest.mark.slow
def test_two_machines_without_shared_storage(tiny, random_ckpt, clean, tmp_path,
                                             monkeypatch):
    """Two "machines" (a torchrun each, one process each), each with its own copy
    of the dataset and its own output folder, machine 1 holding a video finished
    by an interrupted run: rank 0 fetches the parts only machine 1 has and writes
    the one-process bytes on machine 0; both machines' parts are removed."""
    from _torchrun import torchrun_nodes

    from stad_helpers.data.gt import MultiSportsGT
    from stad_helpers.person_detection import parts_dir

    gt = MultiSportsGT.load(layout.gt_file(tiny))
    nodes = [tmp_path / "node0", tmp_path / "node1"]
    for node in nodes:
        shutil.copytree(tiny, node / "data")
    outs = [node / "det.pkl" for node in nodes]
    _count_decoded(monkeypatch, stop_at=1)
    with pytest.raises(_Killed):
        _detect(nodes[1] / "data", random_ckpt, outs[1])  # video 0, on machine 1
    script = tmp_path / "recording_detect.py"
    script.write_text(_RECORDING_DETECT)
    done = torchrun_nodes([
        [str(script), str(tmp_path), "detect", str(SLIM), str(random_ckpt), "--data",
         str(node / "data"), "--out", str(out), "--score-thr", "0", "--batch-size",
         "3", "--launcher", "pytorch"] for node, out in zip(nodes, outs)])
    for status, log in done:
        assert status == 0, log[-3000:]

    per_rank = [(tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    todo = gt.videos[1:]
    assert per_rank == [[todo[i] for i in shard]
                        for shard in shard_by_weight([gt.nframes[v] for v in todo],
                                                     2)]
    assert outs[0].read_bytes() == clean.read_bytes()
    assert not outs[1].exists()
    assert not parts_dir(outs[0]).exists() and not parts_dir(outs[1]).exists()
