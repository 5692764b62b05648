# CrossViT-15, ImageNet-1K classification (recipe in _base_/crossvit_in1k.py).
# Paper (Table 2): 81.5 top-1.
_base_ = './_base_/crossvit_in1k.py'
model = dict(
    backbone=dict(arch='15'), head=dict(in_channels=(192, 384)))
