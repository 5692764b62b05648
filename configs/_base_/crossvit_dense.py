# Shared dense settings of the CrossViT detection / segmentation configs
# ({retinanet,mask_rcnn}_crossvit_*_coco.py,
# {upernet,fpn}_crossvit_*_ade20k.py).
# The backbone runs in dense mode (mmcrossformer.CrossViT, dense_strides):
# the small branch (12-pixel patches) sees the input at 1.5x, so its tokens
# have stride 8 input pixels, the large branch (16-pixel patches) stride 16;
# padded pixels of the batch are masked out of every attention
# (mmcrossformer.ValidSizeDetDataPreprocessor /
# ValidSizeSegDataPreprocessor record each image's size) and position codes
# depend only on a token's place in the image (the table spans
# dense_pos_size pixels, set by each config), so features do not depend on
# the other images of a batch. mmcrossformer.CrossViTPyramid exchanges patch
# tokens between the branches and builds each config's out_strides by
# geometry (strides up to 8 from the stride-8 branch, 16 and coarser from the
# stride-16 branch).
# Note: the branches use global attention, so memory grows with the square
# of the number of tokens (~15.2k small-branch tokens at 800x1216).
#
# How a config uses this file: mmengine refuses a key that two bases both
# define, and the head-family base (e.g. _base_/retinanet_crossformer_coco.py)
# defines model and optim_wrapper. So this base defines one variable,
# crossvit_dense, and a config lists it next to its head-family base:
#     _base_ = ['./_base_/retinanet_crossformer_coco.py',
#               './_base_/crossvit_dense.py']
#     dense = _base_.pop('crossvit_dense')
#     model = dict(backbone=dict(_delete_=True, **dense.backbone, ...), ...)
#     ...
#     del dense
# While a .py config runs, the name _base_ is its merged bases (a
# ConfigDict); popping crossvit_dense from it and deleting the local name
# keeps both out of the resolved config, which holds only the model,
# optim_wrapper, ... built from them (the configs that inherit such a config,
# e.g. the CrossViT-18† ones, never see crossvit_dense).
crossvit_dense = dict(
    # CrossViT-15†; the CrossViT-18† configs set arch='18-dagger' and the
    # neck's in_channels=(224, 448)
    backbone=dict(
        type='mmcrossformer.CrossViT',
        arch='15-dagger',
        drop_path_rate=0.1,
        out_type='featmap',
        out_indices=-1,
        dense_strides=(8, 16)),
    # each config adds out_strides
    neck=dict(
        type='mmcrossformer.CrossViTPyramid',
        in_channels=(192, 384),
        out_channels=256),
    # optim_wrapper.paramwise_cfg.custom_keys: no weight decay on the CLS
    # tokens and position embeddings
    custom_keys={
        '.cls_tokens.': dict(decay_mult=0.0),
        '.pos_embeds.': dict(decay_mult=0.0)
    })
