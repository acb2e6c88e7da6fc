"""The concept pictures of the notebooks (`stad_helpers.viz.concepts_*`), on tiny data.

Shared by the notebook modules: each section tests one module.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from stad_helpers.data import layout  # noqa: E402
from stad_helpers.data.gt import MultiSportsGT  # noqa: E402
from stad_helpers.data.synth import make_synthetic_dataset  # noqa: E402
from stad_helpers.errors import StadError  # noqa: E402


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("concepts") / "multisports"
    make_synthetic_dataset(root, videos=4, frames=48, width=160, height=120,
                           progress=False)
    return root, MultiSportsGT.load(layout.gt_file(root))


# ---- concepts_data (01_dataset, 02_person_detector) ----------------------------
def test_pipeline_diagram_names_both_stages_and_the_action_model():
    from stad_helpers.viz import plot_pipeline

    fig = plot_pipeline()
    texts = {t.get_text() for t in fig.axes[0].texts}
    for part in ("person detector", "proposals", "action detector", "3D backbone",
                 "RoIAlign per box", "classifier", "tubes"):
        assert part in texts
    plt.close(fig)


def test_class_strips_show_one_row_per_label(tiny_data):
    from stad_helpers.viz import plot_class_strips

    root, gt = tiny_data
    fig = plot_class_strips(gt, root, frames=3)
    assert len(fig.axes) == 3 * len(gt.labels)
    rows = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert rows == gt.labels
    titles = [ax.get_title() for ax in fig.axes[:3]]  # frames rise along a strip
    frames = [int(t.split()[-1]) for t in titles]
    assert frames == sorted(frames) and len(set(frames)) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="frames must be >= 1"):
        plot_class_strips(gt, root, frames=0)


def test_idle_people_frame_shows_both_kinds(tiny_data):
    from stad_helpers.viz import plot_idle_people
    from stad_helpers.viz.concepts_data import idle_frame

    root, gt = tiny_data
    video, frame = idle_frame(gt)
    fig = plot_idle_people(gt, root, video, frame)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "idle" in labels and set(labels) - {"idle"} <= set(gt.labels)
    assert len(set(labels) - {"idle"}) >= 1
    plt.close(fig)
    no_idle = MultiSportsGT.from_dict(gt.to_dict())
    no_idle.extra = {}
    with pytest.raises(StadError, match="no idle_tubes"):
        idle_frame(no_idle)


def test_coco_record_and_picture(tmp_path, tiny_data):
    from PIL import Image

    from stad_helpers.viz import coco_record, plot_coco_image

    Image.new("RGB", (40, 30)).save(tmp_path / "a.jpg")
    coco = {"images": [{"id": 7, "file_name": "a.jpg", "width": 40, "height": 30}],
            "annotations": [{"id": 1, "image_id": 7, "bbox": [1, 2, 10, 20]},
                            {"id": 2, "image_id": 8, "bbox": [0, 0, 1, 1]}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    record = coco_record(tmp_path / "coco.json")
    assert record["image"]["id"] == 7
    assert [a["id"] for a in record["annotations"]] == [1]
    fig = plot_coco_image(coco, tmp_path)
    (rect,) = [p for p in fig.axes[0].patches if p.get_width() == 10]
    assert rect.get_xy() == (1, 2) and rect.get_height() == 20
    plt.close(fig)
    with pytest.raises(StadError, match="has 1 images"):
        coco_record(coco, 3)
    with pytest.raises(StadError, match="not found"):
        plot_coco_image(coco, tmp_path / "nowhere")


def test_config_diff_lists_only_what_the_config_changes(tmp_path, capsys):
    from stad_helpers.viz import config_diff, print_config_diff

    (tmp_path / "base.py").write_text(
        "model = dict(depth=50, width=2, init_cfg=dict(type='Pretrained'))\n"
        "pipeline = [dict(type='Load'), dict(type='Resize', scale=(1333, 800))]\n"
        "lr = 0.02\n")
    (tmp_path / "child.py").write_text(
        "_base_ = './base.py'\n"
        "model = dict(depth=18, init_cfg=None)\n"
        "pipeline = [dict(type='Load'), dict(type='Resize', scale=(256, 256))]\n"
        "max_iters = 600\n")
    diff = config_diff(tmp_path / "child.py")
    assert diff == {"model.depth": (50, 18),
                    "model.init_cfg": ({"type": "Pretrained"}, None),
                    "pipeline[1].scale": ((1333, 800), (256, 256)),
                    "max_iters": ("(not in base)", 600)}
    assert "lr" not in diff and "model.width" not in diff
    assert config_diff(tmp_path / "child.py", {"lr": 0.1})["lr"] == (0.02, 0.1)
    print_config_diff(tmp_path / "child.py", only=("model",))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("child.py: ") and "./base.py" in out[0]
    assert "  model.depth: 50 -> 18" in out and not any("max_iters" in o for o in out)
    with pytest.raises(StadError, match="config file not found"):
        config_diff(tmp_path / "nope.py")
