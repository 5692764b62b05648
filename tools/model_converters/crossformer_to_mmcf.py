"""Convert official CrossFormer / CrossFormer++ checkpoints to mmcrossformer.

Sources (https://github.com/cheerss/CrossFormer):

* ImageNet-1K classification releases and the ``backbone-crossformer-*.pth``
  files the official detection / segmentation configs start from: a dict
  with ``'model'`` (``main.py`` / ``utils.save_checkpoint``) holding
  ``patch_embed.*``, ``layers.{i}.blocks.{j}.*``, ``layers.{i}.downsample.*``,
  ``norm.*`` and ``head.*``. Converted to an mmpretrain ``ImageClassifier``
  (``backbone.*``, ``head.fc.*``) that loads strictly into
  ``configs/crossformer[pp]_<variant>_in1k.py``.
* mmdet 2.x detectors and mmseg 0.x segmentors trained with the official
  ``detection/`` and ``segmentation/`` code: ``'state_dict'`` with
  ``backbone.*`` plus neck / head keys. The backbone keys are renamed; the
  neck and head keys of RetinaNet, Mask R-CNN, Semantic FPN and UPerNet kept
  their names in mmdet 3.x / mmseg 1.x, so they pass through unchanged.
* ``--task backbone``: the backbone of any of the above (or of a bare state
  dict) for dense configs, i.e. ``backbone.*`` keys without the classifier's
  final ``norm`` and ``head`` (dense backbones have neither, and pretrained
  weights load strictly), to be loaded with ``init_cfg=dict(
  type='Pretrained', checkpoint=DST, prefix='backbone.')`` (the ``pretrained``
  variable of the dense configs). A bare state dict without ``head.*`` is
  taken for this task by default.

The renaming is :func:`mmcrossformer.models.utils.ckpt_convert.
crossformer_converter` (its module docstring lists the rules), the config
and model of the check :mod:`mmcrossformer.apis.conversion`'s; this script
reads and writes the files.

Usage::

    python tools/model_converters/crossformer_to_mmcf.py SRC DST \
        [--task cls|det|seg] [--arch NAME] [--config CONFIG]

The task is recognised from the file (``--task`` overrides), the variant
from the tensor shapes (``--arch`` overrides), and the config from both
(``--config`` overrides; dense checkpoints of variants without a config of
their own need it). The converted weights are loaded strictly into the
model the config builds before anything is saved; a mismatch stops the
script with the missing, unexpected and wrong-shape keys.
"""
import argparse
import os.path as osp
import sys

import torch

from mmcrossformer.apis.conversion import (
    conversion_model,
    crossformer_config,
)
from mmcrossformer.models.utils.ckpt_convert import (
    CROSSFORMER_RECOMPUTED,
    CROSSFORMER_TASKS,
    crossformer_converter,
    crossformer_rename_key,
    crossformer_short_arch,
    detect_crossformer_arch,
    detect_crossformer_task,
    unwrap_state_dict,
)
from mmcrossformer.utils.checkpoint import safe_load
from mmcrossformer.utils.cli import require_files
from mmcrossformer.utils.state_dict import load_converted_strictly

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert official CrossFormer / CrossFormer++ weights '
        '(classification, mmdet 2.x, mmseg 0.x or bare backbone) to '
        'mmcrossformer.')
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--task',
        choices=CROSSFORMER_TASKS,
        help='kind of source; recognised from the keys by default')
    parser.add_argument(
        '--arch',
        help='variant (t, s, b, l, pp-s, pp-b, pp-l, pp-h); recognised from '
        'the tensor shapes by default')
    parser.add_argument(
        '--config',
        help='config to check the result against; defaults to the repo '
        'config of the task and variant')
    args = parser.parse_args(argv)
    require_files(parser, {
        'source checkpoint': args.src,
        'config': args.config
    })
    return args


def main(argv=None):
    args = parse_args(argv)
    source, wrapper = unwrap_state_dict(
        safe_load(args.src, map_location='cpu'))
    task = args.task or detect_crossformer_task(source, wrapper)
    converted = crossformer_converter(source, task)
    renamed = dropped = 0
    for key in source:
        new = crossformer_rename_key(key, task)
        if new is None:
            dropped += 1
            recomputed = CROSSFORMER_RECOMPUTED.search(key)
            why = 'recomputed buffer' if recomputed else \
                'not part of a dense backbone'
            print(f'{key} (dropped: {why})')
        elif new != key:
            print(f'{key} -> {new}')
            renamed += 1
    print(f'task {task!r}: renamed {renamed}, dropped {dropped} of '
          f'{len(source)} keys')
    if args.arch:
        arch = crossformer_short_arch(args.arch)
    else:
        arch = detect_crossformer_arch(converted)
        print(f'detected variant {arch!r}')
    config = args.config or crossformer_config(
        task, arch, converted, osp.join(REPO, 'configs'))
    if config is None:
        raise ValueError(f'configs/ has no {task} config for variant '
                         f'{arch!r}; pass one with --config')
    print('checking against', config)
    load_converted_strictly(conversion_model(config, task), converted)
    print('loaded strictly into the model of', config)
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(
                converted_from=osp.basename(args.src),
                task=task,
                arch=arch,
                config=osp.basename(config))), args.dst)
    print('saved', args.dst)


if __name__ == '__main__':
    try:
        main()
    except (RuntimeError, ValueError) as err:
        print(err, file=sys.stderr)
        sys.exit(1)
