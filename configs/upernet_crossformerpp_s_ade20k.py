# UPerNet + CrossFormer++-S, ADE20K, 160k iterations (official recipe, see
# _base_). Multi-scale + flip test: tools/test.py CONFIG CKPT --tta
_base_ = './_base_/upernet_crossformer_ade20k.py'
# ImageNet-1K pre-trained CrossFormer++-S (converted, keys prefixed
# 'backbone.'); None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(
        arch='pp-s',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
