# UPerNet + CrossFormer++-S on the embedded ADE20K-layout set
# (python tools/make_demo_data.py --kind ade20k): the real config with small
# crops and a short schedule, evaluated with IoUMetric (mIoU). To point
# another ADE20K config at the demo set, copy this file and change _base_.
_base_ = './upernet_crossformerpp_s_ade20k.py'

data_root = 'data/demo_ade20k'
crop_size = (128, 128)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomResize',
        scale=(256, 128),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmcrossformer.AlignResize', scale=(256, 128), size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
model = dict(data_preprocessor=dict(size=crop_size))
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 200
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=4e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        begin=20,
        end=max_iters,
        by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
