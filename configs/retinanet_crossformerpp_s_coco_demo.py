# The README demo: the real RetinaNet + CrossFormer++-S config trained from
# scratch on the embedded COCO-format set (python tools/make_demo_data.py),
# sized for a 2-core CPU: `make demo` (data, training, test) in about 7
# minutes, bbox mAP about 0.5 on the 24 validation images (docs/en/
# reproduction.md#the-demo). Changes from the base for that budget, none
# from an official file: 224x176 images, 6 epochs of 24 iterations, lr 4e-4
# with a 40-iteration warm-up, no drop path (it slows fitting from scratch),
# and a progress bar (mmcrossformer.ProgressBarHook).
_base_ = './retinanet_crossformerpp_s_coco.py'

model = dict(backbone=dict(drop_path_rate=0.))
data_root = 'data/demo_coco/'
image_scale = (224, 176)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor')),
]
# tools/test.py --tta: the base's DetTTAModel (3 scales x {no flip, flip},
# class-wise NMS) at 0.5x, 1x and 1.5x of the demo scale.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=scale, keep_ratio=True)
                for scale in [(224, 176), (112, 88), (336, 264)]
            ],
            [
                dict(type='RandomFlip', prob=0.),
                dict(type='RandomFlip', prob=1.)
            ],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_id', 'img_path', 'ori_shape',
                               'img_shape', 'scale_factor', 'flip',
                               'flip_direction'))
            ],
        ])
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=4e-4), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=40),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min_ratio=0.05,
        by_epoch=True,
        begin=0,
        end=max_epochs),
]
auto_scale_lr = dict(enable=False)
default_hooks = dict(
    logger=dict(interval=24),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
custom_hooks = [
    dict(type='mmcrossformer.RandomStateHook'),
    dict(type='mmcrossformer.ProgressBarHook'),
]
randomness = dict(seed=0)
