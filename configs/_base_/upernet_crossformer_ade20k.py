# Shared UPerNet 160k recipe of the official CrossFormer segmentation configs
# (cheerss/CrossFormer segmentation/configs/crossformer/upernet_crossformer_
# {s,b,l}_ade20k.py, crossformer_pp/upernet_crossformerpp_s_ade20k.py):
# 512x512 crops, backbone group size 7 and intervals 8-4-2-1, AdamW lr 6e-5,
# betas (0.9, 0.999), weight decay 0.01 except for parameters whose name
# contains 'norm' (the official name-based rule custom_keys={'norm': 0};
# biases, DPB MLPs and the ACL norms, named ex_ln officially, are decayed),
# 1500-iteration linear warm-up from 1e-6x, then poly decay (power 1) over
# 160k iterations, auxiliary FCN head on stage 3 (loss weight 0.4), 16 images
# per batch in total (8 GPUs x 2).
# Test: keep-ratio resize to (2048, 512), then both sides to a multiple of
# 32 (the official AlignResize, see ade20k_align_test.py). The official
# UPerNet configs test on segmentation/configs/_base_/datasets/
# ade20k_swin.py, whose img_ratios 0.5-1.75 are switched on: their default
# test is multi-scale (no flip), the paper's "MS IoU". Ours is single-scale
# (the paper's "IoU", that file with img_ratios commented out, the default
# segmentation/README.md describes); --tta below runs the official default.
# Variant configs set model.backbone.arch / drop_path_rate,
# model.decode_head.in_channels and model.auxiliary_head.in_channels.
# Multi-scale test ("MS IoU", the official configs' default):
# python tools/test.py CONFIG CKPT --tta (add --flip for flipped copies too)
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    './ade20k_align_test.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['mmcrossformer'], allow_failed_imports=False)

data_root = 'data/ade/ADEChallengeData2016'
crop_size = (512, 512)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossFormer',
        group_size=[7, 7, 7, 7],
        interval=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))

train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    # our ACL norm is 'acl.norm' (official 'ex_ln', decayed): the longer key
    # matches first and keeps it decayed, as in the official run
    paramwise_cfg=dict(
        custom_keys={
            'norm': dict(decay_mult=0.0),
            'acl.norm': dict(decay_mult=1.0)
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        begin=1500,
        end=160000,
        by_epoch=False)
]

# Exact --resume: checkpoints carry the random states (torch, numpy, random,
# CUDA, data-loader workers); see
# mmcrossformer/engine/hooks/random_state_hook.py.
custom_hooks = [dict(type='mmcrossformer.RandomStateHook')]
