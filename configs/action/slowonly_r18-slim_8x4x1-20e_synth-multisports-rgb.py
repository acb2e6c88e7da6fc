# The CPU action detector: a slim SlowOnly (ResNet3d-18, 16 base channels, from
# scratch) that learns the synthetic dataset in about three minutes on two CPU
# cores. Same model family, dataset class, data layout and metric as the
# tutorial's MultiSports config it inherits from; what differs: the backbone, 8
# frames 4 apart at 128 px (short side), no dropout, AdamW, and a short schedule.
#
#   stad train action \
#       configs/action/slowonly_r18-slim_8x4x1-20e_synth-multisports-rgb.py
#
# Data paths: `data_root` below; `stad train action --data DIR` points every path
# (videos, AVA csvs, proposals, GT) at another dataset folder and takes the number
# of classes from its GT (`stad_helpers.action.data_options`).
_base_ = [
    'mmaction::detection/slowonly/'
    'slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb.py'
]

data_root = 'data/multisports/'
video_root = data_root + 'trainval'  # both splits' videos live in trainval/
anno_root = data_root + 'annotations'
ann_file_train = anno_root + '/multisports_train.csv'
ann_file_val = anno_root + '/multisports_val.csv'
gt_file = anno_root + '/multisports_GT.pkl'
proposal_file_train = anno_root + '/multisports_proposals_train.pkl'
proposal_file_val = anno_root + '/multisports_proposals_val.pkl'

# One output per label of the GT (MultiSports: 66; the synthetic dataset: 4).
# The head is a softmax over the labels, so label i of the GT is output i.
num_classes = 4
clip_len = 8
frame_interval = 4
short_side = 128
max_epochs = 20

base_channels = 8
model = dict(
    init_cfg=None,  # from scratch: no Kinetics weights on the CPU profile
    backbone=dict(
        depth=18,
        base_channels=base_channels,
        stage_blocks=(1, 1, 1, 1),  # one BasicBlock per stage
        inflate=(1, 1, 1, 1),  # 3x3x3 convs from the first stage: motion early
        pretrained=None),
    roi_head=dict(
        bbox_roi_extractor=dict(output_size=8),
        bbox_head=dict(
            in_channels=base_channels * 8,  # channels of the 4th stage
            num_classes=num_classes,
            dropout_ratio=0.0,
            topk=(1, 3))))

train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleAVAFrames', clip_len=clip_len, frame_interval=frame_interval),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(short_side, short_side * 5 // 4)),
    dict(type='RandomCrop', size=short_side),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]
# Validation and test (and `stad demo`, which samples its clips the same way):
# the clip around the keyframe, short side resized, no crop, no flip.
val_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(
        type='SampleAVAFrames',
        clip_len=clip_len,
        frame_interval=frame_interval,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, short_side)),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        ann_file=ann_file_train,
        pipeline=train_pipeline,
        num_classes=num_classes,
        proposal_file=proposal_file_train,
        data_prefix=dict(img=video_root)))
val_dataloader = dict(
    batch_size=1,  # AVARoIHead predicts one clip at a time
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        ann_file=ann_file_val,
        pipeline=val_pipeline,
        num_classes=num_classes,
        proposal_file=proposal_file_val,
        data_prefix=dict(img=video_root)))
test_dataloader = val_dataloader

# `stad evaluate` reports the metrics (and per-class AP); during training only
# the loss is logged, so validation runs only when asked for.
val_evaluator = dict(type='MultiSportsMetric', ann_file=gt_file, verbose=False)
test_evaluator = val_evaluator

train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=max_epochs + 1,
    val_interval=1)

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs,
         eta_min_ratio=0.02, convert_to_iter_based=True),
]
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=5, norm_type=2))

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=5, max_keep_ckpts=1, save_best=None))
auto_scale_lr = dict(enable=False, base_batch_size=8)
