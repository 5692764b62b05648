# RetinaNet + CrossViT-15†, COCO 2017, 1x schedule.
# CrossViT has no official dense-prediction recipe; this one follows the
# RetinaNet 1x recipe of the CrossFormer configs (_base_): AdamW
# lr 1e-4, weight decay 1e-4 (none on norms, biases, CLS tokens and position
# embeddings), 12 epochs, lr x0.1 at epochs 8 and 11, 500-iteration linear
# warm-up, 16 images per batch in total (8 GPUs x 2), 1333x800 inputs.
# The backbone runs in dense mode (_base_/crossvit_dense.py: strides 8 and
# 16, padded pixels masked out of attention with
# mmcrossformer.ValidSizeDetDataPreprocessor); the position table spans 1344
# pixels. mmcrossformer.CrossViTPyramid builds strides 8-128 (stride-8
# branch -> 8, stride-16 branch -> 16, 32, 64, 128).
# RetinaNet reads P3-P7 (strides 8-128) from the pyramid directly, as
# ViTDet does (no FPN top-down path); no stride-4 level is built, so every
# parameter gets a gradient (DDP with find_unused_parameters=False).
_base_ = [
    './_base_/retinanet_crossformer_coco.py', './_base_/crossvit_dense.py'
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
    data_preprocessor=dict(type='mmcrossformer.ValidSizeDetDataPreprocessor'),
    backbone=dict(
        _delete_=True,
        **dense.backbone,
        # the position table spans the largest padded input (1333 -> 1344)
        dense_pos_size=1344,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(_delete_=True, **dense.neck, out_strides=(8, 16, 32, 64, 128)))

optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys=dense.custom_keys))
del dense
