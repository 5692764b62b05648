# RetinaNet + CrossViT-18†, COCO 2017, 1x schedule (recipe in
# retinanet_crossvit_15_dagger_coco.py).
_base_ = './retinanet_crossvit_15_dagger_coco.py'
# ImageNet-1K pre-trained CrossViT-18† (converted, keys prefixed 'backbone.');
# None trains the backbone from scratch (logged).
pretrained = None
model = dict(
    backbone=dict(arch='18-dagger', init_cfg=dict(checkpoint=pretrained)),
    neck=[
        dict(
            type='mmcrossformer.CrossViTPyramid',
            in_channels=(224, 448),
            out_channels=256,
            scale_factors=(2, 1, 0.5),
            fusion='concat'),
        dict(
            type='FPN',
            in_channels=[256, 256, 256],
            out_channels=256,
            start_level=0,
            add_extra_convs='on_input',
            num_outs=5)
    ])
