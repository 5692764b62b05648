# UPerNet + CrossViT-15†, ADE20K, 160k iterations.
# CrossViT has no official segmentation recipe; this one follows the UPerNet
# recipe of the CrossFormer configs: 512x512 crops, AdamW lr 6e-5, betas
# (0.9, 0.999), weight decay 0.01 (none on parameters whose name contains
# 'norm', the CrossFormer rule, and on CLS tokens and position embeddings),
# 1500-iteration linear warm-up from 1e-6x, then poly decay (power 1) over
# 160k iterations, auxiliary FCN head on the stride-16 level (loss weight
# 0.4), 16 images per batch in total (8 GPUs x 2).
# The backbone runs in dense mode (mmcrossformer.CrossViT, dense_strides):
# the small branch (12-pixel patches) sees the input at 1.5x, so its tokens
# have stride 8 input pixels, the large branch (16-pixel patches) stride 16;
# padded pixels of the batch are masked out of every attention
# (mmcrossformer.ValidSizeSegDataPreprocessor records each image's size)
# and position codes depend only on a token's place in the image (the table
# spans 512 pixels), so features do not depend on the other images of a
# batch. mmcrossformer.CrossViTPyramid exchanges patch tokens between the
# branches and builds strides 4-32 by geometry (stride-8 branch -> 4, 8,
# stride-16 branch -> 16, 32).
# Note: the branches use global attention, so memory grows with the square
# of the number of tokens (~15.2k small-branch tokens at 800x1216).
# The pyramid feeds UPerHead directly. The position table spans the
# 512x512 training crop; test images wider than 512 pixels repeat the last
# column's codes.
_base_ = './_base_/upernet_crossformer_ade20k.py'

# ImageNet-1K pre-trained CrossViT-15† (converted with
# tools/model_converters/crossvit_to_mmcf.py, keys prefixed 'backbone.').
# None trains the backbone from scratch, which is logged. Set it here or with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = None

model = dict(
    data_preprocessor=dict(type='mmcrossformer.ValidSizeSegDataPreprocessor'),
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossViT',
        arch='15-dagger',
        drop_path_rate=0.1,
        out_type='featmap',
        out_indices=-1,
        dense_strides=(8, 16),
        dense_pos_size=512,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        type='mmcrossformer.CrossViTPyramid',
        in_channels=(192, 384),
        out_channels=256,
        out_strides=(4, 8, 16, 32)),
    decode_head=dict(in_channels=[256, 256, 256, 256]),
    auxiliary_head=dict(in_channels=256, in_index=2))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.cls_tokens.': dict(decay_mult=0.0),
            '.pos_embeds.': dict(decay_mult=0.0)
        }))
