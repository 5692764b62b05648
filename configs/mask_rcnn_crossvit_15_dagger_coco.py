# Mask R-CNN + CrossViT-15†, COCO 2017, 1x schedule.
# CrossViT has no official dense-prediction recipe; this one follows the
# Mask R-CNN 1x recipe of the CrossFormer configs: AdamW lr 1e-4, weight
# decay 1e-4 (none on CLS tokens and position embeddings),
# 12 epochs, lr x0.1 at epochs 8 and 11, 500-iteration linear warm-up,
# 16 images per batch in total (8 GPUs x 2), 1333x800 inputs.
# Neck: mmcrossformer.CrossViTPyramid (both branches fused on the stride-16
# grid by bilinear resampling + concatenation, then strides 4/8/16/32
# ViTDet-style), then mmdet's FPN (5 levels).
_base_ = './_base_/mask_rcnn_crossformer_coco.py'

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
            fusion='concat'),
        dict(
            type='FPN',
            in_channels=[256, 256, 256, 256],
            out_channels=256,
            num_outs=5)
    ])

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.cls_tokens.': dict(decay_mult=0.0),
            '.pos_embeds.': dict(decay_mult=0.0)
        }))
