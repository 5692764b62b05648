# Mask R-CNN + CrossViT-15†, COCO 2017, 1x schedule.
# CrossViT has no official dense-prediction recipe; this one follows the
# Mask R-CNN 1x recipe of the CrossFormer configs: AdamW lr 1e-4, weight
# decay 1e-4 (none on CLS tokens and position embeddings),
# 12 epochs, lr x0.1 at epochs 8 and 11, 500-iteration linear warm-up,
# 16 images per batch in total (8 GPUs x 2), 1333x800 inputs.
# The backbone runs in dense mode (_base_/crossvit_dense.py: strides 8 and
# 16, padded pixels masked out of attention with
# mmcrossformer.ValidSizeDetDataPreprocessor); the position table spans 1344
# pixels. mmcrossformer.CrossViTPyramid builds strides 4-64 (stride-8
# branch -> 4, 8, stride-16 branch -> 16, 32, 64).
# The RPN reads strides 4-64 and the RoI heads 4-32 from the pyramid
# directly, as ViTDet does (no FPN top-down path).
_base_ = [
    './_base_/mask_rcnn_crossformer_coco.py', './_base_/crossvit_dense.py'
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
    neck=dict(_delete_=True, **dense.neck, out_strides=(4, 8, 16, 32, 64)))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dense.custom_keys))
del dense
