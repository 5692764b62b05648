# ADE20K with the test transforms of the official CrossFormer segmentation
# code (cheerss/CrossFormer segmentation/configs/_base_/datasets/ade20k.py and
# ade20k_swin.py, segmentation/align_resize.py): mmseg's ADE20K dataset
# settings, with
# - single-scale test: keep-ratio resize to (2048, 512), then both sides to a
#   multiple of 32 (mmcrossformer.AlignResize; mmseg 1.x has no such
#   transform and its Resize would pad instead);
# - multi-scale test (tools/test.py --tta): the same at ratios 0.5 ... 1.75
#   of (2048, 512), flip off as the official default (tools/test.py --tta
#   --flip adds horizontally flipped copies). ade20k.py (Semantic FPN) has
#   these ratios commented out; ade20k_swin.py (UPerNet) has them on, so
#   the official UPerNet configs test this way by default.
_base_ = ['mmseg::_base_/datasets/ade20k.py']

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmcrossformer.AlignResize', scale=(2048, 512), size_divisor=32),
    # annotations are loaded after the resize: the metric compares with the
    # original-size label map
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[[
            dict(
                type='mmcrossformer.AlignResize',
                scale=(int(2048 * r), int(512 * r)),
                size_divisor=32) for r in img_ratios
        ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
