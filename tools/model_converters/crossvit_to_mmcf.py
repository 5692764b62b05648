"""Convert CrossViT checkpoints to mmcrossformer's CrossViT + head.

Sources:

* IBM/CrossViT release files (``crossvit_<arch>_224.pth``, also the
  ``*_384`` ones): ``cls_token.0``, ``pos_embed.0``, ... (ParameterLists).
* timm ``crossvit_<arch>_240`` / ``_408`` state dicts: ``cls_token_0``,
  ``pos_embed_0``, ...

Both name the rest alike; the renaming is
:func:`mmcrossformer.models.utils.ckpt_convert.crossvit_converter` (its
module docstring lists the rules). The result has the keys of an mmpretrain
``ImageClassifier`` whose backbone is ``mmcrossformer.CrossViT`` and whose
head is ``mmcrossformer.CrossViTClsHead`` (``backbone.*``, ``head.*``); dense
configs load its ``backbone.`` part with ``init_cfg=dict(type='Pretrained',
checkpoint=DST, prefix='backbone.')``.

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
from typing import Dict

import torch

from mmcrossformer.models.utils import ckpt_convert
from mmcrossformer.utils.checkpoint import safe_load
from mmcrossformer.utils.state_dict import load_converted_strictly

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# the package's functions under the names this script has always offered
convert = ckpt_convert.crossvit_converter
rename_key = ckpt_convert.crossvit_rename_key
detect_arch = ckpt_convert.detect_crossvit_arch


def unwrap(checkpoint: dict) -> dict:
    """The state dict inside a checkpoint file's object (under ``'model'``,
    ``'state_dict'`` or ``'model_ema'``, or the object itself)."""
    return ckpt_convert.unwrap_state_dict(
        checkpoint, ('model', 'state_dict', 'model_ema'))[0]


def load_strictly(model: torch.nn.Module,
                  state_dict: Dict[str, torch.Tensor]) -> None:
    """Load into ``model``; raise listing every missing, unexpected and
    wrong-shape key (position embeddings of another grid are resized on
    load, so their shapes may differ)."""
    load_converted_strictly(model, state_dict, resizable=('.pos_embeds.', ))


def build_classifier(config: str) -> torch.nn.Module:
    """The untrained ImageClassifier of an mmpretrain config
    (``mmcrossformer.apis.build_model``)."""
    from mmcrossformer.apis import build_model
    return build_model(config)


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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = safe_load(args.src, map_location='cpu')
    source = unwrap(checkpoint)
    converted = convert(source)
    renamed = 0
    for key in source:
        new = rename_key(key)
        if new is not None and new != key:
            print(f'{key} -> {new}')
            renamed += 1
    print(f'renamed {renamed} of {len(source)} keys')
    config = args.config
    if config is None:
        arch = detect_arch(converted)
        # the 384 releases: 408-pixel small branch, 34 x 34 patches of 12
        pos = converted.get('backbone.pos_embeds.0')
        res = '_384' if pos is not None and pos.shape[1] == 1 + 34 * 34 \
            else ''
        config = osp.join(REPO, 'configs',
                          f'crossvit_{arch.replace("-", "_")}{res}_in1k.py')
        print(f'detected variant {arch!r}; checking against {config}')
    model = build_classifier(config)
    load_strictly(model, converted)
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
