# UPerNet + CrossFormer-B, ADE20K, 160k iterations (official recipe, see
# _base_). Single-scale test by default (the paper's mIoU); the official
# config's own default, multi-scale without flip (the paper's MS mIoU):
# tools/test.py CONFIG CKPT --tta (add --flip for flipped copies).
_base_ = './_base_/upernet_crossformer_ade20k.py'
# ImageNet-1K pre-trained CrossFormer-B (converted, keys prefixed 'backbone.');
# None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(
        arch='b',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
