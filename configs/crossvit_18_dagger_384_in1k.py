# CrossViT-18† at 384, ImageNet-1K classification: the 384 geometry, test
# and fine-tuning schedule of crossvit_15_dagger_384_in1k.py (read its
# header; official model: IBM/CrossViT models/crossvit.py
# crossvit_18_dagger_384, timm crossvit_18_dagger_408) on the CrossViT-18†
# of crossvit_18_dagger_in1k.py.
# Paper (Table 4): 83.9 top-1, 44.6M parameters, 32.4 GFLOPs.
_base_ = './crossvit_15_dagger_384_in1k.py'
model = dict(
    backbone=dict(arch='18-dagger'), head=dict(in_channels=(224, 448)))

# the 224 model to fine-tune (mmcrossformer checkpoint, or the official
# crossvit_18_dagger_224.pth as released); None starts from scratch
load_from = None

# Repeated augmentation (3 repeats), enabled for CrossViT-18 only (Sec. 4.1),
# as crossvit_18_dagger_in1k.py.
train_dataloader = dict(
    sampler=dict(type='RepeatAugSampler', shuffle=True))
