# Reference for tools/analysis_tools/benchmark.py: timm's crossvit_15_240
# (the same network as configs/crossvit_15_in1k.py: a 224 input is seen at
# 240 by the small-patch branch), wrapped whole by mmcrossformer.TimmModel
# (mmpretrain's TIMMBackbone cannot remove CrossViT's classifier). Its
# "backbone" part is therefore the whole timm model, the two linear heads
# included (0.6 M multiply-adds next to 5.8 G).
#   python tools/analysis_tools/benchmark.py configs/crossvit_15_in1k.py \
#       --compare configs/reference/timm_crossvit_15_240_in1k.py
_base_ = ['../crossvit_15_in1k.py']
model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='mmcrossformer.TimmModel',
        model_name='crossvit_15_240',
        pretrained=False),
    neck=None,
    head=dict(type='ClsHead'))
