# Mask R-CNN + CrossFormer++-S on the embedded COCO-format set
# (python tools/make_demo_data.py): the real config with small images and a
# short schedule, evaluated with CocoMetric (bbox + segm). To point another
# COCO config at the demo set, copy this file and change _base_.
_base_ = './mask_rcnn_crossformerpp_s_coco.py'

data_root = 'data/demo_coco/'
image_scale = (320, 256)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor')),
]
# tools/test.py --tta: the base's DetTTAModel (3 scales x {no flip, flip},
# class-wise NMS) at 0.5x, 1x and 1.5x of the demo scale; box AP only.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=scale, keep_ratio=True)
                for scale in [(320, 256), (160, 128), (480, 384)]
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

max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=4e-4), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
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
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
