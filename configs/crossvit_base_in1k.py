# CrossViT-B, ImageNet-1K classification (recipe in _base_/crossvit_in1k.py).
# Paper (Table 2): 82.2 top-1.
_base_ = './_base_/crossvit_in1k.py'
model = dict(
    backbone=dict(arch='base'), head=dict(in_channels=(384, 768)))
