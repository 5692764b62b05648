# Shared RetinaNet 1x recipe of the official CrossFormer detection configs
# (cheerss/CrossFormer detection/configs/*/retinanet_*_fpn_1x_coco.py):
# FPN on the four stages (P3-P7 from stages 2-4 + extra convs), AdamW lr 1e-4,
# weight decay 1e-4, 12 epochs, lr x0.1 at epochs 8 and 11, 500-iteration
# linear warm-up from 0.001x, 16 images per batch in total (8 GPUs x 2).
# Variant configs set model.backbone.arch / drop_path_rate and
# model.neck.in_channels.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    './coco_det_tta.py',
]
custom_imports = dict(imports=['mmcrossformer'], allow_failed_imports=False)

# COCO 2017 in its standard layout: annotations/instances_{train,val}2017.json,
# train2017/, val2017/.
data_root = 'data/coco/'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossFormer',
        # the official detection backbones use group size 7 and intervals
        # 8-4-2-1 in every variant (CrossFormer++ included)
        group_size=[7, 7, 7, 7],
        interval=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        # ImageNet-1K pre-trained weights (keys prefixed 'backbone.');
        # checkpoint=None trains from scratch, which is logged. Set with
        # --cfg-options model.backbone.init_cfg.checkpoint=PATH
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    neck=dict(
        out_channels=256,
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5))

train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, weight_decay=1e-4))
# schedule_1x: LinearLR warm-up over 500 iterations from 0.001x, MultiStepLR
# at epochs 8 and 11, 12 epochs.
auto_scale_lr = dict(base_batch_size=16)

# Exact --resume: checkpoints carry the random states (torch, numpy, random,
# CUDA, data-loader workers); see
# mmcrossformer/engine/hooks/random_state_hook.py.
custom_hooks = [dict(type='mmcrossformer.RandomStateHook')]
