# CrossViT-15† image classifier fine-tuned on your own ImageNet-style folder
# tree (one folder per class), starting from IBM's ImageNet-1K CrossViT-15†
# weights; 240-pixel inputs as the released model.
# Walk-through (layout, recipe scaling, freezing, layer-wise lr decay,
# commands): docs/en/finetune.md
#   python tools/train.py \
#       configs/finetune/crossvit_15_dagger_custom_folder.py
_base_ = '../crossvit_15_dagger_in1k.py'

# ---- what you edit ---------------------------------------------------------
# train/<class>/*.jpg and val/<class>/*.jpg (mmpretrain's CustomDataset)
data_root = 'data/my_images/'
# the class folders' names in sorted order: CustomDataset numbers the folders
# sorted by name, and these names label those numbers
classes = ('bird', 'cat', 'dog')
# ----------------------------------------------------------------------------

# The official file as released by IBM/CrossViT ({'model': state_dict}), no
# conversion step; None trains from scratch. Only the backbone is loaded: the
# new head has len(classes) outputs per branch.
pretrained = ('https://github.com/IBM/CrossViT/releases/download/'
              'weights-0.1/crossvit_15_dagger_224.pth')

model = dict(
    backbone=dict(
        # no prefix: the official file's keys are the classifier's own; the
        # loader recognises its layout and takes the backbone part
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head=dict(num_classes=len(classes)),
    # no mixup / cutmix (the ImageNet recipe's), which small sets rarely need
    train_cfg=dict(_delete_=True))
data_preprocessor = dict(num_classes=len(classes))

metainfo = dict(classes=classes)
train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        metainfo=metainfo,
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        metainfo=metainfo,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
# top-5 only where there are more than five classes
val_evaluator = dict(
    type='Accuracy', topk=(1, 5) if len(classes) > 5 else (1, ))
test_evaluator = val_evaluator

# Recipe (an untuned starting point, not an official one): AdamW lr 1e-4 for
# 64 images per batch (--auto-scale-lr scales it linearly to your total
# batch), weight decay 0.05 but not on 1-D parameters / biases, drop path 0.1,
# 30 epochs: 3 warm-up epochs from 0.01x, then cosine to 1e-6; the ImageNet
# recipe's RandAugment, random erasing and label smoothing are kept.
max_epochs = 30
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=1e-4), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=3,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=3,
        end=max_epochs,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='auto'))
