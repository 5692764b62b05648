import glob
import os.path as osp

import numpy as np
from PIL import Image

from mmcrossformer.testing.demo_ade20k import BACKGROUND_LABEL
from mmcrossformer.testing.demo_ade20k import SHAPES as ADE_SHAPES
from mmcrossformer.testing.demo_imagenet import SHAPES as IN_SHAPES


def test_ade20k_layout_read_by_mmseg(demo_ade20k):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    imgs = sorted(glob.glob(osp.join(demo_ade20k, 'images/training/*.jpg')))
    anns = sorted(
        glob.glob(osp.join(demo_ade20k, 'annotations/training/*.png')))
    assert len(imgs) == len(anns) == 8
    assert osp.basename(imgs[0]) == 'ADE_train_00000001.jpg'
    label = np.array(Image.open(anns[0]))
    assert label.dtype == np.uint8 and label.shape == (80, 96)
    values = set(np.unique(label).tolist())
    assert BACKGROUND_LABEL in values
    assert values <= {0, BACKGROUND_LABEL, *ADE_SHAPES.values()}
    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(
            type='ADE20KDataset',
            data_root=demo_ade20k,
            data_prefix=dict(
                img_path='images/validation',
                seg_map_path='annotations/validation'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True),
                dict(type='PackSegInputs')
            ]))
    assert len(dataset) == 4
    seg = dataset[0]['data_samples'].gt_sem_seg.data
    # reduce_zero_label: 0 -> 255 (ignored), k -> k - 1
    assert set(seg.unique().tolist()) <= {
        255, BACKGROUND_LABEL - 1, *[v - 1 for v in ADE_SHAPES.values()]
    }
    classes = dataset.metainfo['classes']
    assert classes[BACKGROUND_LABEL - 1] == 'painting'
    assert [classes[ADE_SHAPES[k] - 1] for k in ('octagon', 'disc', 'diamond')
            ] == ['signboard', 'ball', 'flag']


def test_imagenet_layout_read_by_mmpretrain(demo_imagenet):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    init_default_scope('mmpretrain')
    for split, count in (('train', 12), ('val', 6)):
        dataset = DATASETS.build(
            dict(
                type='ImageNet',
                data_root=demo_imagenet,
                split=split,
                ann_file=f'meta/{split}.txt',
                pipeline=[]))
        assert len(dataset) == count
        assert osp.isfile(dataset.get_data_info(count - 1)['img_path'])
        labels = {dataset.get_gt_labels()[i] for i in range(count)}
        assert labels == {label for _, label in IN_SHAPES.values()}
    classes = dataset.metainfo['classes']
    assert classes[805] == 'soccer ball' and classes[919] == 'street sign'
    assert classes[549] == 'envelope'
    assert osp.isdir(osp.join(demo_imagenet, 'train', 'n04254680'))
