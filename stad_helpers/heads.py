"""The CPU action config's classification head: MMAction2's `BBoxHeadAVA` plus a
"no action" output.

Every person the detector finds gets a box, also people standing by. MMAction2's
`BBoxHeadAVA` never learns from them: it drops the proposals that match no
annotated person ("negatives") from its loss, and a softmax over the actions
alone must then give a bystander's box one action or another, often with a high
score. On the synthetic data (an idle actor in every video) that halves the
frame-mAP of a model that recognizes the acting people well.

`BBoxHeadAVANoAction` has one more output than actions. A negative proposal
(IoU below the assigner's `neg_iou_thr` with every annotated person: in
practice, someone not acting) is trained towards it; at inference its softmax
share is dropped, so the returned scores have one column per action, as
`BBoxHeadAVA`'s, and a bystander's scores are all low. Everything downstream
(MultiSportsMetric, the demo) is unchanged. It works with any number of actions,
one included (then it tells "the action" from "no action"). Set the RoI
assigner's `neg_iou_thr` well below `pos_iou_thr` (the CPU config: 0.3 and 0.5)
so that a slightly misplaced box on an acting person is ignored, not taught to
be "no action".

The configs that use it import this module (`custom_imports`), which registers
it with MMDetection's model registry (where MMAction2 registers `BBoxHeadAVA`).

Used in: 03_action_detector (through configs/action/*rgbdiff*.py).
"""

from __future__ import annotations

import torch
from mmaction.models.roi_heads.bbox_heads.bbox_head import BBoxHeadAVA
from mmdet.registry import MODELS


@MODELS.register_module()
class BBoxHeadAVANoAction(BBoxHeadAVA):
    """`BBoxHeadAVA` (single-label, no background column) with a "no action" output.

    `num_classes` counts the actions only, as in the dataset (any number from 1);
    the layer has one output more (`extra_outputs`). `topk` is accepted and
    unused: this head's loss logs `acc_action` and `acc_no_action` instead of
    `BBoxHeadAVA`'s recall@k (whose `k < num_classes` assertion would otherwise
    depend on the class count).
    """

    extra_outputs = 1

    def __init__(self, num_classes: int, **kwargs) -> None:
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        kwargs.update(background_class=False, multilabel=False, topk=())
        super().__init__(num_classes=num_classes + 1, **kwargs)
        self.num_actions = num_classes

    def loss_and_target(self, cls_score, rois, sampling_results, rcnn_train_cfg,
                        **kwargs) -> dict:
        """Soft-max cross-entropy over the actions plus "no action" (MMDet's
        `loss_and_target` hook of a RoI bbox head).

        Args:
            cls_score: `(R, num_actions + 1)` float logits for the R sampled RoIs.
            rois: `(R, 5)` RoIs (batch index, x1, y1, x2, y2 in pixels); unused
                beyond MMDet's signature.
            sampling_results: MMDet's per-image sampling results (their GT labels
                give the multi-hot targets).
            rcnn_train_cfg: The `train_cfg.rcnn` config.

        Returns:
            `{"loss_bbox": {"loss_action_cls", "acc_action", "acc_no_action"},
            "bbox_targets": (labels (R, num_actions) float, label_weights)}`;
            a RoI with several actions gets a target split evenly among them.
        """
        labels, label_weights = self.get_targets(sampling_results, rcnn_train_cfg)
        labels = labels[:, :self.num_actions].float()
        no_action = labels.sum(dim=1, keepdim=True) == 0  # negatives
        target = torch.cat([labels, no_action.float()], dim=1)
        target = target / target.sum(dim=1, keepdim=True)
        loss = torch.sum(-target * torch.log_softmax(cls_score, dim=1), dim=1)
        predicted = cls_score.argmax(dim=1)
        hit = target.gather(1, predicted[:, None]).squeeze(1) > 0
        losses = {
            "loss_action_cls": loss.mean(),
            "acc_action": hit[~no_action[:, 0]].float().mean().nan_to_num(0.0),
            "acc_no_action": hit[no_action[:, 0]].float().mean().nan_to_num(0.0),
        }
        return dict(loss_bbox=losses, bbox_targets=(labels, label_weights))

    def _predict_by_feat_single(self, roi, cls_score, img_meta, rcnn_test_cfg=None,
                                **kwargs):
        results = super()._predict_by_feat_single(roi, cls_score, img_meta,
                                                  rcnn_test_cfg, **kwargs)
        if results.scores is not None:
            results.scores = results.scores[:, :self.num_actions]
        return results


def extra_outputs(head_type: object) -> int:
    """Outputs a bbox head of config type `head_type` has beyond one per action.

    1 for `BBoxHeadAVANoAction` ("no action"), 0 for MMAction2's `BBoxHeadAVA`
    with `background_class=False` (the MultiSports configs) and unknown types.
    """
    name = str(head_type or "").split(".")[-1]
    head = MODELS.get(name) if name else None
    return int(getattr(head, "extra_outputs", 0) or 0)
