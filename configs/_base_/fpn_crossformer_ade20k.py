# Shared Semantic FPN 80k recipe of the official CrossFormer segmentation
# configs (cheerss/CrossFormer segmentation/configs/crossformer/fpn_
# crossformer_{s,b,l}_ade20k_40k.py, crossformer_pp/fpn_crossformerpp_s_
# ade20k_40k.py; the files are named 40k but set max_iters=80000): 512x512
# crops, backbone group size 7 and intervals 8-4-2-1 (CrossFormer-L: group
# sizes 14-14-7-7, intervals 16-8-2-1, set in its config), AdamW lr 1e-4 /
# weight decay 1e-4 on every parameter, poly schedule (power 0.9) over 80k
# iterations, 16 images per batch in total (8 GPUs x 2), the batch the
# official segmentation/README.md states for Semantic FPN (the files' dataset
# base, _base_/datasets/ade20k.py, sets samples_per_gpu=4, which the README
# does not report).
# Test: keep-ratio resize to (2048, 512), then both sides to a multiple of
# 32 (the official AlignResize, see ade20k_align_test.py): the official
# dataset base's single-scale default.
# Variant configs set model.backbone.arch / drop_path_rate and
# model.neck.in_channels.
# Multi-scale test (the ratios 0.5-1.75 commented out in the official
# dataset base; no published FPN result uses it): python tools/test.py
# CONFIG CKPT --tta (add --flip for flipped copies too)
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    './ade20k_align_test.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['mmcrossformer'], allow_failed_imports=False)

# ADE20K in its standard layout (ADEChallengeData2016): images/{training,
# validation}/*.jpg, annotations/{training,validation}/*.png
data_root = 'data/ade/ADEChallengeData2016'
crop_size = (512, 512)

model = dict(
    pretrained=None,  # the base's ResNet weights; ours go in init_cfg
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossFormer',
        group_size=[7, 7, 7, 7],
        interval=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        # ImageNet-1K pre-trained weights (keys prefixed 'backbone.');
        # checkpoint=None trains from scratch, which is logged.
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    neck=dict(out_channels=256, num_outs=4),
    decode_head=dict(num_classes=150))

train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=80000,
        by_epoch=False)
]

# Exact --resume: checkpoints carry the random states (torch, numpy, random,
# CUDA, data-loader workers); see
# mmcrossformer/engine/hooks/random_state_hook.py.
custom_hooks = [dict(type='mmcrossformer.RandomStateHook')]
