# Semantic FPN + CrossViT-15†, ADE20K, 80k iterations.
# CrossViT has no official segmentation recipe; this one follows the Semantic
# FPN recipe of the CrossFormer configs: 512x512 crops, AdamW lr 1e-4,
# weight decay 1e-4 (none on norms, biases, CLS tokens and position
# embeddings), poly schedule (power 0.9) over 80k iterations, 16 images per
# batch in total (8 GPUs x 2).
# Neck: mmcrossformer.CrossViTPyramid (both branches fused on the stride-16
# grid by bilinear resampling + concatenation, then strides 4/8/16/32
# ViTDet-style), then mmseg's FPN (4 levels) for the FPN head.
_base_ = './_base_/fpn_crossformer_ade20k.py'

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
