"""A small, learnable detection set in the exact COCO 2017 layout.

Used by the README demo and the end-to-end tests, so that the real configs
run without downloading COCO. The layout is what mmdet's ``CocoDataset`` and
``CocoMetric`` read::

    <out>/annotations/instances_train2017.json
    <out>/annotations/instances_val2017.json
    <out>/train2017/000000000001.jpg ...
    <out>/val2017/...

Every image is a crop of one of the photographs that scikit-image ships
(astronaut, coffee, chelsea, rocket, ...), with a few flat-coloured shapes
pasted on it. Each shape is one object with a box and a polygon mask,
labelled with a real COCO category (ids and names as in COCO 2017, all 80
categories listed; the names are mmdet's): octagons are 'stop sign' (13),
discs 'sports ball' (37) and diamonds 'kite' (38). Generation is
deterministic for a given seed.

With ``classes`` (a set of your own, as the fine-tuning configs in
``configs/finetune/`` expect), the same layout lists only those categories,
ids 1..N in the given order, and class ``i`` is drawn as shape kind
``KIND_ORDER[i]`` of :mod:`.demo_shapes` (octagon, disc, diamond, ...).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .demo_shapes import (
    background,
    check_counts,
    kinds_for,
    place_circles,
    polygon_area,
    shape_colour,
    shape_polygon,
)

# COCO 2017: the 80 category ids (1..90 with gaps), in order. The names
# come from mmdet's ``CocoDataset.METAINFO`` (see ``coco_names``).
_MISSING_IDS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
COCO_IDS = [i for i in range(1, 91) if i not in _MISSING_IDS]
# supercategories by id range, as in COCO 2017
_SUPER = ((1, 'person'), (2, 'vehicle'), (10, 'outdoor'), (16, 'animal'),
          (27, 'accessory'), (34, 'sports'), (44, 'kitchen'), (52, 'food'),
          (62, 'furniture'), (72, 'electronic'), (78, 'appliance'),
          (84, 'indoor'))

# shape kind -> COCO category id (stop sign, sports ball, kite)
SHAPES = {'octagon': 13, 'disc': 37, 'diamond': 38}


def coco_names() -> Tuple[str, ...]:
    """The 80 COCO class names in id order, from mmdet's dataset metainfo.

    mmdet is imported here, not at module level, so that importing this
    module stays light.
    """
    from mmdet.datasets import CocoDataset
    names = tuple(CocoDataset.METAINFO['classes'])
    if len(names) != len(COCO_IDS):
        raise RuntimeError(f'expected {len(COCO_IDS)} COCO classes in '
                           f'mmdet, got {len(names)}')
    return names


def coco_categories() -> List[dict]:
    """The 80 COCO 2017 categories as in ``instances_*2017.json``."""
    cats = []
    for cat_id, name in zip(COCO_IDS, coco_names()):
        sup = [s for start, s in _SUPER if cat_id >= start][-1]
        cats.append(dict(supercategory=sup, id=cat_id, name=name))
    return cats


def _make_split(out_dir: str, split: str, num_images: int,
                size: Tuple[int, int], rng: np.random.Generator,
                first_ann_id: int, shapes: Dict[str, int],
                categories: List[dict]) -> Dict:
    from PIL import ImageDraw
    img_dir = osp.join(out_dir, f'{split}2017')
    os.makedirs(img_dir, exist_ok=True)
    width, height = size
    images, annotations = [], []
    ann_id = first_ann_id
    kinds = list(shapes)
    for index in range(num_images):
        image_id = index + 1
        canvas = background(rng, width, height)
        draw = ImageDraw.Draw(canvas)
        count = int(rng.integers(1, 5))
        for cx, cy, radius in place_circles(rng, width, height, count, 0.07,
                                            0.2):
            kind = kinds[rng.integers(len(kinds))]
            points = shape_polygon(kind, (cx, cy), radius, rng)
            draw.polygon(
                points, fill=shape_colour(kind, rng), outline=(255, 255, 255))
            xs = [min(max(p[0], 0.0), width) for p in points]
            ys = [min(max(p[1], 0.0), height) for p in points]
            x1, y1 = min(xs), min(ys)
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=image_id,
                    category_id=shapes[kind],
                    segmentation=[[
                        round(v, 2) for xy in zip(xs, ys) for v in xy
                    ]],
                    area=round(polygon_area(list(zip(xs, ys))), 2),
                    bbox=[
                        round(x1, 2),
                        round(y1, 2),
                        round(max(xs) - x1, 2),
                        round(max(ys) - y1, 2)
                    ],
                    iscrowd=0))
            ann_id += 1
        file_name = f'{image_id:012d}.jpg'
        canvas.save(osp.join(img_dir, file_name), quality=92)
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                height=height,
                width=width,
                license=1))
    return dict(
        info=dict(
            description='mmcrossformer demo set in COCO 2017 format',
            version='1.0',
            year=2017),
        licenses=[dict(id=1, name='BSD-3-Clause (scikit-image data)',
                       url='')],
        images=images,
        annotations=annotations,
        categories=categories)


def make_demo_coco(out_dir: str,
                   num_train: int = 96,
                   num_val: int = 24,
                   size: Tuple[int, int] = (320, 256),
                   seed: int = 0,
                   classes: Optional[Sequence[str]] = None
                   ) -> Dict[str, str]:
    """Write the demo set to ``out_dir`` (skipped if already complete).

    Args:
        out_dir (str): Dataset root (the config's ``data_root``).
        num_train (int): Training images. Defaults to 96.
        num_val (int): Validation images. Defaults to 24.
        size (tuple[int, int]): Image (width, height) in pixels.
            Defaults to (320, 256).
        seed (int): Random seed. Defaults to 0.
        classes (Sequence[str], optional): Own class names (1 to 6): the
            categories are these, ids 1..N. Defaults to None (the 80 COCO
            categories, three of them drawn).

    Returns:
        dict: Paths of the two annotation files, keys ``'train'``, ``'val'``.

    Raises:
        ValueError: If a count is not positive, the size is below 64, or
            ``classes`` are not 1 to 6 unique names.
    """
    check_counts(size, 64, num_train=num_train, num_val=num_val)
    if classes is None:
        shapes, categories = SHAPES, None  # read from mmdet when written
    else:
        kinds = kinds_for(classes)
        shapes = {kind: i for i, kind in enumerate(kinds.values(), 1)}
        categories = [
            dict(supercategory='object', id=i, name=name)
            for i, name in enumerate(kinds, 1)
        ]
    ann_dir = osp.join(out_dir, 'annotations')
    files = {
        split: osp.join(ann_dir, f'instances_{split}2017.json')
        for split in ('train', 'val')
    }
    stamp = osp.join(out_dir, '.complete')
    spec = dict(n=[num_train, num_val], size=list(size), seed=seed,
                version=2)
    if classes is not None:
        spec['classes'] = list(classes)
    spec = json.dumps(spec)
    if osp.isfile(stamp) and open(stamp).read() == spec:
        return files
    os.makedirs(ann_dir, exist_ok=True)
    categories = categories or coco_categories()
    rng = np.random.default_rng(seed)
    ann_id = 1
    for split, count in (('train', num_train), ('val', num_val)):
        coco = _make_split(out_dir, split, count, size, rng, ann_id, shapes,
                           categories)
        ann_id += len(coco['annotations'])
        with open(files[split], 'w') as f:
            json.dump(coco, f)
    with open(stamp, 'w') as f:
        f.write(spec)
    return files
