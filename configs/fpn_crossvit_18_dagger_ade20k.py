# Semantic FPN + CrossViT-18†, ADE20K, 80k iterations (recipe in
# fpn_crossvit_15_dagger_ade20k.py).
_base_ = './fpn_crossvit_15_dagger_ade20k.py'
# ImageNet-1K pre-trained CrossViT-18† (converted, keys prefixed 'backbone.');
# None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(arch='18-dagger', init_cfg=dict(checkpoint=pretrained)),
    neck=[
        dict(
            type='mmcrossformer.CrossViTPyramid',
            in_channels=(224, 448),
            out_channels=256,
            out_strides=(4, 8, 16, 32)),
        dict(
            type='FPN',
            in_channels=[256, 256, 256, 256],
            out_channels=256,
            num_outs=4)
    ])
