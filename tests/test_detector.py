"""The person detector: configs, training (resume, torchrun, bad checkpoints), detect.

One tiny synthetic dataset (two short small videos) and one checkpoint trained for
a few iterations are made once per session; the slow tests share them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stad_helpers.data import layout
from stad_helpers.data.safe_pickle import safe_load
from stad_helpers.errors import StadError

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "det"
SLIM = CONFIGS / "faster-rcnn_r18-slim_fpn_256px-600it_synth-multisports-person.py"
R50 = CONFIGS / ("faster-rcnn_r50-caffe_fpn_coco-person-pretrained_ms-2e_"
                 "multisports-person.py")
# A few iterations, no validation, a checkpoint every 2 iterations, a log line
# every iteration: the settings of every training in this file.
QUICK = {
    "train_cfg.max_iters": 4,
    "val_cfg": None,
    "val_dataloader": None,
    "val_evaluator": None,
    "default_hooks.checkpoint.interval": 2,
    "default_hooks.logger.interval": 1,
    "train_dataloader.num_workers": 0,
    "train_dataloader.persistent_workers": False,
}


def _cli_options(options: dict) -> list[str]:
    return ["--cfg-options", *(f"{k}={v}" for k, v in options.items())]


def _load_checkpoint(path: Path) -> dict:
    """torch.load, once MMEngine's checkpoint module (and so the compat allowlist
    for the objects its checkpoints hold) is imported."""
    import mmengine.runner.checkpoint  # noqa: F401
    import torch

    return torch.load(path, map_location="cpu")


def _subprocess_env() -> dict:
    from _torchrun import subprocess_env

    return subprocess_env()


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One intra-op thread here too: OpenMP threads that spin-wait for each other
    on a shared 2-core machine run many times slower than one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """Two 160x120 videos of ~24 frames, with det-anno and rawframes converted."""
    from stad_helpers.convert import det_anno, extract_frames
    from stad_helpers.data.synth import make_synthetic_dataset

    root = tmp_path_factory.mktemp("det_data")
    gt = make_synthetic_dataset(root, seed=3, videos=2, frames=24, width=160,
                                height=120, progress=False)
    det_anno(gt, layout.annotations_dir(root) / f"{layout.DET_ANNO_STEM}.json")
    extract_frames(root, root / layout.RAWFRAMES, workers=1, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_ckpt(tiny_data, tmp_path_factory) -> Path:
    """The slim detector trained 4 iterations on `tiny_data`, validated at the end."""
    from stad_helpers.detector import train_detector

    work = tmp_path_factory.mktemp("det_train")
    quick = {k: v for k, v in QUICK.items() if not k.startswith("val_")}
    return train_detector(SLIM, data_root=tiny_data, work_dir=work,
                          cfg_options={**quick, "train_cfg.val_interval": 4,
                                       "train_cfg.val_begin": 1})


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------
def test_slim_config_is_small_from_scratch_and_one_class():
    import torch

    from stad_helpers.detector import load_detector  # noqa: F401 (registers)
    from stad_helpers.registry import register_all
    from stad_helpers.train import load_config

    register_all()
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope("mmdet")
    cfg = load_config(SLIM)
    assert cfg.data_root == "data/multisports/"
    assert cfg.model.backbone.init_cfg is None and cfg.get("load_from") is None
    assert cfg.model.roi_head.bbox_head.num_classes == 1
    assert cfg.train_dataloader.dataset.metainfo["classes"] == ("person",)
    model = MODELS.build(cfg.model)
    feats = model.backbone(torch.zeros(1, 3, 192, 256))
    assert [f.shape[1] for f in feats] == [16, 32, 64, 128]
    assert [f.shape[-1] for f in feats] == [64, 32, 16, 8]  # strides 4..32
    assert sum(p.numel() for p in model.parameters()) < 3e6


def test_tutorial_config_builds_on_cpu_without_downloading():
    from stad_helpers.registry import register_all
    from stad_helpers.train import load_config

    register_all()
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope("mmdet")
    cfg = load_config(R50)
    # Every weight comes from the tutorial's COCO person detector (`load_from`).
    assert cfg.model.backbone.init_cfg is None
    assert cfg.load_from.endswith("coco-person_20201216_175929-d022e227.pth")
    assert cfg.model.backbone.style == "caffe"
    assert cfg.train_dataloader.dataset.ann_file.endswith("det_anno_train.json")
    assert cfg.val_evaluator.ann_file == (
        "data/multisports/annotations/multisports_det_anno_val.json")
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)  # building never downloads; init_weights would
    assert model.roi_head.bbox_head.fc_cls.out_features == 2  # person + background


@pytest.mark.parametrize("config", [SLIM, R50], ids=["slim", "r50"])
def test_data_options_reroot_every_data_path(config, tmp_path):
    from stad_helpers.detector import data_options
    from stad_helpers.train import load_config

    new = tmp_path / "my data"
    cfg = load_config(config, data_options(config, new))
    found: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, str) and "multisports" in value:
            found.append(value)

    walk(cfg.to_dict())
    assert found  # the config does name data files
    assert not [s for s in found if s.startswith("data/multisports")]
    for split in ("train", "val", "test"):
        assert cfg[f"{split}_dataloader"].dataset.data_root == f"{new}/"
    assert cfg.val_evaluator.ann_file == (
        f"{new}/annotations/multisports_det_anno_val.json")
    assert cfg.train_dataloader.dataset.ann_file == (
        "annotations/multisports_det_anno_train.json")  # relative: unchanged


def test_cfg_options_parse_like_mmengine():
    from stad_helpers.cli.train import parse_cfg_options

    opts = parse_cfg_options(["train_cfg.max_iters=7", "a.b=[1,2]", "c=None",
                              "d=abc"])
    assert opts == {"train_cfg.max_iters": 7, "a.b": [1, 2], "c": None, "d": "abc"}


def test_overriding_max_iters_moves_the_end_of_the_lr_schedule():
    from stad_helpers.detector import _stretch_schedule
    from stad_helpers.train import load_config

    cfg = load_config(SLIM)
    assert cfg.param_scheduler[1].end == cfg.train_cfg.max_iters == cfg.max_iters
    assert cfg.max_iters > 300
    assert _stretch_schedule(SLIM, {"train_cfg.max_iters": 300}) == {
        "param_scheduler.1.end": 300}
    # Shorter than the warm-up: the cosine never starts; the user's own
    # schedulers are left alone.
    assert _stretch_schedule(SLIM, {"train_cfg.max_iters": 40}) == {}
    assert _stretch_schedule(SLIM, {"train_cfg.max_iters": 300,
                                    "param_scheduler.1.end": 250}) == {}


def test_training_without_data_names_the_missing_file(tmp_path):
    from stad_helpers.detector import train_detector

    with pytest.raises(StadError, match="stad convert det-anno"):
        train_detector(SLIM, data_root=tmp_path, work_dir=tmp_path / "w")


def test_launcher_outside_torchrun_is_a_clear_error(monkeypatch):
    import torch

    from stad_helpers.train import launcher_options

    assert launcher_options("none") == {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for var in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(StadError, match="torchrun"):
        launcher_options("pytorch")


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_slim_detector_trains_and_validates_with_coco_metric(tiny_ckpt):
    assert tiny_ckpt.name == "iter_4.pth" and tiny_ckpt.is_file()
    ckpt = _load_checkpoint(tiny_ckpt)
    assert ckpt["meta"]["iter"] == 4
    assert ckpt["meta"]["dataset_meta"]["classes"] == ("person",)
    # The validation at the end ran COCO bbox evaluation on the val annotation.
    scalars = list(tiny_ckpt.parent.glob("*/vis_data/scalars.json"))
    metrics = [json.loads(line) for line in scalars[0].read_text().splitlines()]
    assert any("coco/bbox_mAP_50" in m for m in metrics)
    assert [m["iter"] for m in metrics if "loss" in m] == [1, 2, 3, 4]


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_checkpoint(tiny_data, tmp_path):
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "stad_helpers.cli", "train", "det", str(SLIM),
           "--data", str(tiny_data), "--work-dir", str(work),
           *_cli_options({**QUICK, "train_cfg.max_iters": 10})]
    log = tmp_path / "first.log"
    with open(log, "wb") as out:
        first = subprocess.Popen(cmd, cwd=ROOT, env=_subprocess_env(), stdout=out,
                                 stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 240
        while not (work / "last_checkpoint").exists():
            assert first.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 4 minutes"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)  # mid-way: as hard as a power cut
        assert first.wait() == -signal.SIGKILL
    killed_at = Path((work / "last_checkpoint").read_text().strip())
    assert killed_at.name in ("iter_2.pth", "iter_4.pth", "iter_6.pth")
    runs_before = set(work.glob("2*"))

    done = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=_subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("iter_10.pth")

    final = _load_checkpoint(work / "iter_10.pth")
    assert final["meta"]["iter"] == 10
    # The resumed run trained only the iterations after the checkpoint.
    (new_run,) = set(work.glob("2*")) - runs_before
    scalars = (new_run / "vis_data" / "scalars.json").read_text().splitlines()
    logged = [m["iter"] for m in map(json.loads, scalars) if "loss" in m]
    start = int(killed_at.stem.split("_")[1])
    assert logged == list(range(start + 1, 11))


@pytest.mark.slow
def test_checkpoint_of_another_model_is_a_clear_error(tiny_data, tiny_ckpt, tmp_path):
    from stad_helpers.detector import train_detector

    # The R50 trains by epochs: a max_iters would be refused first.
    r50_quick = {**{k: v for k, v in QUICK.items() if k != "train_cfg.max_iters"},
                 "train_cfg.max_epochs": 1}
    # Fine-tuning the R50 detector from the slim detector's weights.
    with pytest.raises(StadError, match="does not match the model") as err:
        train_detector(R50, data_root=tiny_data, work_dir=tmp_path / "a",
                       cfg_options={**r50_quick, "load_from": str(tiny_ckpt)})
    assert str(tiny_ckpt) in str(err.value) and R50.name in str(err.value)

    # Resuming a work dir whose last checkpoint is of another config.
    work = tmp_path / "b"
    work.mkdir()
    (work / "last_checkpoint").write_text(str(tiny_ckpt))
    with pytest.raises(StadError, match="does not match the model"):
        train_detector(R50, data_root=tiny_data, work_dir=work, resume=True,
                       cfg_options=r50_quick)

    # Something that is no checkpoint at all.
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(StadError, match="cannot load checkpoint"):
        train_detector(SLIM, data_root=tiny_data, work_dir=tmp_path / "c",
                       cfg_options={**QUICK, "load_from": str(junk)})


@pytest.mark.slow
def test_torchrun_trains_two_iterations_with_two_cpu_processes(tiny_data, tmp_path):
    from _torchrun import torchrun_train

    work = tmp_path / "dist"
    stdout = torchrun_train("det", str(SLIM), "--data", str(tiny_data), "--work-dir",
                            str(work),
                            *_cli_options({**QUICK, "train_cfg.max_iters": 2}))
    assert stdout.strip().splitlines()[-1].endswith("iter_2.pth")  # rank 0 only

    ckpt = _load_checkpoint(work / "iter_2.pth")
    assert ckpt["meta"]["iter"] == 2
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])


# ---------------------------------------------------------------------------
# Detection over every frame
# ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def detections(tiny_data, tiny_ckpt, tmp_path_factory) -> dict[str, Path]:
    from stad_helpers.detector import detect

    out = tmp_path_factory.mktemp("detect")
    return {
        source: detect(SLIM, tiny_ckpt, tiny_data, out / f"{source}.pkl",
                       source=source, score_thr=0.0, batch_size=4, progress=False)
        for source in ("video", "rawframes")
    }


@pytest.mark.slow
def test_detect_writes_numpy_results_for_every_frame(tiny_data, detections):
    from stad_helpers.data.gt import MultiSportsGT

    gt = MultiSportsGT.load(layout.gt_file(tiny_data))
    results = safe_load(detections["video"])  # numpy only: loads safely
    expected = [layout.rawframe_relpath(v, i) for v in gt.videos
                for i in range(1, gt.nframes[v] + 1)]
    assert [r["img_path"] for r in results] == expected
    for r in results:
        video = r["img_path"].rsplit("/", 1)[0]
        assert r["ori_shape"] == tuple(gt.resolution[video])
        pred = r["pred_instances"]
        n = len(pred["scores"])
        assert pred["bboxes"].dtype == np.float32 and pred["bboxes"].shape == (n, 4)
        assert pred["scores"].dtype == np.float32 and pred["labels"].shape == (n,)
        assert (pred["labels"] == 0).all()
        assert np.all(pred["bboxes"][:, 2:] >= pred["bboxes"][:, :2])


@pytest.mark.slow
def test_rawframes_route_equals_mmdet_inference(tiny_data, tiny_ckpt, detections):
    """Our batched rawframes route gives what mmdet's own `inference_detector` does."""
    from mmdet.apis import inference_detector, init_detector

    results = safe_load(detections["rawframes"])
    model = init_detector(str(SLIM), str(tiny_ckpt), device="cpu")
    for r in results[::9]:
        ref = inference_detector(model, str(tiny_data / "rawframes" / r["img_path"]))
        ref = ref.pred_instances.numpy()
        np.testing.assert_allclose(r["pred_instances"]["bboxes"], ref.bboxes,
                                   atol=1e-3)
        np.testing.assert_allclose(r["pred_instances"]["scores"], ref.scores,
                                   atol=1e-5)


@pytest.mark.slow
def test_video_route_equals_rawframes_route_on_equal_pixels(
        tiny_data, tiny_ckpt, detections, tmp_path, monkeypatch):
    """Fed the rawframes' pixels, the video route gives the rawframes route's boxes.

    The two routes then differ only in JPEG's loss, which is small (checked too).
    """
    import cv2

    import stad_helpers.video
    from stad_helpers.detector import detect

    def jpeg_frames(path, rgb=False):  # the video's rawframes, decoded by OpenCV
        folder = tiny_data / "rawframes" / path.parent.name / path.stem
        for jpg in sorted(folder.glob("*.jpg")):
            yield cv2.imread(str(jpg))

    real_frames = list(stad_helpers.video.iter_frames(
        next((tiny_data / "trainval").rglob("*.mp4"))))
    monkeypatch.setattr(stad_helpers.video, "iter_frames", jpeg_frames)
    out = detect(SLIM, tiny_ckpt, tiny_data, tmp_path / "v.pkl", source="video",
                 score_thr=0.0, batch_size=3, progress=False)
    via_video, via_jpeg = safe_load(out), safe_load(detections["rawframes"])
    assert len(via_video) == len(via_jpeg)
    for a, b in zip(via_video, via_jpeg):
        assert a["img_path"] == b["img_path"] and a["ori_shape"] == b["ori_shape"]
        for key in ("bboxes", "scores", "labels"):
            np.testing.assert_allclose(a["pred_instances"][key],
                                       b["pred_instances"][key], atol=1e-4)

    # Decoded video frames and their rawframes differ by JPEG noise (~3.6 levels
    # on this cluttered synthetic texture at quality 95) and the YUV->BGR
    # conversion (PyAV's vs OpenCV's, ~1.7); both are BGR: swapping the channels
    # of one makes them far apart.
    video = np.stack(real_frames).astype(int)
    jpegs = np.stack(list(jpeg_frames(next((tiny_data / "trainval").rglob("*.mp4")))))
    assert video.shape == jpegs.shape
    diff = np.abs(video - jpegs).mean()
    assert diff < 6
    assert np.abs(video[..., ::-1] - jpegs).mean() > 3 * diff


@pytest.mark.slow
def test_ap50_of_detections_equals_the_validation_run(tiny_data, tiny_ckpt,
                                                      detections):
    """Scoring `detect`'s results gives the AP the training's validation gave."""
    from stad_helpers.evaluate import detector_ap50

    val_anno = layout.det_anno_file(layout.annotations_dir(tiny_data), "test")
    ours = detector_ap50(detections["rawframes"], val_anno)
    scalars = next(tiny_ckpt.parent.glob("*/vis_data/scalars.json"))
    val = [json.loads(line) for line in scalars.read_text().splitlines()]
    val = next(m for m in val if "coco/bbox_mAP_50" in m)
    assert ours == pytest.approx(val["coco/bbox_mAP_50"], abs=1e-3)


@pytest.mark.slow
def test_detect_errors_name_the_file(tiny_data, tiny_ckpt, tmp_path):
    import shutil

    from stad_helpers.detector import detect

    with pytest.raises(StadError, match="does not match the model"):
        detect(R50, tiny_ckpt, tiny_data, tmp_path / "x.pkl", progress=False)
    copy = tmp_path / "data"
    shutil.copytree(tiny_data / "annotations", copy / "annotations")
    with pytest.raises(StadError, match="stad convert frames"):
        detect(SLIM, tiny_ckpt, copy, tmp_path / "x.pkl", source="rawframes",
               progress=False)
    with pytest.raises(StadError, match="not found"):
        detect(SLIM, tiny_ckpt, copy, tmp_path / "x.pkl", progress=False)
    assert not (tmp_path / "x.pkl").exists()


@pytest.mark.slow
def test_stad_detect_cli_writes_results_and_proposals(tiny_data, tiny_ckpt, tmp_path):
    """The command in a fresh process, as users run it (checkpoint loading there
    must not depend on anything an earlier training left in memory)."""
    out, props = tmp_path / "det.pkl", tmp_path / "props.pkl"
    done = subprocess.run(
        [sys.executable, "-m", "stad_helpers.cli", "detect", str(SLIM), str(tiny_ckpt),
         "--data", str(tiny_data), "--out", str(out), "--proposals", str(props),
         "--score-thr", "0", "--min-coverage", "0", "--batch-size", "4",
         "--action-config", str(ACTION)],
        cwd=ROOT, env=_subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    from stad_helpers.data.gt import MultiSportsGT

    gt = MultiSportsGT.load(layout.gt_file(tiny_data))
    assert len(safe_load(out)) == sum(gt.nframes.values())
    val = safe_load(tmp_path / "props_val.pkl")
    assert val and safe_load(tmp_path / "props_train.pkl")
    key, boxes = next(iter(val.items()))
    assert key.split(",")[0].endswith(".mp4") and len(key.split(",")[1]) == 4
    assert boxes.shape[1] == 5 and 0 <= boxes[:, :4].min() <= boxes[:, :4].max() <= 1
    assert "props_val.pkl" in done.stdout
    # Recall is reported at the action config's proposal threshold, and says so.
    assert f"recall measured at 0.5: person_det_score_thr of {ACTION}" in done.stdout


def test_stad_detect_with_missing_data_prints_one_line(tmp_path, capsys):
    from stad_helpers.cli import main

    (tmp_path / "det.pth").write_bytes(b"")
    code = main(["detect", str(SLIM), str(tmp_path / "det.pth"), "--data",
                 str(tmp_path), "--out", str(tmp_path / "x.pkl")])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert layout.GT_FILE in err


ACTION = ROOT / "configs/action/slowonly_r18-slim_8x4x1-8e_synth-multisports-rgbdiff.py"


def test_make_proposals_measures_recall_at_the_action_configs_threshold(tmp_path):
    from stad_helpers.data.gt import MultiSportsGT
    from stad_helpers.data.synth import make_synthetic_dataset
    from stad_helpers.detector import make_proposals
    from stad_helpers.train import load_config

    gt = MultiSportsGT.load(make_synthetic_dataset(
        tmp_path / "data", videos=3, frames=24, write_videos=False, progress=False))
    table = gt.box_table(gt.videos)
    results = []  # every annotated person found, scoring 0.6
    for v, f in sorted({(int(v), int(f)) for v, f in zip(table.video, table.frame)}):
        rows = (table.video == v) & (table.frame == f)
        h, w = gt.resolution[gt.videos[v]]
        results.append({"img_path": layout.rawframe_relpath(gt.videos[v], f),
                        "ori_shape": (h, w),
                        "pred_instances": {"bboxes": table.xyxy[rows],
                                           "scores": np.full(rows.sum(), 0.6)}})
    want = load_config(ACTION).val_dataloader.dataset.person_det_score_thr
    report = make_proposals(results, tmp_path / "data", tmp_path / "p.pkl",
                            action_config=ACTION)
    assert report["score_thr"] == want == 0.5
    assert report["score_thr_source"] == f"person_det_score_thr of {ACTION}"
    assert report["recall"] == {"train": 1.0, "val": 1.0}
    report = make_proposals(results, tmp_path / "data", tmp_path / "q.pkl",
                            score_thr=0.7)
    assert (report["score_thr"], report["score_thr_source"]) == (
        0.7, "--person-det-score-thr")
    report = make_proposals(results, tmp_path / "data", tmp_path / "r.pkl")
    assert report["score_thr"] == 0.9 and "default" in report["score_thr_source"]


def test_stad_detect_threshold_flags_need_proposals(tmp_path, capsys):
    from stad_helpers.cli import main

    (tmp_path / "annotations").mkdir()
    (tmp_path / "det.pth").write_bytes(b"")
    code = main(["detect", str(SLIM), str(tmp_path / "det.pth"), "--data",
                 str(tmp_path), "--out", str(tmp_path / "x.pkl"),
                 "--person-det-score-thr", "0.5"])
    err = capsys.readouterr().err
    assert code == 1 and "only matter with --proposals" in err
    assert not (tmp_path / "x.pkl").exists()
