# UPerNet + CrossFormer++-S fine-tuned on your own semantic segmentation set
# (image folders and label-map folders), starting from the official
# ImageNet-1K CrossFormer++-S weights.
# Walk-through (layout, reduce_zero_label, recipe scaling, freezing,
# commands): docs/en/finetune.md
#   python tools/train.py \
#       configs/finetune/upernet_crossformerpp_s_custom_seg.py
_base_ = '../upernet_crossformerpp_s_ade20k.py'

# ---- what you edit ---------------------------------------------------------
# img_dir/{train,val}/NAME.jpg with ann_dir/{train,val}/NAME.png: one
# single-channel PNG per image whose pixel values are class indices
data_root = 'data/my_seg/'
# class i is pixel value i (with reduce_zero_label=False)
classes = ('background', 'cat', 'dog')
# one RGB colour per class, for visualisations
palette = [[0, 0, 0], [220, 20, 60], [0, 128, 255]]
# False: value 0 is a class (classes[0], often 'background'), 255 ignored.
# True: value 0 means "unlabelled" and is ignored, value i is classes[i - 1]
# (ADE20K's convention); classes then lists the labelled classes only.
reduce_zero_label = False
# ----------------------------------------------------------------------------

# The official ImageNet-1K CrossFormer++-S file as released
# (cheerss/CrossFormer README, {'model': state_dict}), no conversion step;
# None trains from scratch.
pretrained = 'checkpoints/crossformerpp-s.pth'

model = dict(
    backbone=dict(
        # no prefix: the official classification file has no 'backbone.'
        # prefix; the loader recognises its layout and takes the backbone part
        init_cfg=dict(
            _delete_=True, type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=len(classes)),
    auxiliary_head=dict(num_classes=len(classes)))

crop_size = (512, 512)
# LoadAnnotations without its own flag: the dataset's reduce_zero_label
# decides, in training and in evaluation
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2048, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmcrossformer.AlignResize', scale=(2048, 512), size_divisor=32),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
seg_dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=dict(classes=classes, palette=palette),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=reduce_zero_label)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        data_prefix=dict(
            img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline,
        **seg_dataset))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline,
        **seg_dataset))
test_dataloader = val_dataloader
# the evaluator's per-class table lists your class names

# Recipe: the base's AdamW lr 6e-5 for 16 images per batch (8 GPUs x 2;
# --auto-scale-lr scales it linearly to your total batch), 1500-iteration
# warm-up, then poly decay, over 20k iterations instead of ADE20K's 160k
# (about 16 epochs of 20k images): scale with your set's size.
max_iters = 20000
train_cfg = dict(max_iters=max_iters, val_interval=2000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        begin=1500,
        end=max_iters,
        by_epoch=False)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
default_hooks = dict(
    checkpoint=dict(interval=2000, max_keep_ckpts=1, save_best='mIoU'))
