# Semantic FPN + CrossFormer-L, ADE20K, 80k iterations (official recipe, see
# _base_). Unlike S and B, the official L config (cheerss/CrossFormer
# segmentation/configs/crossformer/fpn_crossformer_l_ade20k_40k.py) uses
# group sizes 14-14-7-7 and intervals 16-8-2-1.
# Multi-scale test (ratios 0.5-1.75, no flip): tools/test.py CONFIG CKPT
# --tta (add --flip for flipped copies).
_base_ = './_base_/fpn_crossformer_ade20k.py'
# ImageNet-1K pre-trained CrossFormer-L (converted, keys prefixed 'backbone.');
# None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(
        arch='l',
        group_size=[14, 14, 7, 7],
        interval=[16, 8, 2, 1],
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]))
