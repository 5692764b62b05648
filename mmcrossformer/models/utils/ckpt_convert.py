"""Rename the official CrossFormer and CrossViT state dicts to ours.

The same pattern as mmseg's and mmdet's ``models/utils/ckpt_convert.py``:
pure functions from a source state dict to an ``OrderedDict`` with this
project's keys; the tensors are not copied. The command-line converters
(``tools/model_converters/*_to_mmcf.py``) read and write the files and check
the result against a config's model.

CrossFormer / CrossFormer++ (https://github.com/cheerss/CrossFormer,
``models/crossformer.py`` and ``models/crossformer_backbone_det.py``),
official -> ours:

* ``layers.{i}.blocks.{j}`` -> ``stages.{i}.blocks.{j}``;
* ``layers.{i}.downsample.reductions.{k}`` / ``.norm`` (the merging layer
  that closes official stage ``i``) -> ``stages.{i+1}.downsample.projs.{k}``
  / ``.norm`` (it opens our stage ``i + 1``);
* in a block: ``attn.pos`` -> ``attn.dpb``, ``mlp.fc1`` / ``mlp.fc2`` ->
  ``ffn.layers.0.0`` / ``ffn.layers.1``, ``ex_conv`` / ``ex_ln`` (the
  CrossFormer++ ACL) -> ``acl.conv`` / ``acl.norm``;
* ``patch_embed`` and ``norm`` keep their names under ``backbone.``,
  ``head`` -> ``head.fc``;
* the buffers ``attn.biases``, ``attn.relative_position_index`` and
  ``attn_mask``, which our model recomputes, are dropped.

CrossViT (https://github.com/IBM/CrossViT ``models/crossvit.py``, and timm's
``crossvit_*`` state dicts, which write ``cls_token_0`` where IBM writes
``cls_token.0``), source -> ours: ``cls_token`` / ``pos_embed`` ->
``backbone.cls_tokens`` / ``backbone.pos_embeds``; ``patch_embed.{b}.proj``
-> ``backbone.patch_embeds.{b}.projection``; ``blocks.{k}.blocks.{b}.{l}``
(the transformer layers of branch ``b`` in encoder ``k``) ->
``backbone.encoders.{k}.branches.{b}.{l}`` with ``norm1`` / ``norm2`` ->
``ln1`` / ``ln2`` and ``mlp.fc1`` / ``mlp.fc2`` -> ``ffn.layers.0.0`` /
``ffn.layers.1``; the fusion ``blocks.{k}.projs`` / ``fusion`` /
``revert_projs`` -> ``backbone.encoders.{k}.fusions.{b}.project`` /
``ln`` + ``attn`` (``wq`` / ``wk`` / ``wv`` -> ``q`` / ``k`` / ``v``) /
``back_project``; ``norm.{b}`` -> ``backbone.norms.{b}``, ``head.{b}`` ->
``head.fcs.{b}``.

Keys that no rule knows are kept (CrossFormer: under ``backbone.``), so
that a strict load reports them as unexpected.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from .arch_zoo import (
    CROSSFORMER_ARCH_ZOO,
    CROSSFORMER_ARCHS,
    CROSSVIT_ARCH_ZOO,
    CROSSVIT_ARCHS,
)

#: what a CrossFormer source holds: ``'cls'`` (classifier), ``'det'`` /
#: ``'seg'`` (mmdet 2.x detector / mmseg 0.x segmentor) or ``'backbone'``
#: (only the backbone, for dense configs)
CROSSFORMER_TASKS = ('cls', 'det', 'seg', 'backbone')

# (pattern, replacement) on an official backbone key without any prefix,
# tried in order; the first one that matches wins
_CROSSFORMER_RULES: List[Tuple[str, str]] = [
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
# the merging layer at the end of official stage i
_CROSSFORMER_MERGE = re.compile(
    r'^layers\.(\d+)\.downsample\.(reductions|norm)\.')
#: official buffers that our CrossFormer recomputes (dropped on conversion)
CROSSFORMER_RECOMPUTED = re.compile(
    r'(^|\.)(biases|relative_position_index|attn_mask)$')
# neck / head keys of mmdet 2.x and mmseg 0.x, unchanged in mmdet 3.x /
# mmseg 1.x
_DENSE_PREFIXES = ('neck.', 'bbox_head.', 'rpn_head.', 'roi_head.',
                   'decode_head.', 'auxiliary_head.')

_CROSSVIT_RULES: List[Tuple[str, str]] = [
    (r'^cls_token[._](\d+)$', r'backbone.cls_tokens.\1'),
    (r'^pos_embed[._](\d+)$', r'backbone.pos_embeds.\1'),
    (r'^patch_embed\.(\d+)\.proj\.', r'backbone.patch_embeds.\1.projection.'),
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


def _strip_module(key: str) -> str:
    """``key`` without the ``module.`` that DataParallel adds."""
    return key[len('module.'):] if key.startswith('module.') else key


def unwrap_state_dict(checkpoint: dict,
                      keys=('model', 'state_dict')) -> Tuple[dict, str]:
    """The state dict inside a loaded checkpoint file.

    Args:
        checkpoint (dict): What ``torch.load`` returned.
        keys (Sequence[str]): Wrapper keys to look for, in order. Defaults
            to ``('model', 'state_dict')`` (the official training code and
            mmengine).

    Returns:
        tuple[dict, str]: The state dict and the wrapper key it was under
        (``''`` for a bare state dict).
    """
    for key in keys:
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key], key
    return checkpoint, ''


# ---------------------------------------------------------- CrossFormer --
def _crossformer_backbone_key(key: str) -> Optional[str]:
    """Our name of an official backbone key (no prefix); None to drop."""
    if CROSSFORMER_RECOMPUTED.search(key):
        return None
    match = _CROSSFORMER_MERGE.match(key)
    if match:
        stage = int(match.group(1)) + 1
        part = 'projs' if match.group(2) == 'reductions' else 'norm'
        return f'stages.{stage}.downsample.{part}.' + key[match.end():]
    for pattern, repl in _CROSSFORMER_RULES:
        new, count = re.subn(pattern, repl, key)
        if count:
            return new
    return key


def crossformer_rename_key(key: str, task: str = 'cls') -> Optional[str]:
    """Our name of one key of an official CrossFormer state dict.

    Args:
        key (str): The official key; a leading ``module.`` is ignored.
        task (str): What the source holds, one of
            :data:`CROSSFORMER_TASKS`. ``'cls'``: backbone keys go under
            ``backbone.``, ``head`` becomes ``head.fc``. ``'det'`` /
            ``'seg'``: ``backbone.*`` keys are renamed, neck and head keys
            pass unchanged. ``'backbone'``: the backbone of any of them
            (with or without ``backbone.``) for dense configs; the final
            ``norm``, ``head`` and neck / head keys are dropped. Defaults
            to ``'cls'``.

    Returns:
        str | None: The new key, or None when the key is dropped (see the
        module docstring).

    Raises:
        ValueError: For an unknown ``task``.
    """
    if task not in CROSSFORMER_TASKS:
        raise ValueError(f'task must be one of {CROSSFORMER_TASKS}, got '
                         f'{task!r}')
    key = _strip_module(key)
    if task == 'cls':
        if key.startswith('head.'):
            return 'head.fc.' + key[len('head.'):]
    elif task == 'backbone':
        if key.startswith('backbone.'):
            key = key[len('backbone.'):]
        elif key.startswith(_DENSE_PREFIXES):
            return None
        if key.startswith(('norm.', 'head.')):
            return None
    elif key.startswith('backbone.'):
        key = key[len('backbone.'):]
    else:  # neck and heads of a dense checkpoint
        return key
    new = _crossformer_backbone_key(key)
    return None if new is None else 'backbone.' + new


def crossformer_converter(state_dict: Dict[str, torch.Tensor],
                          task: str = 'cls'
                          ) -> 'OrderedDict[str, torch.Tensor]':
    """Convert an official CrossFormer / CrossFormer++ state dict.

    Args:
        state_dict (dict): The ``'model'`` (classification) or
            ``'state_dict'`` (mmdet 2.x / mmseg 0.x) entry of an official
            checkpoint, or a bare backbone state dict.
        task (str): See :func:`crossformer_rename_key`. Defaults to
            ``'cls'``.

    Returns:
        OrderedDict: ``'cls'``: the state dict of an mmpretrain
        ``ImageClassifier`` (``backbone.*``, ``head.fc.*``); ``'det'`` /
        ``'seg'``: of an mmdet 3.x detector / mmseg 1.x segmentor;
        ``'backbone'``: ``backbone.*`` of a dense backbone (no final norm).

    Raises:
        ValueError: For an unknown ``task``.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        new = crossformer_rename_key(key, task)
        if new is not None:
            out[new] = value
    return out


def detect_crossformer_task(state_dict: dict, wrapper: str = '') -> str:
    """What an official CrossFormer state dict holds, from its keys.

    Args:
        state_dict (dict): The source state dict.
        wrapper (str): The key it was found under (for the error message).

    Returns:
        str: ``'seg'`` (a ``decode_head``), ``'det'`` (box / RPN / RoI
        heads), ``'backbone'`` (``backbone.*`` only, or bare ``layers.*``
        without a head) or ``'cls'`` (a ``head``).

    Raises:
        ValueError: If the keys are not those of a CrossFormer.
    """
    keys = [_strip_module(k) for k in state_dict]
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


def detect_crossformer_arch(converted: Dict[str, torch.Tensor]) -> str:
    """The ``CrossFormer.arch_zoo`` variant of converted weights.

    Read from the shapes: the width from the stem norm, the depths from the
    block indices, the heads from the DPB output layer and CrossFormer++
    from the presence of ACLs.

    Args:
        converted (dict): The output of :func:`crossformer_converter`.

    Returns:
        str: A short arch name (``'t'`` ... ``'l'``, ``'pp-s'`` ...
        ``'pp-h'``).

    Raises:
        ValueError: If the stem norm is missing or no variant matches.
    """
    norm = converted.get('backbone.patch_embed.norm.weight')
    if norm is None:
        raise ValueError('backbone.patch_embed.norm.weight is missing; is '
                         'this a CrossFormer checkpoint?')
    blocks = set()
    for key in converted:
        match = re.match(r'backbone\.stages\.(\d+)\.blocks\.(\d+)\.', key)
        if match:
            blocks.add((int(match.group(1)), int(match.group(2))))
    num_stages = max(s for s, _ in blocks) + 1 if blocks else 0
    depths = [len({b for s, b in blocks if s == i})
              for i in range(num_stages)]
    heads = []
    for i in range(num_stages):
        bias = converted.get(
            f'backbone.stages.{i}.blocks.0.attn.dpb.pos3.2.bias')
        heads.append(None if bias is None else bias.shape[0])
    found = dict(embed_dims=norm.shape[0], depths=depths, num_heads=heads,
                 use_acl=any('.acl.' in k for k in converted))
    for name in CROSSFORMER_ARCHS:
        arch = CROSSFORMER_ARCH_ZOO[name]
        if all(list(arch[k]) == v if isinstance(v, list) else arch[k] == v
               for k, v in found.items()):
            return name
    raise ValueError(f'No CrossFormer variant has {found}')


def crossformer_short_arch(name: str) -> str:
    """The short ``arch_zoo`` name (``'pp-s'``) of any alias
    (``'pp-small'``, ``'S'``, ...).

    Raises:
        ValueError: For an unknown name.
    """
    key = name.lower()
    if key not in CROSSFORMER_ARCH_ZOO:
        raise ValueError(f'Unknown CrossFormer arch {name!r}; valid names '
                         f'are {sorted(CROSSFORMER_ARCH_ZOO)}')
    for short in CROSSFORMER_ARCHS:
        if CROSSFORMER_ARCH_ZOO[short] is CROSSFORMER_ARCH_ZOO[key]:
            return short
    return key


# ------------------------------------------------------------- CrossViT --
def crossvit_rename_key(key: str) -> Optional[str]:
    """Our name of one IBM/CrossViT or timm CrossViT key (a leading
    ``module.`` is ignored), or None when no rule knows it."""
    key = _strip_module(key)
    for pattern, repl in _CROSSVIT_RULES:
        new, count = re.subn(pattern, repl, key)
        if count:
            return new
    return None


def crossvit_converter(
        state_dict: Dict[str, torch.Tensor]
) -> 'OrderedDict[str, torch.Tensor]':
    """Convert an IBM/CrossViT or timm CrossViT state dict.

    Args:
        state_dict (dict): The source state dict.

    Returns:
        OrderedDict: The state dict of an mmpretrain ``ImageClassifier``
        with a ``CrossViT`` backbone and a ``CrossViTClsHead``
        (``backbone.*``, ``head.fcs.*``); unknown keys are kept as they
        are.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        new = crossvit_rename_key(key)
        out[key if new is None else new] = value
    return out


def detect_crossvit_arch(converted: Dict[str, torch.Tensor]) -> str:
    """The ``CrossViT.arch_zoo`` variant of converted weights, from the
    class-token widths, the branch depths of the first encoder and the
    multi-convolution patch embedding of the dagger variants.

    Args:
        converted (dict): The output of :func:`crossvit_converter`.

    Returns:
        str: An arch name (``'tiny'`` ... ``'18-dagger'``).

    Raises:
        ValueError: If a class token is missing or no variant matches.
    """
    dims, depths = [], []
    for b in range(2):
        token = converted.get(f'backbone.cls_tokens.{b}')
        if token is None:
            raise ValueError(f'backbone.cls_tokens.{b} (cls_token_{b}) is '
                             f'missing; is this a CrossViT checkpoint?')
        dims.append(token.shape[-1])
        layer = re.compile(rf'backbone\.encoders\.0\.branches\.{b}\.(\d+)\.')
        depths.append(
            len({m.group(1)
                 for m in map(layer.match, converted) if m}))
    multi_conv = 'backbone.patch_embeds.0.projection.0.weight' in converted
    for name in CROSSVIT_ARCHS:
        arch = CROSSVIT_ARCH_ZOO[name]
        if (list(arch['embed_dims']) == dims
                and list(arch['depths']) == depths
                and arch.get('multi_conv', False) == multi_conv):
            return name
    raise ValueError(f'No CrossViT variant has embed_dims={dims}, '
                     f'depths={depths}, multi_conv={multi_conv}')


__all__ = [
    'CROSSFORMER_TASKS', 'CROSSFORMER_RECOMPUTED', 'unwrap_state_dict',
    'crossformer_rename_key', 'crossformer_converter',
    'detect_crossformer_task', 'detect_crossformer_arch',
    'crossformer_short_arch', 'crossvit_rename_key', 'crossvit_converter',
    'detect_crossvit_arch'
]
