"""The GPU profile checked without a GPU: both of its models built on the CPU from
their configs, started from stand-ins of the tutorial's pretrained checkpoints,
trained two iterations and run once, at a reduced input size.

The stand-ins are made from the models themselves (same keys and shapes) and
written under the real files' names into a temporary torch hub cache, so the
configs' own `load_from` URLs are resolved by MMEngine's own loader
(`load_from_http` -> torch hub cache), as on a GPU machine after `stad weights
fetch`, with no network: the configs merge, the weights load, the data pipelines
feed the models and the outputs have the right shapes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _action_data import tiny_dataset

from stad_helpers.data import layout
from stad_helpers.errors import StadError

pytestmark = pytest.mark.slow

NO_VAL = {"val_cfg": None, "val_dataloader": None, "val_evaluator": None}
ONE_PROCESS = {"train_dataloader.num_workers": 0,
               "train_dataloader.persistent_workers": False}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: OpenMP threads spin-waiting on a shared 2-core machine
    run many times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache (`$TORCH_HOME/hub/checkpoints`), and no network:
    any download attempt fails the test."""
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def no_network(url, *args, **kwargs):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    return cache


def _build(cfg, scope: str):
    from mmengine.registry import MODELS, DefaultScope

    from stad_helpers.registry import register_all

    register_all()
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg.model)


def _stand_in(config: Path, scope: str, cache: Path, seed: int,
              shift: str) -> tuple[str, dict]:
    """A checkpoint of the config's model as written (its keys and shapes), saved
    under the file name of the config's `load_from` in `cache`. The tensor `shift`
    is moved by +1 so that the test can tell it was loaded. Returns the URL and
    the weights."""
    from stad_helpers import weights
    from stad_helpers.train import load_config

    cfg = load_config(config)
    (needed,) = weights.required([config])
    assert needed.url == cfg.load_from  # the tutorial's file, by URL
    torch.manual_seed(seed)
    model = _build(cfg, scope)
    model.init_weights()  # no init_cfg downloads: `load_from` holds every weight
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state[shift] += 1.0
    torch.save({"state_dict": state, "meta": {"epoch": 12}},
               cache / needed.file_name)
    return needed.url, state


@pytest.fixture(scope="module")
def det_data(tmp_path_factory) -> Path:
    """Two 160x120 videos, COCO person boxes and rawframes."""
    from stad_helpers.convert import det_anno, extract_frames
    from stad_helpers.data.synth import make_synthetic_dataset

    root = tmp_path_factory.mktemp("gpu_det") / "multisports"
    gt = make_synthetic_dataset(root, seed=5, videos=2, frames=24, width=160,
                                height=120, progress=False)
    det_anno(gt, layout.annotations_dir(root) / f"{layout.DET_ANNO_STEM}.json")
    extract_frames(root, root / "rawframes", workers=1, progress=False)
    return root


def test_gpu_person_detector_fine_tunes_from_the_coco_person_checkpoint(
        det_data, hub_cache, tmp_path):
    from mmdet.apis import inference_detector

    from stad_helpers.detector import load_detector, train_detector
    from stad_helpers.pipeline import profile_configs

    config = profile_configs("gpu")["det_config"]
    url, start = _stand_in(config, "mmdet", hub_cache, seed=1,
                           shift="backbone.conv1.weight")
    assert url.endswith("faster_rcnn_r50_fpn_1x_coco-person_20201216_175929-"
                        "d022e227.pth")
    small = {"train_dataloader.dataset.pipeline.2.scales": [(224, 160)],
             "test_dataloader.dataset.pipeline.1.scale": (224, 160)}
    # The tutorial's schedule (epochs, lr) on 4 images, 2 a batch: 2 iterations.
    ckpt = train_detector(config, data_root=det_data, work_dir=tmp_path / "det",
                          cfg_options={**NO_VAL, **ONE_PROCESS, **small,
                                       "train_cfg.max_epochs": 1,
                                       "train_dataloader.dataset.indices": 4})
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["meta"]["iter"] == 2
    trained = saved["state_dict"]
    assert trained.keys() == start.keys()
    # The frozen stem (frozen_stages=1) is the stand-in's, shift included: the
    # weights came from `load_from`; the heads were trained.
    assert torch.equal(trained["backbone.conv1.weight"], start["backbone.conv1.weight"])
    assert not torch.equal(trained["rpn_head.rpn_conv.weight"],
                           start["rpn_head.rpn_conv.weight"])
    assert trained["roi_head.bbox_head.fc_cls.weight"].shape == (2, 1024)

    # One inference (mmdet's API) on a frame of the tiny clip, at the small scale.
    model = load_detector(config, ckpt, "cpu", cfg_options=small)
    frame = next(iter(sorted((det_data / "rawframes").rglob("*.jpg"))))
    with torch.inference_mode():
        pred = inference_detector(model, str(frame)).pred_instances
    n = len(pred)
    assert 0 < n <= 100  # test_cfg.rcnn.max_per_img
    assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n,)
    assert set(pred.labels.tolist()) == {0}  # 'person'
    assert float(pred.bboxes[:, 2].max()) <= 160.5  # in the frame's own pixels
    assert float(pred.bboxes[:, 3].max()) <= 120.5


def test_gpu_action_detector_fine_tunes_from_the_multisports_checkpoint(
        hub_cache, tmp_path):
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS, DefaultScope

    from stad_helpers.action import action_options, train_action
    from stad_helpers.pipeline import profile_configs
    from stad_helpers.train import check_checkpoint, load_config

    config = profile_configs("gpu")["action_config"]
    url, start = _stand_in(config, "mmaction", hub_cache, seed=2,
                           shift="backbone.conv1.conv.weight")
    assert url.endswith("multisports-rgb_20230320-a1ca5e76.pth")
    assert start["roi_head.bbox_head.fc_cls.weight"].shape[0] == 66  # MultiSports
    data = tmp_path / "multisports"
    gt = tiny_dataset(data, videos=3, frames=32, width=128, height=96)
    small = {"train_dataloader.dataset.pipeline.3.scale_range": (64, 80),
             "train_dataloader.dataset.pipeline.4.size": 64}
    small_test = {"test_dataloader.dataset.pipeline.3.scale": (-1, 64)}
    # The tutorial's batch (2), lr and schedule, on 4 keyframes: 2 iterations.
    ckpt = train_action(config, data, tmp_path / "action",
                        cfg_options={**ONE_PROCESS, **small,
                                     "train_cfg.max_epochs": 1,
                                     "train_cfg.val_begin": 2,  # no validation
                                     "train_dataloader.dataset.indices": 4})
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["meta"]["iter"] == 2
    trained = saved["state_dict"]
    # Fine-tuned from the stand-in: the stem keeps its +1 shift (two small SGD
    # steps move it by far less); the 66-class head was replaced by the
    # dataset's classes.
    stem = "backbone.conv1.conv.weight"
    assert (trained[stem] - start[stem]).abs().max() < 0.05
    assert float(start[stem].mean()) > 0.9
    assert trained["roi_head.bbox_head.fc_cls.weight"].shape[0] == len(gt.labels)

    # One inference on a keyframe of the tiny clip, through the test pipeline.
    options = {**action_options(config, data), **small_test}
    cfg = load_config(config, options)
    model = _build(cfg, "mmaction").eval()
    check_checkpoint(model, ckpt, strict=True, source=config)  # weights_only load
    model.load_state_dict(torch.load(ckpt, map_location="cpu",
                                     weights_only=False)["state_dict"])
    with DefaultScope.overwrite_default_scope("mmaction"):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    sample = dataset[0]
    assert tuple(sample["inputs"].shape[-3:-2]) == (4,)  # 4 frames (4x16x1)
    assert sample["inputs"].shape[-2] == 64  # short side at the small scale
    with torch.inference_mode():
        (result,) = model.test_step(pseudo_collate([sample]))
    n = len(sample["data_samples"].proposals)
    assert result.pred_instances.bboxes.shape == (n, 4)
    assert result.pred_instances.scores.shape == (n, len(gt.labels))


def test_offline_without_the_weights_the_gpu_profile_stops_in_one_line(hub_cache):
    from stad_helpers import weights
    from stad_helpers.pipeline import profile_configs

    with pytest.raises(StadError) as info:
        weights.preflight(list(profile_configs("gpu").values()), download=False,
                          progress=False)
    text = str(info.value)
    assert "\n" not in text and "coco-person" in text
    assert f"to {hub_cache}" in text
