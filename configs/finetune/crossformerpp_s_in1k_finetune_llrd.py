# CrossFormer++-S, ImageNet-1K fine-tuning with layer-wise learning-rate decay
# (LLRD), e.g. from a self-supervised or a 22K pre-trained backbone:
#   python tools/train.py \
#       configs/finetune/crossformerpp_s_in1k_finetune_llrd.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth
#
# No official CrossFormer / CrossFormer++ recipe uses LLRD (the official
# code trains from scratch, see ../_base_/crossformer_in1k.py). The values
# here follow mmpretrain 1.2's SimMIM fine-tuning of the hierarchical Swin-B
# (configs/simmim/benchmarks/swin-base-w7_8xb256-coslr-100e_in1k.py, as in
# the SimMIM paper): AdamW, layer_decay_rate 0.9, weight decay 0.05, 100
# epochs with 20 warm-up epochs then cosine, drop path 0.1, gradient
# clipping 5, warm-up from 2e-4 x lr; its lr 5e-3 and final lr 1e-6 at 2048
# images per batch are scaled linearly to this recipe's 1024 (8 GPUs x 128):
# 2.5e-3 and 5e-7.
#
# Depths (CrossFormer.get_layer_depth): 0 the stem, block j of stage i
# sum(depths[:i]) + j + 1 (a patch merging layer the depth of the block
# before it), the final norm and the head the top depth sum(depths) + 1 =
# 25 (depths 2-2-18-2); lr = 2.5e-3 * 0.9 ** (25 - depth), so the stem
# trains at 0.072x the head's rate.
# mmpretrain's own constructor is used (the classifier asks its backbone);
# detectors and segmentors use mmcrossformer.LayerDecayOptimWrapperConstructor
# with the same paramwise_cfg.
_base_ = '../crossformerpp_s_in1k.py'

model = dict(
    backbone=dict(
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')))

optim_wrapper = dict(
    optimizer=dict(lr=2.5e-3),
    constructor='LearningRateDecayOptimWrapperConstructor',
    # merged into the base's norm / bias / flat decay multipliers (0)
    paramwise_cfg=dict(layer_decay_rate=0.9),
    clip_grad=dict(max_norm=5.0))

max_epochs = 100
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=2e-4,
        by_epoch=True,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=5e-7,
        by_epoch=True,
        begin=20,
        end=max_epochs,
        convert_to_iter_based=True)
]
