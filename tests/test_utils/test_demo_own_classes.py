"""The demo generators with ``classes=``: sets with their own class names in
the layouts of configs/finetune/, read by the real mmdet / mmpretrain /
mmseg data sets (the default layouts are covered by test_demo_coco.py and
test_demo_ade20k_imagenet.py)."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmcrossformer.testing import (
    make_demo_ade20k,
    make_demo_coco,
    make_demo_imagenet,
)
from mmcrossformer.testing.demo_shapes import KIND_ORDER, kinds_for


def test_kinds_for():
    assert kinds_for(['a', 'b']) == {'a': 'octagon', 'b': 'disc'}
    assert kinds_for(['bg', 'a'], reserved=1) == {'a': 'octagon'}
    assert len(kinds_for([str(i) for i in range(len(KIND_ORDER))])) == 6
    for bad in ([], ['a', 'a'], ['a', ''], ['a', 3]):
        with pytest.raises(ValueError, match='unique non-empty names'):
            kinds_for(bad)
    with pytest.raises(ValueError, match='at most 6 classes'):
        kinds_for([str(i) for i in range(7)])


def test_coco_with_own_classes(tmp_path):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    classes = ('bolt', 'nut', 'washer')
    root = str(tmp_path) + '/'
    files = make_demo_coco(root, 6, 2, (96, 80), seed=1, classes=classes)
    coco = json.load(open(files['train']))
    assert [(c['id'], c['name']) for c in coco['categories']] == [
        (1, 'bolt'), (2, 'nut'), (3, 'washer')
    ]
    assert {a['category_id'] for a in coco['annotations']} <= {1, 2, 3}
    init_default_scope('mmdet')
    dataset = DATASETS.build(
        dict(
            type='CocoDataset',
            data_root=root,
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            metainfo=dict(classes=classes),
            pipeline=[]))
    assert len(dataset) == 6 and dataset.metainfo['classes'] == classes
    labels = {i['bbox_label'] for k in range(6)
              for i in dataset.get_data_info(k)['instances']}
    assert labels and labels <= {0, 1, 2}
    # another class list is another set
    again = make_demo_coco(root, 6, 2, (96, 80), seed=1, classes=classes[:2])
    assert len(json.load(open(again['val']))['categories']) == 2


def test_folder_tree_with_own_classes(tmp_path):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    classes = ('daisy', 'lotus', 'orchid', 'rose', 'tulip')
    root = str(tmp_path)
    folders = make_demo_imagenet(
        root, 3, 1, (64, 64), seed=1, classes=classes)
    assert folders == {s: osp.join(root, s) for s in ('train', 'val')}
    assert not osp.exists(osp.join(root, 'meta'))
    init_default_scope('mmpretrain')
    for split, count in (('train', 15), ('val', 5)):
        dataset = DATASETS.build(
            dict(
                type='CustomDataset',
                data_root=root,
                data_prefix=split,
                metainfo=dict(classes=classes),
                pipeline=[]))
        assert len(dataset) == count
        assert dataset.metainfo['classes'] == classes
        for k in range(count):
            info = dataset.get_data_info(k)
            # the folder of each image is the class its label names
            folder = osp.basename(osp.dirname(info['img_path']))
            assert classes[info['gt_label']] == folder


def test_seg_folders_with_own_classes(tmp_path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    classes = ('background', 'weed', 'crop', 'stone')
    root = str(tmp_path)
    make_demo_ade20k(root, 4, 2, (96, 80), seed=1, classes=classes)
    label = np.array(Image.open(osp.join(root, 'ann_dir/train/0001.png')))
    assert label.dtype == np.uint8 and label.shape == (80, 96)
    assert set(np.unique(label).tolist()) <= {0, 1, 2, 3, 255}
    assert osp.isfile(osp.join(root, 'img_dir/val/0002.jpg'))
    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(
            type='BaseSegDataset',
            data_root=root,
            data_prefix=dict(
                img_path='img_dir/train', seg_map_path='ann_dir/train'),
            img_suffix='.jpg',
            seg_map_suffix='.png',
            reduce_zero_label=False,
            metainfo=dict(classes=classes),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')
            ]))
    assert len(dataset) == 4 and dataset.metainfo['classes'] == classes
    seg = dataset[0]['data_samples'].gt_sem_seg.data
    assert 0 in seg and set(seg.unique().tolist()) <= {0, 1, 2, 3, 255}
    with pytest.raises(ValueError, match='background and at least one'):
        make_demo_ade20k(str(tmp_path / 'one'), 1, 1, classes=('bg', ))
