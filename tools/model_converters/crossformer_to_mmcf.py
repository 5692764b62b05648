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

Renaming (official -> ours): ``layers.{i}.blocks.{j}`` -> ``stages.{i}.
blocks.{j}``; ``layers.{i}.downsample.reductions.{k}`` / ``.norm`` (the
merging layer at the end of stage ``i``) -> ``stages.{i+1}.downsample.projs.
{k}`` / ``.norm`` (at the start of stage ``i + 1``); ``attn.pos`` ->
``attn.dpb``; ``mlp.fc1`` / ``mlp.fc2`` -> ``ffn.layers.0.0`` /
``ffn.layers.1``; ``ex_conv`` / ``ex_ln`` -> ``acl.conv`` / ``acl.norm``;
``norm`` -> ``backbone.norm``; ``head`` -> ``head.fc``. The official
buffers ``attn.biases``, ``attn.relative_position_index`` and ``attn_mask``
(recomputed by our model) are dropped when a file has them.

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
import importlib
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from mmcrossformer.utils.state_dict import (
    load_converted_strictly as load_strictly,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TASKS = ('cls', 'det', 'seg', 'backbone')

# (pattern, replacement) on a backbone key without any 'backbone.' prefix,
# tried in order; the first rule that matches wins.
_BACKBONE_RULES: List[Tuple[str, str]] = [
    (r'^patch_embed\.', 'patch_embed.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.pos\.',
     r'stages.\1.blocks.\2.attn.dpb.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.',
     r'stages.\1.blocks.\2.ffn.layers.0.0.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.',
     r'stages.\1.blocks.\2.ffn.layers.1.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.ex_conv\.',
     r'stages.\1.blocks.\2.acl.conv.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.ex_ln\.',
     r'stages.\1.blocks.\2.acl.norm.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.', r'stages.\1.blocks.\2.'),
    (r'^norm\.', 'norm.'),
]
# the merging layer closes official stage i and opens our stage i + 1
_DOWNSAMPLE = re.compile(r'^layers\.(\d+)\.downsample\.(reductions|norm)\.')
# official buffers that our model recomputes
_DROPPED = re.compile(r'(^|\.)(biases|relative_position_index|attn_mask)$')
# neck / head keys of mmdet 2.x and mmseg 0.x kept in mmdet 3.x / mmseg 1.x
_DENSE_PREFIXES = ('neck.', 'bbox_head.', 'rpn_head.', 'roi_head.',
                   'decode_head.', 'auxiliary_head.')


def rename_backbone_key(key: str) -> Optional[str]:
    """Our name of an official backbone key (no prefix), None to drop it.

    Keys no rule knows are returned unchanged, so that a strict load
    reports them as unexpected.
    """
    if _DROPPED.search(key):
        return None
    match = _DOWNSAMPLE.match(key)
    if match:
        stage, part = int(match.group(1)), match.group(2)
        part = 'projs' if part == 'reductions' else 'norm'
        return f'stages.{stage + 1}.downsample.{part}.' + key[match.end():]
    for pattern, repl in _BACKBONE_RULES:
        new, count = re.subn(pattern, repl, key)
        if count:
            return new
    return key


def rename_key(key: str, task: str) -> Optional[str]:
    """Our name of a source key for ``task``; None if the key is dropped.

    Args:
        key (str): Official key (a leading ``module.`` is ignored).
        task (str): ``'cls'`` (classification state dict), ``'det'`` /
            ``'seg'`` (mmdet 2.x / mmseg 0.x state dict) or ``'backbone'``
            (the backbone of any of them for dense configs: the final
            ``norm``, ``head`` and non-backbone keys are dropped).
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {TASKS}, got {task!r}')
    if key.startswith('module.'):
        key = key[len('module.'):]
    if task == 'cls':
        if key.startswith('head.'):
            return 'head.fc.' + key[len('head.'):]
        new = rename_backbone_key(key)
        return None if new is None else 'backbone.' + new
    if task == 'backbone':
        if key.startswith('backbone.'):
            key = key[len('backbone.'):]
        elif key.startswith(_DENSE_PREFIXES):
            return None
        if key.startswith(('norm.', 'head.')):
            return None
        new = rename_backbone_key(key)
        return None if new is None else 'backbone.' + new
    if key.startswith('backbone.'):
        new = rename_backbone_key(key[len('backbone.'):])
        return None if new is None else 'backbone.' + new
    return key


def convert(state_dict: Dict[str, torch.Tensor],
            task: str = 'cls') -> 'OrderedDict[str, torch.Tensor]':
    """Rename an official CrossFormer state dict (tensors are not copied).

    Args:
        state_dict (dict): The source state dict (the ``'model'`` or
            ``'state_dict'`` entry of an official file).
        task (str): ``'cls'``, ``'det'``, ``'seg'`` or ``'backbone'``, see
            :func:`rename_key`. Defaults to ``'cls'``.

    Returns:
        OrderedDict: ``'cls'``: the state dict of an mmpretrain
        ``ImageClassifier`` (``backbone.*``, ``head.fc.*``); ``'det'`` /
        ``'seg'``: of an mmdet 3.x detector / mmseg 1.x segmentor;
        ``'backbone'``: ``backbone.*`` without the final norm.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        new = rename_key(key, task)
        if new is not None:
            out[new] = value
    return out


def unwrap(checkpoint: dict) -> Tuple[dict, str]:
    """The state dict inside a checkpoint file's object and its wrapper key
    (``'model'``, ``'state_dict'`` or ``''`` for a bare state dict)."""
    for key in ('model', 'state_dict'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key], key
    return checkpoint, ''


def detect_task(state_dict: dict, wrapper: str = '') -> str:
    """``'cls'``, ``'det'``, ``'seg'`` or ``'backbone'`` from the keys."""
    keys = [k[len('module.'):] if k.startswith('module.') else k
            for k in state_dict]
    if any(k.startswith('decode_head.') for k in keys):
        return 'seg'
    if any(k.startswith(('bbox_head.', 'rpn_head.', 'roi_head.'))
           for k in keys):
        return 'det'
    if any(k.startswith('backbone.') for k in keys):
        return 'backbone'
    if any(k.startswith('head.') for k in keys):
        return 'cls'
    if any(k.startswith('layers.') for k in keys):
        return 'backbone'
    raise ValueError(f'Not a CrossFormer checkpoint ({wrapper or "bare"} '
                     f'state dict with keys {keys[:5]}...)')


def detect_arch(converted: Dict[str, torch.Tensor]) -> str:
    """Short name of the ``CrossFormer.arch_zoo`` entry matching the shapes.

    The width comes from the stem norm, the depths from the block indices,
    the heads from the DPB output layer and CrossFormer++ from the ACLs.

    Raises:
        ValueError: If no known variant matches.
    """
    from mmcrossformer.models.backbones.crossformer import CrossFormer
    norm = converted.get('backbone.patch_embed.norm.weight')
    if norm is None:
        raise ValueError('backbone.patch_embed.norm.weight is missing; is '
                         'this a CrossFormer checkpoint?')
    blocks = set()
    for key in converted:
        m = re.match(r'backbone\.stages\.(\d+)\.blocks\.(\d+)\.', key)
        if m:
            blocks.add((int(m.group(1)), int(m.group(2))))
    depths = [
        len({b for s, b in blocks if s == i})
        for i in range(max(s for s, _ in blocks) + 1)
    ] if blocks else []
    heads = []
    for i in range(len(depths)):
        w = converted.get(f'backbone.stages.{i}.blocks.0.attn.dpb.pos3.2.bias')
        heads.append(None if w is None else w.shape[0])
    acl = any('.acl.' in k for k in converted)
    found = dict(embed_dims=norm.shape[0], depths=depths, num_heads=heads,
                 use_acl=acl)
    for name in ('t', 's', 'b', 'l', 'pp-s', 'pp-b', 'pp-l', 'pp-h'):
        arch = CrossFormer.arch_zoo[name]
        if all(
                list(arch[k]) == v if isinstance(v, list) else arch[k] == v
                for k, v in found.items()):
            return name
    raise ValueError(f'No CrossFormer variant has {found}')


def short_arch(name: str) -> str:
    """The short ``arch_zoo`` name (``'pp-s'``) of a variant name
    (``'pp-small'``, ``'S'``, ...).

    Raises:
        ValueError: For an unknown name.
    """
    from mmcrossformer.models.backbones.crossformer import CrossFormer
    key = name.lower()
    if key not in CrossFormer.arch_zoo:
        raise ValueError(f'Unknown CrossFormer arch {name!r}; valid names '
                         f'are {sorted(CrossFormer.arch_zoo)}')
    for short in ('t', 's', 'b', 'l', 'pp-s', 'pp-b', 'pp-l', 'pp-h'):
        if CrossFormer.arch_zoo[short] is CrossFormer.arch_zoo[key]:
            return short
    return key


def config_name(task: str, arch: str, state_dict: dict) -> Optional[str]:
    """Path of the repo config matching the task and variant, or None."""
    family = 'crossformerpp' if arch.startswith('pp-') else 'crossformer'
    variant = arch.split('-')[-1]
    if task in ('cls', 'backbone'):
        name = f'{family}_{variant}_in1k.py'
    elif task == 'det':
        model = 'mask_rcnn' if any('mask_head' in k
                                   for k in state_dict) else 'retinanet'
        name = f'{model}_{family}_{variant}_coco.py'
    else:
        model = 'upernet' if any('psp_modules' in k
                                 for k in state_dict) else 'fpn'
        name = f'{model}_{family}_{variant}_ade20k.py'
    path = osp.join(REPO, 'configs', name)
    return path if osp.exists(path) else None


def build_model(config: str, task: str) -> torch.nn.Module:
    """The model of a config, without pretrained initialisation.

    For the ``'backbone'`` task only its backbone as dense configs build it
    (``final_norm=False``), wrapped so that its keys are ``backbone.*``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(config)
    scope = cfg.get('default_scope') or dict(
        cls='mmpretrain', backbone='mmpretrain', det='mmdet',
        seg='mmseg')[task]
    init_default_scope(scope)
    import mmcrossformer  # noqa: F401
    MODELS = importlib.import_module(f'{scope}.registry').MODELS
    model_cfg = cfg.model
    model_cfg.backbone.pop('init_cfg', None)
    model_cfg.pop('pretrained', None)
    if task == 'backbone':
        model_cfg.backbone.final_norm = False
        wrapper = torch.nn.Module()
        wrapper.backbone = MODELS.build(model_cfg.backbone)
        return wrapper
    return MODELS.build(model_cfg)


def load_source(path: str) -> dict:
    """``torch.load`` with ``weights_only=True``, explaining the failure
    when the file stores more than tensors (e.g. the yacs ``config`` that
    the official training code saves next to the weights)."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # pickle.UnpicklingError and friends
        raise RuntimeError(
            f'{path} cannot be read with torch.load(weights_only=True): '
            f'{str(err).splitlines()[0]}\n'
            'Official training checkpoints also pickle their config object '
            '(and optimizer state). If you trust the file, keep only its '
            'weights first, e.g.\n'
            '  python -c "import torch; c = torch.load(\'SRC\', '
            'map_location=\'cpu\', weights_only=False); '
            'torch.save({\'model\': c[\'model\']}, \'SRC_weights.pth\')"\n'
            "(use c['state_dict'] and 'state_dict' for mmdet / mmseg "
            'files) and convert SRC_weights.pth.') from err


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert official CrossFormer / CrossFormer++ weights '
        '(classification, mmdet 2.x, mmseg 0.x or bare backbone) to '
        'mmcrossformer.')
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--task',
        choices=TASKS,
        help='kind of source; recognised from the keys by default')
    parser.add_argument(
        '--arch',
        help='variant (t, s, b, l, pp-s, pp-b, pp-l, pp-h); recognised from '
        'the tensor shapes by default')
    parser.add_argument(
        '--config',
        help='config to check the result against; defaults to the repo '
        'config of the task and variant')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    source, wrapper = unwrap(load_source(args.src))
    task = args.task or detect_task(source, wrapper)
    converted = convert(source, task)
    renamed = dropped = 0
    for key in source:
        new = rename_key(key, task)
        if new is None:
            dropped += 1
            why = 'recomputed buffer' if _DROPPED.search(key) else \
                'not part of a dense backbone'
            print(f'{key} (dropped: {why})')
        elif new != key:
            print(f'{key} -> {new}')
            renamed += 1
    print(f'task {task!r}: renamed {renamed}, dropped {dropped} of '
          f'{len(source)} keys')
    if args.arch:
        arch = short_arch(args.arch)
    else:
        arch = detect_arch(converted)
        print(f'detected variant {arch!r}')
    config = args.config or config_name(task, arch, converted)
    if config is None:
        raise ValueError(f'configs/ has no {task} config for variant '
                         f'{arch!r}; pass one with --config')
    print('checking against', config)
    model = build_model(config, task)
    load_strictly(model, converted)
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
