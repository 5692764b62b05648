# UPerNet + CrossViT-15†, ADE20K, 160k iterations.
# CrossViT has no official segmentation recipe; this one follows the UPerNet
# recipe of the CrossFormer configs: 512x512 crops, AdamW lr 6e-5, betas
# (0.9, 0.999), weight decay 0.01 (none on norms, biases, CLS tokens and
# position embeddings), 1500-iteration linear warm-up from 1e-6x, then poly
# decay (power 1) over 160k iterations, auxiliary FCN head on the stride-16
# level (loss weight 0.4), 16 images per batch in total (8 GPUs x 2).
# Neck: mmcrossformer.CrossViTPyramid (both branches fused on the stride-16
# grid by bilinear resampling + concatenation, then strides 4/8/16/32
# ViTDet-style) feeding UPerHead directly.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['mmcrossformer'], allow_failed_imports=False)

# ADE20K in its standard layout (ADEChallengeData2016): images/{training,
# validation}/*.jpg, annotations/{training,validation}/*.png
data_root = 'data/ade/ADEChallengeData2016'
crop_size = (512, 512)
# ImageNet-1K pre-trained CrossViT-15† (converted with
# tools/model_converters/crossvit_to_mmcf.py, keys prefixed 'backbone.').
# None trains the backbone from scratch, which is logged.
pretrained = None

model = dict(
    data_preprocessor=dict(size=crop_size),
    # mmseg's base names a ResNet checkpoint here; ours is in init_cfg
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossViT',
        arch='15-dagger',
        drop_path_rate=0.1,
        out_type='featmap',
        out_indices=-1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        type='mmcrossformer.CrossViTPyramid',
        in_channels=(192, 384),
        out_channels=256,
        fusion='concat'),
    decode_head=dict(in_channels=[256, 256, 256, 256], num_classes=150),
    auxiliary_head=dict(in_channels=256, in_index=2, num_classes=150))

train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_tokens.': dict(decay_mult=0.0),
            '.pos_embeds.': dict(decay_mult=0.0)
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
