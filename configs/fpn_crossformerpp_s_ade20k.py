# Semantic FPN + CrossFormer++-S, ADE20K, 80k iterations (official recipe, see
# _base_). Multi-scale test (ratios 0.5-1.75, no flip): tools/test.py
# CONFIG CKPT --tta (add --flip for flipped copies).
_base_ = './_base_/fpn_crossformer_ade20k.py'
# ImageNet-1K pre-trained CrossFormer++-S (converted, keys prefixed
# 'backbone.'); None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(
        arch='pp-s',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))
