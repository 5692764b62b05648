"""A small semantic-segmentation set in the exact ADE20K layout.

mmseg's ``ADE20KDataset`` (``reduce_zero_label=True``) and ``IoUMetric``
read it as they read ``ADEChallengeData2016``::

    <out>/images/training/ADE_train_00000001.jpg
    <out>/images/validation/ADE_val_00000001.jpg
    <out>/annotations/training/ADE_train_00000001.png   (uint8 label maps)
    <out>/annotations/validation/ADE_val_00000001.png

Label values follow ADE20K: 0 is "other" (ignored after
``reduce_zero_label``), 1..150 are the ADE20K classes. The photo background
is labelled 'painting' (23), octagons 'signboard' (44), discs 'ball' (120)
and diamonds 'flag' (150); a one-pixel ring around each shape is 0
(ignored), like ADE20K's unlabelled boundaries.
"""
import json
import os
import os.path as osp
from typing import Dict, Tuple

import numpy as np

from .demo_shapes import (
    background,
    check_counts,
    place_circles,
    shape_colour,
    shape_polygon,
)

BACKGROUND_LABEL = 23  # 'painting'
SHAPES = {'octagon': 44, 'disc': 120, 'diamond': 150}


def _make_split(out_dir: str, split: str, prefix: str, num_images: int,
                size: Tuple[int, int], rng: np.random.Generator):
    from PIL import Image, ImageDraw
    img_dir = osp.join(out_dir, 'images', split)
    ann_dir = osp.join(out_dir, 'annotations', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    width, height = size
    kinds = list(SHAPES)
    for index in range(1, num_images + 1):
        canvas = background(rng, width, height)
        label = Image.new('L', (width, height), BACKGROUND_LABEL)
        draw, draw_label = ImageDraw.Draw(canvas), ImageDraw.Draw(label)
        count = int(rng.integers(1, 5))
        for cx, cy, radius in place_circles(rng, width, height, count, 0.08,
                                            0.22):
            kind = kinds[rng.integers(len(kinds))]
            points = shape_polygon(kind, (cx, cy), radius, rng)
            draw.polygon(points, fill=shape_colour(kind, rng))
            draw_label.polygon(points, fill=SHAPES[kind], outline=0)
        name = f'ADE_{prefix}_{index:08d}'
        canvas.save(osp.join(img_dir, name + '.jpg'), quality=92)
        label.save(osp.join(ann_dir, name + '.png'))


def make_demo_ade20k(out_dir: str,
                     num_train: int = 32,
                     num_val: int = 8,
                     size: Tuple[int, int] = (160, 128),
                     seed: int = 0) -> Dict[str, str]:
    """Write the demo set to ``out_dir`` (skipped if already complete).

    Args:
        out_dir (str): Dataset root (the config's ``data_root``).
        num_train (int): Training images. Defaults to 32.
        num_val (int): Validation images. Defaults to 8.
        size (tuple[int, int]): Image (width, height) in pixels.
        seed (int): Random seed. Defaults to 0.

    Returns:
        dict: The image folders, keys ``'train'`` and ``'val'``.

    Raises:
        ValueError: If a count is not positive or the size is below 32.
    """
    check_counts(size, 32, num_train=num_train, num_val=num_val)
    stamp = osp.join(out_dir, '.complete')
    spec = json.dumps(
        dict(n=[num_train, num_val], size=list(size), seed=seed, version=1))
    folders = {
        'train': osp.join(out_dir, 'images', 'training'),
        'val': osp.join(out_dir, 'images', 'validation')
    }
    if osp.isfile(stamp) and open(stamp).read() == spec:
        return folders
    rng = np.random.default_rng(seed)
    _make_split(out_dir, 'training', 'train', num_train, size, rng)
    _make_split(out_dir, 'validation', 'val', num_val, size, rng)
    with open(stamp, 'w') as f:
        f.write(spec)
    return folders
