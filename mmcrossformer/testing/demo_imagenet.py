"""A small classification set in the ImageNet-1K layout of mmpretrain.

``mmpretrain.datasets.ImageNet`` reads it as it reads ILSVRC2012::

    <out>/train/n04254680/n04254680_1.JPEG  (folder per WordNet id)
    <out>/val/ILSVRC2012_val_00000001.JPEG  (flat, as the official val set)
    <out>/meta/train.txt  (lines like "n04254680/n04254680_1.JPEG 805")
    <out>/meta/val.txt    (lines like "ILSVRC2012_val_00000001.JPEG 805")

Labels are the real ImageNet-1K indices (1000-way heads stay unchanged).
Each image shows one large shape on a photo: a disc is 'soccer ball' (805),
an octagon 'street sign' (919), a diamond 'envelope' (549).

With ``classes`` (a set of your own, as the fine-tuning configs in
``configs/finetune/`` expect), the set is a plain folder tree that
mmpretrain's ``CustomDataset`` reads without annotation files, one folder
per class in both splits::

    <out>/train/<class>/<class>_1.jpg ...
    <out>/val/<class>/<class>_1.jpg ...

and class ``i`` is drawn as shape kind ``KIND_ORDER[i]`` of
:mod:`.demo_shapes` (octagon, disc, diamond, triangle, hexagon, square).
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


def _make_folder_tree(out_dir: str, kinds: Dict[str, str], num_train: int,
                      num_val: int, size: Tuple[int, int],
                      seed: int) -> Dict[str, str]:
    """The folder-tree set of ``kinds`` ({class name: shape kind})."""
    folders = {s: osp.join(out_dir, s) for s in ('train', 'val')}
    stamp = osp.join(out_dir, '.complete')
    spec = json.dumps(
        dict(
            n=[num_train, num_val],
            size=list(size),
            seed=seed,
            classes=list(kinds),
            version=1))
    if osp.isfile(stamp) and open(stamp).read() == spec:
        return folders
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        for name, kind in kinds.items():
            folder = osp.join(folders[split], name)
            os.makedirs(folder, exist_ok=True)
            for i in range(1, count + 1):
                _draw(rng, kind, size).save(
                    osp.join(folder, f'{name}_{i}.jpg'),
                    format='JPEG',
                    quality=92)
    with open(stamp, 'w') as f:
        f.write(spec)
    return folders


def make_demo_imagenet(out_dir: str,
                       num_train_per_class: int = 16,
                       num_val_per_class: int = 4,
                       size: Tuple[int, int] = (96, 96),
                       seed: int = 0,
                       classes: Optional[Sequence[str]] = None
                       ) -> Dict[str, str]:
    """Write the demo set to ``out_dir`` (skipped if already complete).

    Args:
        out_dir (str): Dataset root (the config's ``data_root``).
        num_train_per_class (int): Training images per class.
        num_val_per_class (int): Validation images per class.
        size (tuple[int, int]): Image (width, height) in pixels.
        seed (int): Random seed. Defaults to 0.
        classes (Sequence[str], optional): Own class names (1 to 6), written
            as a folder tree (see the module doc). Defaults to None (the
            ImageNet-1K layout and labels).

    Returns:
        dict: The annotation files, keys ``'train'`` and ``'val'``; with
        ``classes``, the two split folders.

    Raises:
        ValueError: If a count is not positive, the size is below 32, or
            ``classes`` are not 1 to 6 unique names.
    """
    check_counts(
        size,
        32,
        num_train_per_class=num_train_per_class,
        num_val_per_class=num_val_per_class)
    if classes is not None:
        return _make_folder_tree(out_dir, kinds_for(classes),
                                 num_train_per_class, num_val_per_class, size,
                                 seed)
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
