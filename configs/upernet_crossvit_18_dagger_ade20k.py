# UPerNet + CrossViT-18†, ADE20K, 160k iterations (recipe in
# upernet_crossvit_15_dagger_ade20k.py).
_base_ = './upernet_crossvit_15_dagger_ade20k.py'
# ImageNet-1K pre-trained CrossViT-18† (converted, keys prefixed 'backbone.');
# None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(arch='18-dagger', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=(224, 448)))
