# Shared Mask R-CNN 1x recipe of the official CrossFormer detection configs
# (cheerss/CrossFormer detection/configs/crossformer/mask_rcnn_crossformer_
# {s,b}_fpn_1x_coco.py, detection/configs/crossformer_pp/mask_rcnn_
# crossformerpp_s_fpn_1x_coco.py): FPN on the four stages, backbone group
# size 7 and intervals 8-4-2-1, AdamW lr 1e-4 with weight decay 1e-4 on
# every parameter (no paramwise exemptions), no gradient clipping, 12 epochs,
# lr x0.1 at epochs 8 and 11, 500-iteration linear warm-up from 0.001x,
# 16 images per batch (8 GPUs x 2).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    './coco_det_tta.py',
]
custom_imports = dict(imports=['mmcrossformer'], allow_failed_imports=False)

data_root = 'data/coco/'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossFormer',
        group_size=[7, 7, 7, 7],
        interval=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    neck=dict(out_channels=256, num_outs=5))

train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, weight_decay=1e-4))
auto_scale_lr = dict(base_batch_size=16)

# Exact --resume: checkpoints carry the random states (torch, numpy, random,
# CUDA, data-loader workers); see
# mmcrossformer/engine/hooks/random_state_hook.py.
custom_hooks = [dict(type='mmcrossformer.RandomStateHook')]
