# RetinaNet + CrossFormer++-S, COCO 2017, 1x schedule.
# Official recipe (cheerss/CrossFormer detection/configs/crossformer_pp/
# retinanet_crossformerpp_s_fpn_1x_coco.py): FPN on the four stages, AdamW
# lr 1e-4 / wd 1e-4, 12 epochs with lr steps at 8 and 11, 500-iteration
# linear warm-up, 16 images per batch in total (8 GPUs x 2).
# Paper target: box AP 45.1 (with an ImageNet-1K pre-trained backbone).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcrossformer'], allow_failed_imports=False)

# COCO 2017 in its standard layout: annotations/instances_{train,val}2017.json,
# train2017/, val2017/.
data_root = 'data/coco/'
# ImageNet-1K pre-trained CrossFormer++-S (a file converted with
# tools/model_converters, keys prefixed 'backbone.'). None trains the backbone
# from scratch, which is logged. Set it here or with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = None

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmcrossformer.CrossFormer',
        arch='pp-s',
        # the official detection backbone uses these instead of the
        # classification group sizes [4, 4, 14, 7] / intervals [4, 2, 1, 1]
        group_size=[7, 7, 7, 7],
        interval=[8, 4, 2, 1],
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        in_channels=[64, 128, 256, 512],
        out_channels=256,
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5))

train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, weight_decay=1e-4))
# schedule_1x: 12 epochs, LinearLR warm-up over 500 iterations from 0.001x,
# MultiStepLR at epochs 8 and 11.
auto_scale_lr = dict(base_batch_size=16)
