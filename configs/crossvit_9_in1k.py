# CrossViT-9, ImageNet-1K classification (recipe in _base_/crossvit_in1k.py).
# Paper (Table 2): 73.9 top-1.
_base_ = './_base_/crossvit_in1k.py'
model = dict(
    backbone=dict(arch='9'), head=dict(in_channels=(128, 256)))
