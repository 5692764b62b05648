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
categories listed): octagons are 'stop sign' (13), discs 'sports ball' (37)
and diamonds 'kite' (38). Generation is deterministic for a given seed.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np

# COCO 2017: the 80 category ids (1..90 with gaps) and their names, in order.
_MISSING_IDS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
COCO_IDS = [i for i in range(1, 91) if i not in _MISSING_IDS]
COCO_NAMES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
    'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard',
    'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard',
    'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork',
    'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair',
    'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop',
    'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
    'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush')
# supercategories by id range, as in COCO 2017
_SUPER = ((1, 'person'), (2, 'vehicle'), (10, 'outdoor'), (16, 'animal'),
          (27, 'accessory'), (34, 'sports'), (44, 'kitchen'), (52, 'food'),
          (62, 'furniture'), (72, 'electronic'), (78, 'appliance'),
          (84, 'indoor'))

# shape -> (COCO category id, number of polygon vertices, base RGB colour)
SHAPES = {
    'stop sign': (13, 8, (200, 20, 30)),
    'sports ball': (37, 32, (250, 150, 20)),
    'kite': (38, 4, (30, 80, 220)),
}
PHOTOS = ('astronaut', 'coffee', 'chelsea', 'rocket', 'camera', 'coins',
          'page', 'moon', 'text')


def coco_categories() -> List[dict]:
    """The 80 COCO 2017 categories as in ``instances_*2017.json``."""
    cats = []
    for cat_id, name in zip(COCO_IDS, COCO_NAMES):
        sup = [s for start, s in _SUPER if cat_id >= start][-1]
        cats.append(dict(supercategory=sup, id=cat_id, name=name))
    return cats


def _photos() -> List[np.ndarray]:
    from skimage import data
    images = []
    for name in PHOTOS:
        img = np.asarray(getattr(data, name)())
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        images.append(np.ascontiguousarray(img[..., :3]).astype(np.uint8))
    return images


def _polygon(center: Tuple[float, float], radius: float, vertices: int,
             rotation: float) -> List[Tuple[float, float]]:
    cx, cy = center
    return [(cx + radius * math.cos(rotation + 2 * math.pi * k / vertices),
             cy + radius * math.sin(rotation + 2 * math.pi * k / vertices))
            for k in range(vertices)]


def _polygon_area(points: Sequence[Tuple[float, float]]) -> float:
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) -
                           np.dot(ys, np.roll(xs, 1))))


def _make_split(out_dir: str, split: str, num_images: int, size: Tuple[int,
                                                                        int],
                rng: np.random.Generator, photos: List[np.ndarray],
                first_ann_id: int) -> Dict:
    from PIL import Image, ImageDraw
    img_dir = osp.join(out_dir, f'{split}2017')
    os.makedirs(img_dir, exist_ok=True)
    width, height = size
    images, annotations = [], []
    ann_id = first_ann_id
    names = list(SHAPES)
    for index in range(num_images):
        image_id = index + 1
        photo = photos[rng.integers(len(photos))]
        ph, pw = photo.shape[:2]
        scale = rng.uniform(0.4, 1.0)
        ch = min(ph, int(round(height / scale)))
        cw = min(pw, int(round(width / scale)))
        y0 = rng.integers(0, ph - ch + 1)
        x0 = rng.integers(0, pw - cw + 1)
        crop = Image.fromarray(photo[y0:y0 + ch, x0:x0 + cw])
        canvas = crop.resize((width, height), Image.BILINEAR)
        draw = ImageDraw.Draw(canvas)
        placed: List[Tuple[float, float, float]] = []
        for _ in range(int(rng.integers(1, 5))):
            for _attempt in range(20):
                radius = float(rng.uniform(0.07, 0.2) * min(width, height))
                cx = float(rng.uniform(radius, width - radius))
                cy = float(rng.uniform(radius, height - radius))
                if all(math.hypot(cx - x, cy - y) > radius + r + 2
                       for x, y, r in placed):
                    break
            else:
                continue
            placed.append((cx, cy, radius))
            name = names[rng.integers(len(names))]
            cat_id, vertices, colour = SHAPES[name]
            rotation = {
                8: math.pi / 8,
                4: 0.0
            }.get(vertices, 0.0) + float(rng.uniform(-0.15, 0.15))
            points = _polygon((cx, cy), radius, vertices, rotation)
            jitter = rng.integers(-25, 26, size=3)
            fill = tuple(int(np.clip(c + j, 0, 255))
                         for c, j in zip(colour, jitter))
            draw.polygon(points, fill=fill, outline=(255, 255, 255))
            xs = [min(max(p[0], 0.0), width) for p in points]
            ys = [min(max(p[1], 0.0), height) for p in points]
            x1, y1 = min(xs), min(ys)
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=image_id,
                    category_id=cat_id,
                    segmentation=[[
                        round(v, 2) for xy in zip(xs, ys) for v in xy
                    ]],
                    area=round(_polygon_area(list(zip(xs, ys))), 2),
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
        categories=coco_categories())


def make_demo_coco(out_dir: str,
                   num_train: int = 96,
                   num_val: int = 24,
                   size: Tuple[int, int] = (320, 256),
                   seed: int = 0) -> Dict[str, str]:
    """Write the demo set to ``out_dir`` (skipped if already complete).

    Args:
        out_dir (str): Dataset root (the config's ``data_root``).
        num_train (int): Training images. Defaults to 96.
        num_val (int): Validation images. Defaults to 24.
        size (tuple[int, int]): Image (width, height) in pixels.
            Defaults to (320, 256).
        seed (int): Random seed. Defaults to 0.

    Returns:
        dict: Paths of the two annotation files, keys ``'train'``, ``'val'``.

    Raises:
        ValueError: If a count is not positive or the size is below 64.
    """
    if num_train < 1 or num_val < 1:
        raise ValueError(f'num_train ({num_train}) and num_val ({num_val}) '
                         f'must be positive')
    if min(size) < 64:
        raise ValueError(f'size must be at least 64x64 pixels, got {size}')
    ann_dir = osp.join(out_dir, 'annotations')
    files = {
        split: osp.join(ann_dir, f'instances_{split}2017.json')
        for split in ('train', 'val')
    }
    stamp = osp.join(out_dir, '.complete')
    spec = json.dumps(
        dict(n=[num_train, num_val], size=list(size), seed=seed))
    if osp.isfile(stamp) and open(stamp).read() == spec:
        return files
    os.makedirs(ann_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = _photos()
    ann_id = 1
    for split, count in (('train', num_train), ('val', num_val)):
        coco = _make_split(out_dir, split, count, size, rng, photos, ann_id)
        ann_id += len(coco['annotations'])
        with open(files[split], 'w') as f:
            json.dump(coco, f)
    with open(stamp, 'w') as f:
        f.write(spec)
    return files
