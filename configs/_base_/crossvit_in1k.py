# Shared ImageNet-1K recipe of the CrossViT classification configs.
# Recipe of the official code (IBM/CrossViT main.py, datasets.py; DeiT's
# training script) and the paper (Sec. 4.1, supplement Table 9): 300 epochs,
# 4096 images per batch in total (32 GPUs x 128), AdamW lr 0.004 (= 5e-4 x
# batch / 512, scaled by batch size from base 4096), weight decay 0.05 except
# for 1-D parameters and biases (timm's create_optimizer; the official
# model's no_weight_decay names, 'cls_token' and 'pos_embed', match none of
# its parameter names, so CLS tokens and position embeddings are decayed;
# optim_wrapper.paramwise_cfg below does the same), 30 linear warm-up epochs
# from 1e-6, cosine to 1e-5 (per iteration here), RandAugment (m9, n2,
# mstd 0.5), mixup 0.8, cutmix 1.0, random erasing 0.25, label smoothing
# 0.1, drop-path 0.1; repeated augmentation for CrossViT-18 only.
# Resolution as the official code and the released models (--input-size
# 240, img_size=[240, 224]): training RandomResizedCrop 240 (bicubic); test:
# resize the short side to 274 (= int(240 / 0.875)) and center-crop 240; the
# small-patch branch sees the 240 input as it is, the large-patch branch a
# bicubic resize to 224.
# Variant configs (crossvit_*_in1k.py) set model.backbone.arch and
# model.head.in_channels; CrossViT-18 and 18† add repeated augmentation.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcrossformer'], allow_failed_imports=False)

# ImageNet-1K in mmpretrain's layout: train/<wnid>/*.JPEG, val/*.JPEG,
# meta/train.txt, meta/val.txt
data_root = 'data/imagenet'

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmcrossformer.CrossViT',
        img_size=240,
        branch_img_sizes=(240, 224),
        drop_path_rate=0.1,
        out_type='cls_token'),
    neck=None,
    # one linear classifier per branch; logits averaged, loss on the mean
    head=dict(
        type='mmcrossformer.CrossViTClsHead',
        num_classes=1000,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))

# as the base's (its own variables cannot be read here)
bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=240,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(
            pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=274,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=240),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        data_root=data_root,
        ann_file='meta/train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    dataset=dict(
        data_root=data_root, ann_file='meta/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=0.004, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    # timm's rule: no decay on 1-D parameters and biases only
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 0.004,
        by_epoch=True,
        begin=0,
        end=30,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=30,
        end=300,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
auto_scale_lr = dict(base_batch_size=4096)

# Exact --resume: checkpoints carry the random states (torch, numpy, random,
# CUDA, data-loader workers); see
# mmcrossformer/engine/hooks/random_state_hook.py.
custom_hooks = [dict(type='mmcrossformer.RandomStateHook')]
