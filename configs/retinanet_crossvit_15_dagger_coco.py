# RetinaNet + CrossViT-15†, COCO 2017, 1x schedule.
# CrossViT has no official dense-prediction recipe; this one follows the
# RetinaNet 1x recipe of the CrossFormer configs (_base_): AdamW
# lr 1e-4, weight decay 1e-4 (none on norms, biases, CLS tokens and position
# embeddings), 12 epochs, lr x0.1 at epochs 8 and 11, 500-iteration linear
# warm-up, 16 images per batch in total (8 GPUs x 2), 1333x800 inputs.
# The backbone returns the last encoder's two branch maps (strides ~11.2 and
# 16); mmcrossformer.CrossViTPyramid fuses them on the stride-16 grid
# (bilinear resampling + concatenation) and builds strides 8/16/32
# ViTDet-style (RetinaNet uses P3-P7, so no stride-4 level is built: every
# parameter gets a gradient, as DDP with find_unused_parameters=False
# needs); mmdet's FPN then adds P6/P7 from the stride-32 input.
# Note: the branches use global attention, so memory grows with the square
# of the number of tokens (~7.8k small-branch tokens at 800x1216).
_base_ = './_base_/retinanet_crossformer_coco.py'

# ImageNet-1K pre-trained CrossViT-15† (converted with
# tools/model_converters/crossvit_to_mmcf.py, keys prefixed 'backbone.').
# None trains the backbone from scratch, which is logged. Set it here or with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = None

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossViT',
        arch='15-dagger',
        drop_path_rate=0.1,
        out_type='featmap',
        out_indices=-1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # a list of necks is built as an nn.Sequential
    neck=[
        dict(
            type='mmcrossformer.CrossViTPyramid',
            in_channels=(192, 384),
            out_channels=256,
            scale_factors=(2, 1, 0.5),
            fusion='concat'),
        dict(
            type='FPN',
            in_channels=[256, 256, 256],
            out_channels=256,
            start_level=0,
            add_extra_convs='on_input',
            num_outs=5)
    ])

optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_tokens.': dict(decay_mult=0.0),
            '.pos_embeds.': dict(decay_mult=0.0)
        }))
