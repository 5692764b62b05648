# CrossViT-Ti, ImageNet-1K classification (recipe in _base_/crossvit_in1k.py).
# Paper (Table 2): 73.4 top-1.
_base_ = './_base_/crossvit_in1k.py'
model = dict(
    backbone=dict(arch='tiny'), head=dict(in_channels=(96, 192)))
