# CrossViT-18, ImageNet-1K classification (recipe in _base_/crossvit_in1k.py).
# Paper (Table 2): 82.5 top-1.
_base_ = './_base_/crossvit_in1k.py'
model = dict(
    backbone=dict(arch='18'), head=dict(in_channels=(224, 448)))
# Repeated augmentation (3 repeats), enabled for CrossViT-18 only (Sec. 4.1).
train_dataloader = dict(
    sampler=dict(type='RepeatAugSampler', shuffle=True))
