# Shared by the COCO detection bases (RetinaNet, Mask R-CNN 1x and 3x).
# Test-time augmentation (python tools/test.py CONFIG CKPT --tta): mmdet's
# DetTTAModel with mmdet's RetinaNet TTA settings (for both families): 3
# scales x {no flip, flip}, the views' boxes mapped back to the image,
# merged by class-wise NMS (IoU 0.5), 100 per image.
tta_model = dict(
    type='DetTTAModel',
    tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=scale, keep_ratio=True)
                for scale in [(1333, 800), (666, 400), (2000, 1200)]
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
# Mask R-CNN: DetTTAModel (mmdet 3.3) merges boxes only and refuses
# predictions with masks, so tools/test.py --tta tests the box branch: the
# mask head is left out and box AP only is evaluated (logged).
