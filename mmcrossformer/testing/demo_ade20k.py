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

With ``classes`` (a set of your own, as the fine-tuning configs in
``configs/finetune/`` expect), the set is written in mmseg's plain
image / label-folder layout (``BaseSegDataset`` with ``img_suffix='.jpg'``,
``seg_map_suffix='.png'``, ``reduce_zero_label=False``)::

    <out>/img_dir/train/0001.jpg   <out>/ann_dir/train/0001.png
    <out>/img_dir/val/0001.jpg     <out>/ann_dir/val/0001.png

Label ``i`` is class ``classes[i]``: 0 the photo background, ``i >= 1``
shape kind ``KIND_ORDER[i - 1]`` of :mod:`.demo_shapes`; the one-pixel
ring around each shape is 255 (mmseg's ignore index).
"""
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .demo_shapes import (
    background,
    check_counts,
    kinds_for,
    place_circles,
    shape_colour,
    shape_polygon,
)

BACKGROUND_LABEL = 23  # 'painting'
SHAPES = {'octagon': 44, 'disc': 120, 'diamond': 150}


def _make_split(img_dir: str, ann_dir: str, names, size: Tuple[int, int],
                rng: np.random.Generator, shapes: Dict[str, int],
                background_label: int, ring_label: int):
    from PIL import Image, ImageDraw
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    width, height = size
    kinds = list(shapes)
    for name in names:
        canvas = background(rng, width, height)
        label = Image.new('L', (width, height), background_label)
        draw, draw_label = ImageDraw.Draw(canvas), ImageDraw.Draw(label)
        count = int(rng.integers(1, 5))
        for cx, cy, radius in place_circles(rng, width, height, count, 0.08,
                                            0.22):
            kind = kinds[rng.integers(len(kinds))]
            points = shape_polygon(kind, (cx, cy), radius, rng)
            draw.polygon(points, fill=shape_colour(kind, rng))
            draw_label.polygon(points, fill=shapes[kind], outline=ring_label)
        canvas.save(osp.join(img_dir, name + '.jpg'), quality=92)
        label.save(osp.join(ann_dir, name + '.png'))


def make_demo_ade20k(out_dir: str,
                     num_train: int = 32,
                     num_val: int = 8,
                     size: Tuple[int, int] = (160, 128),
                     seed: int = 0,
                     classes: Optional[Sequence[str]] = None
                     ) -> Dict[str, str]:
    """Write the demo set to ``out_dir`` (skipped if already complete).

    Args:
        out_dir (str): Dataset root (the config's ``data_root``).
        num_train (int): Training images. Defaults to 32.
        num_val (int): Validation images. Defaults to 8.
        size (tuple[int, int]): Image (width, height) in pixels.
        seed (int): Random seed. Defaults to 0.
        classes (Sequence[str], optional): Own class names (2 to 7), the
            first for the background, written in the image / label-folder
            layout (see the module doc). Defaults to None (the ADE20K
            layout and labels).

    Returns:
        dict: The image folders, keys ``'train'`` and ``'val'``.

    Raises:
        ValueError: If a count is not positive, the size is below 32, or
            ``classes`` are not 2 to 7 unique names.
    """
    check_counts(size, 32, num_train=num_train, num_val=num_val)
    spec = dict(n=[num_train, num_val], size=list(size), seed=seed,
                version=1)
    if classes is None:
        folders = {
            'train': osp.join(out_dir, 'images', 'training'),
            'val': osp.join(out_dir, 'images', 'validation')
        }
        ann_folders = {
            'train': osp.join(out_dir, 'annotations', 'training'),
            'val': osp.join(out_dir, 'annotations', 'validation')
        }
        names = {
            split: [f'ADE_{split}_{i:08d}' for i in range(1, count + 1)]
            for split, count in (('train', num_train), ('val', num_val))
        }
        shapes, background_label, ring_label = SHAPES, BACKGROUND_LABEL, 0
    else:
        if len(classes) < 2:
            raise ValueError(f'classes must name the background and at '
                             f'least one object class, got {classes!r}')
        kinds = kinds_for(classes, reserved=1)
        spec['classes'] = list(classes)
        folders = {s: osp.join(out_dir, 'img_dir', s) for s in ('train',
                                                                'val')}
        ann_folders = {
            s: osp.join(out_dir, 'ann_dir', s)
            for s in ('train', 'val')
        }
        names = {
            split: [f'{i:04d}' for i in range(1, count + 1)]
            for split, count in (('train', num_train), ('val', num_val))
        }
        shapes = {kind: i for i, kind in enumerate(kinds.values(), 1)}
        background_label, ring_label = 0, 255
    stamp = osp.join(out_dir, '.complete')
    spec = json.dumps(spec)
    if osp.isfile(stamp) and open(stamp).read() == spec:
        return folders
    rng = np.random.default_rng(seed)
    for split in ('train', 'val'):
        _make_split(folders[split], ann_folders[split], names[split], size,
                    rng, shapes, background_label, ring_label)
    with open(stamp, 'w') as f:
        f.write(spec)
    return folders
