# Semantic FPN + CrossViT-15†, ADE20K, 80k iterations.
# CrossViT has no official segmentation recipe; this one follows the Semantic
# FPN recipe of the CrossFormer configs: 512x512 crops, AdamW lr 1e-4,
# weight decay 1e-4 (none on norms, biases, CLS tokens and position
# embeddings), poly schedule (power 0.9) over 80k iterations, 16 images per
# batch in total (8 GPUs x 2).
# The backbone runs in dense mode (_base_/crossvit_dense.py: strides 8 and
# 16, padded pixels masked out of attention with
# mmcrossformer.ValidSizeSegDataPreprocessor).
# mmcrossformer.CrossViTPyramid builds strides 4-32 (stride-8 branch -> 4, 8,
# stride-16 branch -> 16, 32).
# mmseg's FPN (the neck that defines Semantic FPN) follows; its 3x3
# convolutions see the padding at an image's border as for any backbone.
# The position table spans the 512x512 training crop; test images wider than
# 512 pixels repeat the last column's codes.
_base_ = [
    './_base_/fpn_crossformer_ade20k.py', './_base_/crossvit_dense.py'
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
    # a list of necks is built as an nn.Sequential
    neck=[
        dict(**dense.neck, out_strides=(4, 8, 16, 32)),
        dict(
            type='FPN',
            in_channels=[256, 256, 256, 256],
            out_channels=256,
            num_outs=4)
    ])

optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys=dense.custom_keys))
del dense
