import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmcrossformer.testing.demo_coco import (
    COCO_IDS,
    SHAPES,
    coco_names,
    make_demo_coco,
)


def test_layout_and_fields(demo_coco):
    from pycocotools.coco import COCO
    for split, count in (('train', 8), ('val', 4)):
        ann = osp.join(demo_coco, 'annotations', f'instances_{split}2017.json')
        coco = COCO(ann)
        assert len(coco.getImgIds()) == count
        assert len(coco.getCatIds()) == 80
        assert coco.loadCats(13)[0]['name'] == 'stop sign'
        assert coco.loadCats(37)[0]['name'] == 'sports ball'
        used = {a['category_id'] for a in coco.dataset['annotations']}
        assert used <= {cat_id for cat_id in SHAPES.values()}
        for img in coco.dataset['images']:
            path = osp.join(demo_coco, f'{split}2017', img['file_name'])
            with Image.open(path) as im:
                assert im.size == (img['width'], img['height']) == (160, 128)
        for a in coco.dataset['annotations']:
            poly = np.array(a['segmentation'][0]).reshape(-1, 2)
            x, y, w, h = a['bbox']
            assert poly[:, 0].min() == pytest.approx(x, abs=0.02)
            assert poly[:, 1].max() == pytest.approx(y + h, abs=0.02)
            assert 0 < a['area'] <= w * h
            mask = coco.annToMask(a)
            assert mask.sum() > 0.5 * a['area']


def test_real_coco_ids_and_deterministic(tmp_path):
    names = coco_names()
    assert len(COCO_IDS) == len(names) == 80 and COCO_IDS[-1] == 90
    by_id = dict(zip(COCO_IDS, names))
    assert [by_id[i] for i in (1, 13, 37, 38, 90)] == [
        'person', 'stop sign', 'sports ball', 'kite', 'toothbrush'
    ]
    a = make_demo_coco(str(tmp_path / 'a'), 2, 1, (96, 80), seed=3)
    b = make_demo_coco(str(tmp_path / 'b'), 2, 1, (96, 80), seed=3)
    assert json.load(open(a['train'])) == json.load(open(b['train']))
    with pytest.raises(ValueError, match='64x64'):
        make_demo_coco(str(tmp_path / 'c'), 1, 1, (32, 80))
