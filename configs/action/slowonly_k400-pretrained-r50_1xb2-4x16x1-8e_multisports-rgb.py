# The tutorial's action detector (section 3, its
# `configs/slowonly_k400_multisports.py`), the GPU profile's: MMAction2's SlowOnly
# R50 MultiSports config with the tutorial's
# batch size (2), learning rate (0.01), 8 epochs, proposal files and starting
# weights. On MultiSports-tiny (T4) the original reached frame-mAP 51.33,
# video-mAP@0.2 45.0 and @0.5 23.0.
#
#   stad weights fetch   # once, with internet (or --from DIR: files you brought)
#   stad train action \
#       configs/action/slowonly_k400-pretrained-r50_1xb2-4x16x1-8e_multisports-rgb.py
#
# Weights: `load_from` is the tutorial's, the SlowOnly R50 that MMAction2 trained on
# the whole of MultiSports (it fine-tunes from there because MultiSports-tiny is
# small). It holds every tensor of this model, so the base's Kinetics-400
# initialisation (`model.init_cfg`, what that model started from) is switched off
# below: it would be downloaded only to be overwritten. On a dataset of your own
# with other classes the head is new and starts at random; the rest still comes
# from `load_from`. `stad_helpers.weights` lists, fetches and checks the file.
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

model = dict(init_cfg=None)  # every weight comes from `load_from`

load_from = (
    'https://download.openmmlab.com/mmaction/v1.0/detection/slowonly/'
    'slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb/'
    'slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb_'
    '20230320-a1ca5e76.pth')
