# RetinaNet + CrossFormer++-S fine-tuned on your own COCO-format detection
# set, starting from the official ImageNet-1K CrossFormer++-S weights.
# Walk-through (layout, recipe scaling, freezing, commands):
# docs/en/finetune.md
#   python tools/train.py \
#       configs/finetune/retinanet_crossformerpp_s_custom_coco.py
_base_ = '../retinanet_crossformerpp_s_coco.py'

# ---- what you edit ---------------------------------------------------------
# COCO layout: annotations/instances_{train,val}2017.json, train2017/, val2017/
data_root = 'data/my_coco/'
# category names as in the annotation files (any order; the order here gives
# the label indices); categories not listed are left out
classes = ('cat', 'dog', 'bird')
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
    bbox_head=dict(num_classes=len(classes)))

metainfo = dict(classes=classes)
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
# classwise: a per-class AP table under your class names
val_evaluator = dict(
    ann_file=data_root + 'annotations/instances_val2017.json', classwise=True)
test_evaluator = val_evaluator

# The base's recipe is already a fine-tuning recipe (COCO from ImageNet
# weights): AdamW lr 1e-4 for 16 images per batch (8 GPUs x 2), 500-iteration
# warm-up, 12 epochs with lr x0.1 after epochs 8 and 11. On another number of
# GPUs add --auto-scale-lr (linear scaling from base_batch_size=16).
