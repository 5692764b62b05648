# UPerNet + CrossViT-15†, ADE20K, 160k iterations.
# CrossViT has no official segmentation recipe; this one follows the UPerNet
# recipe of the CrossFormer configs: 512x512 crops, AdamW lr 6e-5, betas
# (0.9, 0.999), weight decay 0.01 (none on parameters whose name contains
# 'norm', the CrossFormer rule, and on CLS tokens and position embeddings),
# 1500-iteration linear warm-up from 1e-6x, then poly decay (power 1) over
# 160k iterations, auxiliary FCN head on the stride-16 level (loss weight
# 0.4), 16 images per batch in total (8 GPUs x 2).
# The backbone runs in dense mode (_base_/crossvit_dense.py: strides 8 and
# 16, padded pixels masked out of attention with
# mmcrossformer.ValidSizeSegDataPreprocessor).
# mmcrossformer.CrossViTPyramid builds strides 4-32 (stride-8 branch -> 4, 8,
# stride-16 branch -> 16, 32).
# The pyramid feeds UPerHead directly. The position table spans the
# 512x512 training crop; test images wider than 512 pixels repeat the last
# column's codes.
_base_ = [
    './_base_/upernet_crossformer_ade20k.py', './_base_/crossvit_dense.py'
]

# ImageNet-1K pre-trained CrossViT-15† (converted with
# tools/model_converters/crossvit_to_mmcf.py, keys prefixed 'backbone.').
# None trains the backbone from scratch, which is logged. Set it here or with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = None

# the shared dense settings, taken out of the bases so that they are no key
# of this config (see _base_/crossvit_dense.py)
dense = _base_.pop('crossvit_dense')
model = dict(
    data_preprocessor=dict(type='mmcrossformer.ValidSizeSegDataPreprocessor'),
    backbone=dict(
        _delete_=True,
        **dense.backbone,
        dense_pos_size=512,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(**dense.neck, out_strides=(4, 8, 16, 32)),
    decode_head=dict(in_channels=[256, 256, 256, 256]),
    auxiliary_head=dict(in_channels=256, in_index=2))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dense.custom_keys))
del dense
