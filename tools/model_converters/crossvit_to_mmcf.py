"""Convert CrossViT checkpoints to mmcrossformer's CrossViT + head.

Sources:

* IBM/CrossViT release files (``crossvit_<arch>_224.pth``, also the
  ``*_384`` ones): ``cls_token.0``, ``pos_embed.0``, ... (ParameterLists).
* timm ``crossvit_<arch>_240`` / ``_408`` state dicts: ``cls_token_0``,
  ``pos_embed_0``, ...

Both name the rest alike; the renaming is
:func:`mmcrossformer.models.utils.ckpt_convert.crossvit_converter` (its
module docstring lists the rules), the config and model of the check
:mod:`mmcrossformer.apis.conversion`'s. The result has the keys of an
mmpretrain ``ImageClassifier`` whose backbone is ``mmcrossformer.CrossViT``
and whose head is ``mmcrossformer.CrossViTClsHead`` (``backbone.*``,
``head.*``); dense configs load its ``backbone.`` part with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.

Usage::

    python tools/model_converters/crossvit_to_mmcf.py SRC DST [--config CFG]

The variant is recognised from the tensor shapes; the converted weights are
loaded strictly into the model of ``configs/crossvit_<variant>_in1k.py``
(or ``--config``) before anything is saved. A mismatch stops the script with
the missing, unexpected and wrong-shape keys.
"""
import argparse
import os.path as osp
import sys

import torch

from mmcrossformer.apis.conversion import (
    conversion_model,
    crossvit_config,
    load_crossvit_strictly,
)
from mmcrossformer.models.utils.ckpt_convert import (
    crossvit_converter,
    crossvit_rename_key,
    detect_crossvit_arch,
    unwrap_state_dict,
)
from mmcrossformer.utils.checkpoint import safe_load
from mmcrossformer.utils.cli import require_files

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert IBM/CrossViT or timm CrossViT weights to '
        'mmcrossformer (CrossViT backbone + CrossViTClsHead).')
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--config',
        help='mmpretrain config to check the result against; defaults to '
        'configs/crossvit_<variant>_in1k.py of the detected variant '
        '(crossvit_<variant>_384_in1k.py for the 384 releases)')
    args = parser.parse_args(argv)
    require_files(parser, {
        'source checkpoint': args.src,
        'config': args.config
    })
    return args


def main(argv=None):
    args = parse_args(argv)
    checkpoint = safe_load(args.src, map_location='cpu')
    # the state dict under 'model', 'state_dict' or 'model_ema', or the
    # object itself
    source = unwrap_state_dict(checkpoint,
                               ('model', 'state_dict', 'model_ema'))[0]
    converted = crossvit_converter(source)
    renamed = 0
    for key in source:
        new = crossvit_rename_key(key)
        if new is not None and new != key:
            print(f'{key} -> {new}')
            renamed += 1
    print(f'renamed {renamed} of {len(source)} keys')
    config = args.config
    if config is None:
        arch = detect_crossvit_arch(converted)
        config = crossvit_config(arch, converted, osp.join(REPO, 'configs'))
        print(f'detected variant {arch!r}; checking against {config}')
    load_crossvit_strictly(conversion_model(config), converted)
    print('loaded strictly into the model of', config)
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(converted_from=osp.basename(args.src),
                      config=osp.basename(config))), args.dst)
    print('saved', args.dst)


if __name__ == '__main__':
    try:
        main()
    except (RuntimeError, ValueError) as err:
        print(err, file=sys.stderr)
        sys.exit(1)
