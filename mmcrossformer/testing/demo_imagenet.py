"""A small classification set in the ImageNet-1K layout of mmpretrain.

``mmpretrain.datasets.ImageNet`` reads it as it reads ILSVRC2012::

    <out>/train/n04254680/n04254680_1.JPEG  (folder per WordNet id)
    <out>/val/ILSVRC2012_val_00000001.JPEG  (flat, as the official val set)
    <out>/meta/train.txt  (lines like "n04254680/n04254680_1.JPEG 805")
    <out>/meta/val.txt    (lines like "ILSVRC2012_val_00000001.JPEG 805")

Labels are the real ImageNet-1K indices (1000-way heads stay unchanged).
Each image shows one large shape on a photo: a disc is 'soccer ball' (805),
an octagon 'street sign' (919), a diamond 'envelope' (549).
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

# shape kind -> (WordNet id, ImageNet-1K class index)
SHAPES = {
    'disc': ('n04254680', 805),
    'octagon': ('n06794110', 919),
    'diamond': ('n03291819', 549),
}


def _draw(rng: np.random.Generator, kind: str, size: Tuple[int, int]):
    from PIL import ImageDraw
    width, height = size
    canvas = background(rng, width, height)
    (cx, cy, radius), = place_circles(rng, width, height, 1, 0.25, 0.45)
    ImageDraw.Draw(canvas).polygon(
        shape_polygon(kind, (cx, cy), radius, rng),
        fill=shape_colour(kind, rng),
        outline=(255, 255, 255))
    return canvas


def make_demo_imagenet(out_dir: str,
                       num_train_per_class: int = 16,
                       num_val_per_class: int = 4,
                       size: Tuple[int, int] = (96, 96),
                       seed: int = 0) -> Dict[str, str]:
    """Write the demo set to ``out_dir`` (skipped if already complete).

    Args:
        out_dir (str): Dataset root (the config's ``data_root``).
        num_train_per_class (int): Training images per class.
        num_val_per_class (int): Validation images per class.
        size (tuple[int, int]): Image (width, height) in pixels.
        seed (int): Random seed. Defaults to 0.

    Returns:
        dict: The annotation files, keys ``'train'`` and ``'val'``.

    Raises:
        ValueError: If a count is not positive or the size is below 32.
    """
    check_counts(
        size,
        32,
        num_train_per_class=num_train_per_class,
        num_val_per_class=num_val_per_class)
    meta = osp.join(out_dir, 'meta')
    files = {s: osp.join(meta, f'{s}.txt') for s in ('train', 'val')}
    stamp = osp.join(out_dir, '.complete')
    spec = json.dumps(
        dict(
            n=[num_train_per_class, num_val_per_class],
            size=list(size),
            seed=seed,
            version=1))
    if osp.isfile(stamp) and open(stamp).read() == spec:
        return files
    os.makedirs(meta, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_lines, val_lines = [], []
    for kind, (wnid, label) in SHAPES.items():
        os.makedirs(osp.join(out_dir, 'train', wnid), exist_ok=True)
        for i in range(1, num_train_per_class + 1):
            rel = f'{wnid}/{wnid}_{i}.JPEG'
            _draw(rng, kind, size).save(
                osp.join(out_dir, 'train', rel), format='JPEG', quality=92)
            train_lines.append(f'{rel} {label}')
    os.makedirs(osp.join(out_dir, 'val'), exist_ok=True)
    order = [(kind, j) for j in range(num_val_per_class) for kind in SHAPES]
    for index, (kind, _) in enumerate(order, start=1):
        name = f'ILSVRC2012_val_{index:08d}.JPEG'
        _draw(rng, kind, size).save(
            osp.join(out_dir, 'val', name), format='JPEG', quality=92)
        val_lines.append(f'{name} {SHAPES[kind][1]}')
    for split, lines in (('train', train_lines), ('val', val_lines)):
        with open(files[split], 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(stamp, 'w') as f:
        f.write(spec)
    return files
