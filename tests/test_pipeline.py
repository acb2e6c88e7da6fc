"""A tiny end to end: every stage of `stad run-all` connects and every output loads.

Few small videos and a handful of iterations: this proves the plumbing, not the
accuracy (benchmarks/bench_tutorial.py measures that on the default dataset).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from stad_helpers.data import layout
from stad_helpers.data.safe_pickle import safe_load
from stad_helpers.errors import StadError
from stad_helpers.pipeline import Tutorial, run_all
from stad_helpers.train import resolve_device

TINY = dict(
    synth_options=dict(videos=4, frames=48, width=160, height=120),
    cfg_options={
        "det": {"train_cfg.max_iters": 3, "train_cfg.val_interval": 3,
                "train_dataloader.batch_size": 2},
        "action": {"train_cfg.max_epochs": 1, "train_dataloader.batch_size": 4},
    },
    min_coverage=0.0,  # a 3-iteration detector finds few people
    progress=False,
)
STAGES = ["dataset", "det_anno", "frames", "train_det", "detect", "proposals", "ava",
          "train_action", "evaluate", "demo"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("run_all")
    return work, run_all("cpu", work_dir=work, **TINY)


@pytest.mark.slow
def test_every_stage_runs_and_writes_its_outputs(tiny_run):
    import av

    work, result = tiny_run
    assert list(result.seconds)[:-1] == STAGES and result.skipped == []
    summary = json.loads((work / "summary.json").read_text())
    for key in ("det_ap50", "frame_map", "video_map_0.2", "video_map_0.5"):
        assert 0.0 <= summary[key] <= 1.0, key
    assert set(STAGES) <= set(summary["seconds"])
    assert summary["profile"] == "cpu" and summary["device"] == resolve_device()
    assert summary["paths"]["det_checkpoint"] == "det/iter_3.pth"

    anno = layout.annotations_dir(work / "data" / "multisports")
    results = safe_load(work / "det" / "det_results.pkl")
    assert {"img_path", "ori_shape", "pred_instances"} <= set(results[0])
    for split in ("train", "val"):
        props = safe_load(layout.proposals_file(anno, split))
        for key, boxes in props.items():
            assert key == layout.ava_key(*layout.parse_ava_key(key))  # 'v.mp4,0017'
            assert key.endswith(tuple("0123456789"))
            assert boxes.ndim == 2 and boxes.shape[1] == 5
            assert np.all((boxes[:, :4] >= 0) & (boxes[:, :4] <= 1))
        assert layout.ava_csv(anno, split).stat().st_size > 0
    per_class = json.loads((work / "eval" / "metrics.json").read_text())["per_class"]
    assert len(per_class) == 4
    with av.open(str(work / "demo" / "demo.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    demo = json.loads((work / "demo" / "demo.json").read_text())
    assert demo["frames"]


@pytest.mark.slow
def test_second_run_skips_every_up_to_date_stage(tiny_run):
    work, _ = tiny_run
    again = run_all("cpu", work_dir=work, **TINY)
    assert again.skipped == STAGES


@pytest.mark.slow
def test_a_changed_input_reruns_what_depends_on_it(tiny_run, tmp_path):
    work, _ = tiny_run
    tutorial = Tutorial("cpu", work_dir=work, **TINY)
    csv = layout.ava_csv(tutorial.anno_dir, "train")
    csv.unlink()  # a stage output gone: that stage reruns, not the ones before
    assert tutorial.why_stale("ava") == "outputs missing: ava_train"
    assert tutorial.up_to_date("detect")
    tutorial.ensure("ava")
    assert "ava" not in tutorial.skipped and "detect" in tutorial.skipped
    # The csv came back as it was: nothing after it needs to run again.
    assert tutorial.plan("demo") == []


@pytest.mark.slow
def test_a_copied_work_dir_is_up_to_date_and_uses_its_own_checkpoints(
        tiny_run, tmp_path):
    import shutil

    work, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(work, copy)
    hidden = work.with_name(work.name + "-hidden")
    work.rename(hidden)  # the original is gone while the copy is checked
    try:
        tutorial = Tutorial("cpu", work_dir=copy, **TINY)
        assert tutorial.plan("demo") == []
        assert tutorial.det_checkpoint().parent == copy / "det"
        assert (copy / "det" / "last_checkpoint").read_text() == (
            tutorial.det_checkpoint().name)  # relative: the work dir can move
    finally:
        hidden.rename(work)


def test_user_data_without_annotation_is_a_clear_error(tmp_path):
    with pytest.raises(StadError, match="annotation missing"):
        Tutorial("cpu", data=tmp_path, work_dir=tmp_path / "w").ensure("dataset")


def test_unknown_stage_and_profile(tmp_path):
    with pytest.raises(StadError, match="unknown profile"):
        Tutorial("tpu", work_dir=tmp_path)
    with pytest.raises(StadError, match="unknown stage"):
        Tutorial("cpu", work_dir=tmp_path).ensure("nope")
