# The tutorial's action detector (section 3, its `configs/slowonly_k400_multisports.py`)
# for GPU users: MMAction2's SlowOnly R50 MultiSports config, with the tutorial's
# batch size, learning rate, proposal files and starting weights.
#
#   stad train action \
#       configs/action/slowonly_k400-pretrained-r50_1xb2-4x16x1-8e_multisports-rgb.py
#
# Weights are referenced by URL and downloaded by MMEngine when training starts:
# `load_from` is the tutorial's, the SlowOnly R50 that MMAction2 trained on the whole
# of MultiSports (it fine-tunes from there because MultiSports-tiny is small; the
# backbone's Kinetics-400 weights, `model.init_cfg` of the base, are what that
# model started from). To train from the Kinetics-400 backbone only, as on a
# dataset of your own:  --cfg-options load_from=None
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
proposal_file_train = anno_root + '/multisports_proposals_train.pkl'
proposal_file_val = anno_root + '/multisports_proposals_val.pkl'

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    dataset=dict(proposal_file=proposal_file_train))
val_dataloader = dict(
    num_workers=2, dataset=dict(proposal_file=proposal_file_val))
test_dataloader = val_dataloader  # the tutorial left the test split on the base's

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))

load_from = (
    'https://download.openmmlab.com/mmaction/v1.0/detection/slowonly/'
    'slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb/'
    'slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb_'
    '20230320-a1ca5e76.pth')
