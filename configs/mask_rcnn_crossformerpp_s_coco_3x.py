# Mask R-CNN + CrossFormer++-S, COCO 2017, 3x multi-scale (see _base_).
_base_ = './_base_/mask_rcnn_crossformer_coco_3x.py'
# ImageNet-1K pre-trained CrossFormer++-S (converted, keys prefixed
# 'backbone.'); None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(
        arch='pp-s',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))
