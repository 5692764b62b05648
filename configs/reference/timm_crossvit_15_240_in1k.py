# Reference for tools/analysis_tools/benchmark.py: timm's crossvit_15_240
# (the same network as configs/crossvit_15_in1k.py: a 224 input is seen at
# 240 by the small-patch branch) through mmpretrain's TimmClassifier, which
# keeps the timm model whole (mmpretrain's TIMMBackbone cannot remove
# CrossViT's classifier). It has no `backbone` attribute, so only the
# benchmark's `model` part (forward with mode='tensor': the timm model,
# both linear heads included) is measured for it.
#   python tools/analysis_tools/benchmark.py configs/crossvit_15_in1k.py \
#       --compare configs/reference/timm_crossvit_15_240_in1k.py
# The data pipelines, the data_preprocessor, the schedule and the loss are
# those of configs/crossvit_15_in1k.py (timm averages the logits of its two
# heads as mmcrossformer.CrossViTClsHead does), so it also trains.
_base_ = ['../crossvit_15_in1k.py']
model = dict(
    _delete_=True,
    type='TimmClassifier',
    model_name='crossvit_15_240',
    pretrained=False,
    num_classes=1000,
    loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))
