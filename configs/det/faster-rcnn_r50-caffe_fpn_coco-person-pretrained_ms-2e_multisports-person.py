# The tutorial's person detector (section 2, its
# `configs/faster-rcnn_r50-caffe_fpn_ms-1x_coco_ms_person.py`), the GPU profile's:
# Faster R-CNN, caffe-style ResNet-50 + FPN, multi-scale training, one class
# 'person', fine-tuned from MMDetection's COCO person detector for 2 epochs at a
# constant lr 0.005. On MultiSports-tiny (T4) the original reached bbox AP50 0.907.
#
#   stad weights fetch   # once, with internet (or --from DIR: files you brought)
#   stad train det \
#       configs/det/faster-rcnn_r50-caffe_fpn_coco-person-pretrained_ms-2e_multisports-person.py  # noqa: E501
#
# Weights: `load_from` is the tutorial's COCO person Faster R-CNN; it holds every
# tensor of this model (its head already has one class), so the ImageNet backbone
# initialisation of the base (`open-mmlab://detectron2/resnet50_caffe`) is switched
# off below: it would be downloaded only to be overwritten. The COCO person model
# was trained with pytorch-style input normalisation, this config (like the
# original) feeds caffe-style BGR; fine-tuning absorbs it, and we keep it to
# reproduce the original's figures. `stad_helpers.weights` lists, fetches and
# checks the file (MMEngine caches it in torch's hub folder, `checkpoints/`).
# Data paths: `data_root` below; `stad train det --data DIR` points every path of
# this file at another dataset folder.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50-caffe_fpn_ms-1x_coco.py'

data_root = 'data/multisports/'
metainfo = dict(classes=('person', ), palette=[(220, 20, 60)])

model = dict(
    backbone=dict(init_cfg=None),  # every weight comes from `load_from`
    roi_head=dict(bbox_head=dict(num_classes=1)))

# The tutorial's schedule: 2 epochs at a constant learning rate.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=500)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.0001))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/multisports_det_anno_train.json',
        data_prefix=dict(img='rawframes/'),
        metainfo=metainfo))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/multisports_det_anno_val.json',
        data_prefix=dict(img='rawframes/'),
        metainfo=metainfo))
test_dataloader = val_dataloader

val_evaluator = dict(
    ann_file=data_root + 'annotations/multisports_det_anno_val.json',
    metric_items=['mAP_50', 'AR@100'],
    iou_thrs=[0.5])
test_evaluator = val_evaluator

load_from = (
    'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/'
    'faster_rcnn_r50_fpn_1x_coco-person/'
    'faster_rcnn_r50_fpn_1x_coco-person_20201216_175929-d022e227.pth')
