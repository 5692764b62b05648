# Semantic FPN + CrossViT-15†, ADE20K, 80k iterations.
# CrossViT has no official segmentation recipe; this one follows the Semantic
# FPN recipe of the CrossFormer configs: 512x512 crops, AdamW lr 1e-4,
# weight decay 1e-4 (none on norms, biases, CLS tokens and position
# embeddings), poly schedule (power 0.9) over 80k iterations, 16 images per
# batch in total (8 GPUs x 2).
# Neck: mmcrossformer.CrossViTPyramid (both branches fused on the stride-16
# grid by bilinear resampling + concatenation, then strides 4/8/16/32
# ViTDet-style), then mmseg's FPN (4 levels) for the FPN head.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
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
    # a list of necks is built as an nn.Sequential
    neck=[
        dict(
            type='mmcrossformer.CrossViTPyramid',
            in_channels=(192, 384),
            out_channels=256,
            fusion='concat'),
        dict(
            type='FPN',
            in_channels=[256, 256, 256, 256],
            out_channels=256,
            num_outs=4)
    ],
    decode_head=dict(num_classes=150))

train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_tokens.': dict(decay_mult=0.0),
            '.pos_embeds.': dict(decay_mult=0.0)
        }))
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=80000,
        by_epoch=False)
]
