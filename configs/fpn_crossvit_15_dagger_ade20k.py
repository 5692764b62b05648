# Semantic FPN + CrossViT-15†, ADE20K, 80k iterations.
# CrossViT has no official segmentation recipe; this one follows the Semantic
# FPN recipe of the CrossFormer configs: 512x512 crops, AdamW lr 1e-4,
# weight decay 1e-4 (none on norms, biases, CLS tokens and position
# embeddings), poly schedule (power 0.9) over 80k iterations, 16 images per
# batch in total (8 GPUs x 2).
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
# mmseg's FPN (the neck that defines Semantic FPN) follows; its 3x3
# convolutions see the padding at an image's border as for any backbone.
# The position table spans the 512x512 training crop; test images wider than
# 512 pixels repeat the last column's codes.
_base_ = './_base_/fpn_crossformer_ade20k.py'

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
    # a list of necks is built as an nn.Sequential
    neck=[
        dict(
            type='mmcrossformer.CrossViTPyramid',
            in_channels=(192, 384),
            out_channels=256,
            out_strides=(4, 8, 16, 32)),
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
        custom_keys={
            '.cls_tokens.': dict(decay_mult=0.0),
            '.pos_embeds.': dict(decay_mult=0.0)
        }))
