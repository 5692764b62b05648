# UPerNet + CrossFormer-L, ADE20K, 160k iterations (official recipe, see
# _base_). Single-scale test by default (the paper's mIoU); the official
# config's own default, multi-scale without flip (the paper's MS mIoU):
# tools/test.py CONFIG CKPT --tta (add --flip for flipped copies).
_base_ = './_base_/upernet_crossformer_ade20k.py'
# ImageNet-1K pre-trained CrossFormer-L (converted, keys prefixed 'backbone.');
# None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(
        arch='l',
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
