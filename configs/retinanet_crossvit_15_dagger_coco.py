# RetinaNet + CrossViT-15†, COCO 2017, 1x schedule.
# CrossViT has no official dense-prediction recipe; this one follows the
# RetinaNet 1x recipe of the CrossFormer configs (_base_): AdamW
# lr 1e-4, weight decay 1e-4 (none on norms, biases, CLS tokens and position
# embeddings), 12 epochs, lr x0.1 at epochs 8 and 11, 500-iteration linear
# warm-up, 16 images per batch in total (8 GPUs x 2), 1333x800 inputs.
# The backbone runs in dense mode (mmcrossformer.CrossViT, dense_strides):
# the small branch (12-pixel patches) sees the input at 1.5x, so its tokens
# have stride 8 input pixels, the large branch (16-pixel patches) stride 16;
# padded pixels of the batch are masked out of every attention
# (mmcrossformer.ValidSizeDetDataPreprocessor records each image's size)
# and position codes depend only on a token's place in the image (the table
# spans 1344 pixels), so features do not depend on the other images of a
# batch. mmcrossformer.CrossViTPyramid exchanges patch tokens between the
# branches and builds strides 8-128 by geometry (stride-8 branch -> 8,
# stride-16 branch -> 16, 32, 64, 128).
# Note: the branches use global attention, so memory grows with the square
# of the number of tokens (~15.2k small-branch tokens at 800x1216).
# RetinaNet reads P3-P7 (strides 8-128) from the pyramid directly, as
# ViTDet does (no FPN top-down path); no stride-4 level is built, so every
# parameter gets a gradient (DDP with find_unused_parameters=False).
_base_ = './_base_/retinanet_crossformer_coco.py'

# ImageNet-1K pre-trained CrossViT-15† (converted with
# tools/model_converters/crossvit_to_mmcf.py, keys prefixed 'backbone.').
# None trains the backbone from scratch, which is logged. Set it here or with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = None

model = dict(
    data_preprocessor=dict(type='mmcrossformer.ValidSizeDetDataPreprocessor'),
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossViT',
        arch='15-dagger',
        drop_path_rate=0.1,
        out_type='featmap',
        out_indices=-1,
        dense_strides=(8, 16),
        # the position table spans the largest padded input (1333 -> 1344)
        dense_pos_size=1344,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mmcrossformer.CrossViTPyramid',
        in_channels=(192, 384),
        out_channels=256,
        out_strides=(8, 16, 32, 64, 128)))

optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_tokens.': dict(decay_mult=0.0),
            '.pos_embeds.': dict(decay_mult=0.0)
        }))
