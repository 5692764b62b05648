# RetinaNet + CrossViT-18†, COCO 2017, 1x schedule (recipe in
# retinanet_crossvit_15_dagger_coco.py).
_base_ = './retinanet_crossvit_15_dagger_coco.py'
# ImageNet-1K pre-trained CrossViT-18† (converted, keys prefixed 'backbone.');
# None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(arch='18-dagger', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=(224, 448)))
