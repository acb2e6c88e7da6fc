# The tutorial's person detector (section 2), for GPU users: Faster R-CNN with a
# caffe-style ResNet-50 + FPN, multi-scale training, one class 'person', trained on
# the COCO boxes that `stad convert det-anno` writes and the frames that
# `stad convert frames` extracts.
#
#   stad train det configs/det/faster-rcnn_r50-caffe_fpn_ms-1x_multisports-person.py
#
# Pretrained weights are referenced by URL and downloaded only when training
# starts: the backbone from ImageNet (`init_cfg` below, as in MMDetection). To
# fine-tune from the COCO person detector the tutorial starts from instead, add
#   --cfg-options load_from=<coco_person_checkpoint below>
# Data paths: `data_root` below; `stad train det --data DIR` points every path of
# this file at another dataset folder.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50-caffe_fpn_ms-1x_coco.py'

data_root = 'data/multisports/'
coco_person_checkpoint = (
    'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/'
    'faster_rcnn_r50_fpn_1x_coco-person/'
    'faster_rcnn_r50_fpn_1x_coco-person_20201216_175929-d022e227.pth')
metainfo = dict(classes=('person', ), palette=[(220, 20, 60)])

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet50_caffe')),
    roi_head=dict(bbox_head=dict(num_classes=1)))

# The tutorial's schedule: 2 epochs at a constant learning rate.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=500)
]
optim_wrapper = dict(
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
