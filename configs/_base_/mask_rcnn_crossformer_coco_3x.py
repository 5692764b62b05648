# Mask R-CNN 3x with multi-scale training. No official config exists: the
# official repository (cheerss/CrossFormer detection/configs/) ships only 1x
# files, and the papers give no 3x recipe beyond "3x, multi-scale". This
# recipe follows mmdet's Swin 3x config (mmdet::swin/mask-rcnn_swin-t-p4-w7_
# fpn_ms-crop-3x_coco.py): 36 epochs, lr x0.1 at epochs 27 and 33, short side
# randomly resized to 480-800 (or resize + crop + resize), AdamW lr 1e-4,
# weight decay 0.05 with none on norms, biases and DPB MLPs (Swin's rule:
# none on norms and position tables). The papers' published 3x numbers stay
# the target; this config has not reproduced them. Backbone as the 1x base
# (group size 7, intervals 8-4-2-1).
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py',
    './coco_det_tta.py'
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
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={'.dpb.': dict(decay_mult=0.0)}))
auto_scale_lr = dict(base_batch_size=16)

# Exact --resume: checkpoints carry the random states (torch, numpy, random,
# CUDA, data-loader workers); see
# mmcrossformer/engine/hooks/random_state_hook.py.
custom_hooks = [dict(type='mmcrossformer.RandomStateHook')]
