# The CPU action detector: a slim SlowOnly trained from scratch on the synthetic
# dataset in about three minutes on two CPU cores. Same detector (FastRCNN with an
# AVA RoI head), dataset class, data layout and metric as the tutorial's MultiSports
# config it inherits from. What differs, and why:
# - the backbone: ResNet3d-18 layout with one block per stage and 8 base channels
#   (0.2 M parameters), 3x3x3 convolutions from the first stage (motion early);
# - the input: 8 frames 4 apart at 128 px (short side), turned into temporal
#   differences (`TemporalDiff`, stad_helpers/transforms.py). The synthetic actions
#   differ only in how people move; from raw RGB a small model fits the few dozen
#   training actors by their looks and places and stays near chance on new ones
#   (and within this budget does not even start to learn from RGB);
# - the head averages over the box (not max): "both arms move" vs "one arm moves"
#   is an amount of motion, which a spatial max cannot tell apart;
# - the head has a "no action" output (`BBoxHeadAVANoAction`, stad_helpers/heads.py):
#   people the detector finds but who do not act (proposals with IoU < 0.3 with
#   every annotated person) are trained towards it, so bystanders get low action
#   scores instead of one action or another (upstream's head ignores them);
# - AdamW, warm-up then cosine, 8 epochs; no dropout; light logging;
# - proposals down to a detector score of 0.5 are used (`person_det_score_thr`;
#   AVADataset's default is 0.9). The slim detector from scratch is less sure of
#   itself than a pretrained R50: at 0.9 it keeps only ~70% of the acting people
#   of the test split (a person without a box can only be a miss), at 0.5 97%.
#
#   stad train action \
#       configs/action/slowonly_r18-slim_8x4x1-8e_synth-multisports-rgbdiff.py
#
# Data paths: `data_root` below; `stad train action --data DIR` points every path
# (videos, AVA csvs, proposals, GT) at another dataset folder. Every value that
# depends on the number of actions (`num_classes` of the head and datasets, the
# class names saved in checkpoints) follows the GT's labels, any number from 1
# (`stad_helpers.action.class_options`, applied by train, evaluate and demo).
_base_ = [
    'mmaction::detection/slowonly/'
    'slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb.py'
]
custom_imports = dict(
    imports=['stad_helpers.transforms', 'stad_helpers.heads'],
    allow_failed_imports=False)

data_root = 'data/multisports/'
video_root = data_root + 'trainval'  # both splits' videos live in trainval/
anno_root = data_root + 'annotations'
ann_file_train = anno_root + '/multisports_train.csv'
ann_file_val = anno_root + '/multisports_val.csv'
gt_file = anno_root + '/multisports_GT.pkl'
proposal_file_train = anno_root + '/multisports_proposals_train.pkl'
proposal_file_val = anno_root + '/multisports_proposals_val.pkl'

# One output per label of the GT (MultiSports: 66; the synthetic dataset: 4), plus
# the head's "no action" output. The head is a softmax over them: output i is
# label i of the GT. Set from the GT when the config is used (see above).
num_classes = 4
clip_len = 8
frame_interval = 4
short_side = 128
base_channels = 8
max_epochs = 8
person_det_score_thr = 0.5

model = dict(
    init_cfg=None,  # from scratch: no Kinetics weights on the CPU profile
    backbone=dict(
        depth=18,
        base_channels=base_channels,
        stage_blocks=(1, 1, 1, 1),
        inflate=(1, 1, 1, 1),
        pretrained=None),
    roi_head=dict(
        bbox_roi_extractor=dict(output_size=8),
        bbox_head=dict(
            type='BBoxHeadAVANoAction',
            in_channels=base_channels * 8,  # channels of the 4th stage
            num_classes=num_classes,
            spatial_pool_type='avg',
            dropout_ratio=0.0)),
    # A proposal is an annotated person's at IoU >= 0.5 (upstream: 0.9), "no
    # action" below 0.3, ignored in between.
    train_cfg=dict(
        rcnn=dict(
            assigner=dict(pos_iou_thr=0.5, neg_iou_thr=0.3, min_pos_iou=0.5))),
    # Differences are centred on 0 already; scale them to about unit variance.
    data_preprocessor=dict(mean=[0.0, 0.0, 0.0], std=[32.0, 32.0, 32.0]))

train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleAVAFrames', clip_len=clip_len, frame_interval=frame_interval),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(short_side, short_side * 5 // 4)),
    dict(type='RandomCrop', size=short_side),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TemporalDiff'),
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
    dict(type='TemporalDiff'),
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
        person_det_score_thr=person_det_score_thr,
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
        person_det_score_thr=person_det_score_thr,
        data_prefix=dict(img=video_root)))
test_dataloader = val_dataloader

# `stad evaluate` reports the metrics (and per-class AP); training only logs its
# loss, so validation runs only when asked for.
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
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
auto_scale_lr = dict(enable=False, base_batch_size=8)
randomness = dict(seed=0)  # same weights and data order on every run
