# The CPU person detector: a slim Faster R-CNN trained from scratch in under five
# minutes on two CPU cores (~0.45 s per iteration of 4 images), good enough for the
# rest of the tutorial: bbox AP50 0.95 on the synthetic dataset's test split (the
# floor is 0.9; benchmarks/README.md).
#
#   stad train det \
#       configs/det/faster-rcnn_r18-slim_fpn_256px-600it_synth-multisports-person.py
#
# Same model family and data layout as the tutorial's
# `faster-rcnn_r50-caffe_fpn_coco-person-pretrained_ms-2e_multisports-person.py`;
# what differs: a ResNet-18 with a quarter of the channels (16/32/64/128), a
# 32-channel FPN and small heads, no pretrained weights, 256 px inputs, 600
# iterations with a cosine learning rate. `stad train det ... --cfg-options
# train_cfg.max_iters=N` ends the cosine at N too (`max_iters` below is read
# once, when this file is loaded).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

data_root = 'data/multisports/'
metainfo = dict(classes=('person', ), palette=[(220, 20, 60)])
max_iters = 600
image_scale = (256, 256)  # longest side at most 256 px, aspect ratio kept

model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        # 2x2 samples per RoI bin, not ~(RoI size / 7)^2: RoIAlign and NMS, not
        # the convolutions, dominate this model's time on a CPU.
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=256, num_classes=1)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=300, max_per_img=200),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/multisports_det_anno_train.json',
        data_prefix=dict(img='rawframes/'),
        metainfo=metainfo,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/multisports_det_anno_val.json',
        data_prefix=dict(img='rawframes/'),
        metainfo=metainfo,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/multisports_det_anno_val.json')
test_evaluator = val_evaluator

# No validation while training: `stad detect` runs the detector over every frame
# next and `stad evaluate` scores those detections (bbox AP50). To validate during
# training, pass e.g. `train_cfg.val_begin=1 train_cfg.val_interval=200`.
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
    val_begin=max_iters + 1, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters,
         eta_min_ratio=0.01),
]
optim_wrapper = dict(
    optimizer=dict(lr=0.02),
    clip_grad=dict(max_norm=35, norm_type=2))

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(by_epoch=False, interval=200, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
