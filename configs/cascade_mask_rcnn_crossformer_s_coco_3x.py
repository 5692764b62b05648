# Cascade Mask R-CNN + CrossFormer-S, COCO 2017, 3x multi-scale (see _base_;
# no official config). Official repository (detection/README.md): 88.0M
# parameters, 769.7G FLOPs, 52.2 box AP, 45.2 mask AP.
_base_ = './_base_/cascade_mask_rcnn_crossformer_coco_3x.py'
# ImageNet-1K pre-trained CrossFormer-S (converted, keys prefixed 'backbone.');
# None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(
        arch='s',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
