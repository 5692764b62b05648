"""Convert CrossViT checkpoints to mmcrossformer's CrossViT + head.

Sources:

* IBM/CrossViT release files (``crossvit_<arch>_224.pth``, also the
  ``*_384`` ones): ``cls_token.0``, ``pos_embed.0``, ... (ParameterLists).
* timm ``crossvit_<arch>_240`` / ``_408`` state dicts: ``cls_token_0``,
  ``pos_embed_0``, ...

Both name the rest alike (``patch_embed``, ``blocks.K.blocks.B.I``,
``blocks.K.projs``, ``blocks.K.fusion``, ``blocks.K.revert_projs``,
``norm``, ``head``). The result has the keys of an mmpretrain
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
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from mmcrossformer.utils.state_dict import load_converted_strictly

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# (pattern on the source key, replacement), tried in order on the source key
_RULES: List[Tuple[str, str]] = [
    (r'^cls_token[._](\d+)$', r'backbone.cls_tokens.\1'),
    (r'^pos_embed[._](\d+)$', r'backbone.pos_embeds.\1'),
    (r'^patch_embed\.(\d+)\.proj\.', r'backbone.patch_embeds.\1.projection.'),
    # transformer layers of each branch
    (r'^blocks\.(\d+)\.blocks\.(\d+)\.(\d+)\.norm1\.',
     r'backbone.encoders.\1.branches.\2.\3.ln1.'),
    (r'^blocks\.(\d+)\.blocks\.(\d+)\.(\d+)\.norm2\.',
     r'backbone.encoders.\1.branches.\2.\3.ln2.'),
    (r'^blocks\.(\d+)\.blocks\.(\d+)\.(\d+)\.attn\.(qkv|proj)\.',
     r'backbone.encoders.\1.branches.\2.\3.attn.\4.'),
    (r'^blocks\.(\d+)\.blocks\.(\d+)\.(\d+)\.mlp\.fc1\.',
     r'backbone.encoders.\1.branches.\2.\3.ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.blocks\.(\d+)\.(\d+)\.mlp\.fc2\.',
     r'backbone.encoders.\1.branches.\2.\3.ffn.layers.1.'),
    # cross-attention fusion: f, LN, MCA, g
    (r'^blocks\.(\d+)\.projs\.(\d+)\.(\d+)\.',
     r'backbone.encoders.\1.fusions.\2.project.\3.'),
    (r'^blocks\.(\d+)\.fusion\.(\d+)\.(?:0\.)?norm1\.',
     r'backbone.encoders.\1.fusions.\2.ln.'),
    (r'^blocks\.(\d+)\.fusion\.(\d+)\.(?:0\.)?attn\.w([qkv])\.',
     r'backbone.encoders.\1.fusions.\2.attn.\3.'),
    (r'^blocks\.(\d+)\.fusion\.(\d+)\.(?:0\.)?attn\.proj\.',
     r'backbone.encoders.\1.fusions.\2.attn.proj.'),
    (r'^blocks\.(\d+)\.revert_projs\.(\d+)\.(\d+)\.',
     r'backbone.encoders.\1.fusions.\2.back_project.\3.'),
    (r'^norm\.(\d+)\.', r'backbone.norms.\1.'),
    (r'^head\.(\d+)\.', r'head.fcs.\1.'),
]


def rename_key(key: str) -> Optional[str]:
    """New name of a source key, or None if no rule applies."""
    if key.startswith('module.'):
        key = key[len('module.'):]
    for pattern, repl in _RULES:
        new, count = re.subn(pattern, repl, key)
        if count:
            return new
    return None


def convert(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict':
    """Rename an IBM/CrossViT or timm CrossViT state dict.

    Keys no rule knows are kept unchanged, so that a strict load reports
    them as unexpected. Tensors are not copied.

    Args:
        state_dict (dict): The source state dict.

    Returns:
        OrderedDict: The state dict of an ImageClassifier with a
        ``CrossViT`` backbone and a ``CrossViTClsHead``.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        new = rename_key(key)
        out[new if new is not None else key] = value
    return out


def unwrap(checkpoint: dict) -> dict:
    """The state dict inside a checkpoint file's object."""
    for key in ('model', 'state_dict', 'model_ema'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def detect_arch(converted: Dict[str, torch.Tensor]) -> str:
    """Name of the ``CrossViT.arch_zoo`` entry matching the tensor shapes.

    Raises:
        ValueError: If no known variant matches.
    """
    from mmcrossformer.models.backbones.crossvit import CrossViT
    dims = []
    for b in range(2):
        token = converted.get(f'backbone.cls_tokens.{b}')
        if token is None:
            raise ValueError(f'backbone.cls_tokens.{b} (cls_token_{b}) is '
                             f'missing; is this a CrossViT checkpoint?')
        dims.append(token.shape[-1])
    depths = []
    for b in range(2):
        ids = {
            int(m.group(1))
            for k in converted
            for m in [re.match(rf'backbone\.encoders\.0\.branches\.{b}\.'
                               r'(\d+)\.', k)] if m
        }
        depths.append(len(ids))
    multi_conv = 'backbone.patch_embeds.0.projection.0.weight' in converted
    for name in ('tiny', 'small', 'base', '9', '15', '18', '9-dagger',
                 '15-dagger', '18-dagger'):
        arch = CrossViT.arch_zoo[name]
        if (list(arch['embed_dims']) == dims and list(arch['depths'])
                == depths and arch.get('multi_conv', False) == multi_conv):
            return name
    raise ValueError(f'No CrossViT variant has embed_dims={dims}, '
                     f'depths={depths}, multi_conv={multi_conv}')


def load_strictly(model: torch.nn.Module,
                  state_dict: Dict[str, torch.Tensor]) -> None:
    """Load into ``model``; raise listing every missing, unexpected and
    wrong-shape key (position embeddings of another grid are resized on
    load, so their shapes may differ)."""
    load_converted_strictly(model, state_dict, resizable=('.pos_embeds.', ))


def build_classifier(config: str) -> torch.nn.Module:
    """The ImageClassifier of an mmpretrain config."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import MODELS

    import mmcrossformer  # noqa: F401
    model_cfg = cfg.model
    model_cfg.backbone.pop('init_cfg', None)
    return MODELS.build(model_cfg)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert IBM/CrossViT or timm CrossViT weights to '
        'mmcrossformer (CrossViT backbone + CrossViTClsHead).')
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--config',
        help='mmpretrain config to check the result against; defaults to '
        'configs/crossvit_<variant>_in1k.py of the detected variant')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
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
        config = osp.join(REPO, 'configs',
                          f'crossvit_{arch.replace("-", "_")}_in1k.py')
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
