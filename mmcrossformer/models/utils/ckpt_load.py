"""Load official checkpoints as released: recognise, convert, check.

A checkpoint is recognised from its keys (as timm's
``checkpoint_filter_fn`` converts foreign layouts on load):

* cheerss/CrossFormer ImageNet classifiers (``{'model': ...}``, keys
  ``layers.*``, ``head.*``), its mmdet 2.x / mmseg 0.x detectors and
  segmentors (``state_dict`` with ``backbone.layers.*`` and the neck / head
  keys) and bare backbones;
* IBM/CrossViT and timm CrossViT classifiers (``blocks.*``, ``cls_token.0``
  or ``cls_token_0``);
* anything else is taken as this project's own layout.

A recognised file is converted in memory by the same functions as
``tools/model_converters/`` (:mod:`.ckpt_convert`), then checked against
the model the config builds: a file of another family, arch or task stops
with a ``ValueError`` naming the file, what it holds and what the config
builds, before anything is copied. One log line says what was recognised
and converted.
"""
import re
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from . import ckpt_convert as cc

#: display names of the CrossFormer (short) and CrossViT arch names
ARCH_TITLES = {
    't': 'CrossFormer-T', 's': 'CrossFormer-S', 'b': 'CrossFormer-B',
    'l': 'CrossFormer-L', 'pp-s': 'CrossFormer++-S',
    'pp-b': 'CrossFormer++-B', 'pp-l': 'CrossFormer++-L',
    'pp-h': 'CrossFormer++-H', 'tiny': 'CrossViT-Ti', 'small': 'CrossViT-S',
    'base': 'CrossViT-B', '9': 'CrossViT-9', '15': 'CrossViT-15',
    '18': 'CrossViT-18', '9-dagger': 'CrossViT-9†',
    '15-dagger': 'CrossViT-15†', '18-dagger': 'CrossViT-18†'
}
# what each task's file holds, and what a model of each task is
_TASK_TITLES = {
    'cls': ('ImageNet classifier', 'classifier'),
    'det': ('mmdet 2.x detector', 'detector'),
    'seg': ('mmseg 0.x segmentor', 'segmentor'),
    'backbone': ('backbone (no head)', 'backbone'),
}
_SOURCES = {
    'crossformer': 'cheerss/CrossFormer',
    'crossvit': 'IBM/CrossViT or timm',
}
# the heads a model of each task has (mmengine attribute names)
_DENSE_HEADS = {
    'det': ('bbox_head', 'rpn_head', 'roi_head'),
    'seg': ('decode_head', ),
}


class OfficialFormat(NamedTuple):
    """What a recognised official checkpoint holds."""
    family: str  #: 'crossformer' or 'crossvit'
    task: str  #: 'cls', 'det', 'seg' or 'backbone'
    arch: str  #: a short arch name (``'pp-s'``, ``'15-dagger'``)
    modules: Tuple[str, ...]  #: top-level modules (``backbone``, ``neck``)

    def describe(self) -> str:
        """E.g. ``'a cheerss/CrossFormer ImageNet classifier
        (CrossFormer++-S)'``."""
        source = _SOURCES[self.family]
        article = 'an' if source[0] in 'AEIOU' else 'a'
        text = (f'{article} {source} {_TASK_TITLES[self.task][0]} '
                f'({ARCH_TITLES.get(self.arch, self.arch)}')
        if self.task in ('det', 'seg'):
            text += f'; {", ".join(self.modules)}'
        return text + ')'


def _strip(key: str) -> str:
    return key[len('module.'):] if key.startswith('module.') else key


def recognise(state_dict: Dict[str, torch.Tensor]
              ) -> Optional[Tuple[str, str]]:
    """The official layout of a state dict, from its keys.

    Args:
        state_dict (dict): A state dict (already unwrapped from ``model`` /
            ``state_dict``).

    Returns:
        tuple[str, str] | None: ``(family, task)`` (see
        :class:`OfficialFormat`), or None for this project's own layout and
        anything unknown.
    """
    keys = [_strip(k) for k in state_dict]
    # CEL's several projections tell CrossFormer from Swin, whose official
    # files also have layers.*.blocks.* keys
    if any(re.match(r'(backbone\.)?layers\.\d+\.blocks\.\d+\.', k)
           for k in keys) and any(
               re.match(r'(backbone\.)?patch_embed\.projs\.', k)
               for k in keys):
        return 'crossformer', cc.detect_crossformer_task(state_dict)
    if any(re.match(r'blocks\.\d+\.blocks\.\d+\.', k) or re.match(
            r'cls_token[._]\d+$', k) for k in keys):
        return 'crossvit', 'cls'
    return None


def convert_official(checkpoint: dict
                     ) -> Tuple[Optional[OfficialFormat], dict]:
    """Recognise and convert an official checkpoint (in memory).

    Args:
        checkpoint (dict): What ``torch.load`` returned.

    Returns:
        tuple[OfficialFormat | None, dict]: The format (None for this
        project's own layout) and the state dict in this project's keys
        (whole model: ``backbone.*`` plus heads; the unchanged state dict
        for our own layout, ``module.`` prefixes removed).

    Raises:
        ValueError: If the keys look official but no arch of the package
            has their shapes.
    """
    state, _ = cc.unwrap_state_dict(checkpoint)
    found = recognise(state)
    if found is None:
        return None, {_strip(k): v for k, v in state.items()}
    family, task = found
    if family == 'crossformer':
        converted = cc.crossformer_converter(state, task)
        arch = cc.detect_crossformer_arch(converted)
    else:
        converted = cc.crossvit_converter(state)
        arch = cc.detect_crossvit_arch(converted)
    modules = tuple(dict.fromkeys(k.split('.')[0] for k in converted))
    return OfficialFormat(family, task, arch, modules), dict(converted)


def _family(backbone: nn.Module) -> Optional[str]:
    name = type(backbone).__name__
    return {'CrossFormer': 'crossformer', 'CrossViT': 'crossvit'}.get(name)


def built_arch(backbone: nn.Module) -> Optional[str]:
    """The arch name of a built CrossFormer / CrossViT backbone, read from
    its parameter shapes as for a checkpoint (None for a custom arch or
    another backbone)."""
    family = _family(backbone)
    if family is None:
        return None
    state = {'backbone.' + k: v for k, v in backbone.state_dict().items()}
    try:
        if family == 'crossformer':
            return cc.detect_crossformer_arch(state)
        return cc.detect_crossvit_arch(state)
    except ValueError:
        return None


def _model_task(model: nn.Module) -> str:
    for task, heads in _DENSE_HEADS.items():
        if any(getattr(model, h, None) is not None for h in heads):
            return task
    return 'cls'


def _builds(model: nn.Module, backbone: Optional[nn.Module]) -> str:
    """E.g. ``'RetinaNet with CrossFormer++-S'``."""
    if backbone is None:
        return type(model).__name__
    arch = built_arch(backbone)
    title = ARCH_TITLES.get(arch, f'a custom {type(backbone).__name__}') \
        if arch else f'a custom {type(backbone).__name__}'
    if model is backbone:
        return f'the backbone {title}'
    return f'{type(model).__name__} with {title}'


def check_official(fmt: OfficialFormat, source: str, model: nn.Module,
                   backbone: Optional[nn.Module], whole: bool) -> None:
    """Refuse an official checkpoint of another family, arch or task.

    Args:
        fmt (OfficialFormat): What the file holds.
        source (str): The file name, for the message.
        model (nn.Module): The model the config builds.
        backbone (nn.Module, optional): Its backbone (``model`` itself for
            a backbone's ``init_cfg``).
        whole (bool): Whether the file is loaded into the whole model
            (``load_from``, ``tools/test.py``) rather than a backbone.

    Raises:
        ValueError: Naming the file, what it holds and what the config
            builds.
    """
    holds = f'{source} holds {fmt.describe()}'
    builds = f'the config builds {_builds(model, backbone)}'
    if backbone is None or _family(backbone) != fmt.family:
        raise ValueError(f'{holds}, but {builds}.')
    arch = built_arch(backbone)
    if arch is not None and arch != fmt.arch:
        raise ValueError(f'{holds}, but {builds}: use the '
                         f'{ARCH_TITLES[arch]} checkpoint, or the config of '
                         f'{ARCH_TITLES[fmt.arch]}.')
    if whole and _model_task(model) != fmt.task:
        hint = (' Load it as the backbone\'s pretrained weights instead: '
                'model.backbone.init_cfg=dict(type=\'Pretrained\', '
                f'checkpoint=\'{source}\').') if fmt.task in (
                    'cls', 'backbone') else ''
        raise ValueError(f'{holds}, but {builds} (a '
                         f'{_TASK_TITLES[_model_task(model)][1]}), so it '
                         f'cannot be its load_from / test checkpoint.{hint}')


def _log(fmt: OfficialFormat, source: str, into: str) -> None:
    MMLogger.get_current_instance().info(
        f'{source}: recognised {fmt.describe()}; converted to mmcrossformer '
        f'keys in memory (as tools/model_converters) and loaded strictly '
        f'into {into}')


def backbone_state(checkpoint: dict, backbone: nn.Module, source: str,
                   prefix: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """The weights of a backbone's ``init_cfg`` checkpoint, keys relative
    to the backbone.

    An official file (any task) gives its backbone weights, converted; its
    classifier head and, for a backbone without one, its final norm(s) are
    left out (logged). ``prefix`` then does not matter (``None`` and
    ``'backbone.'`` both work). Our own files are cut by ``prefix``.

    Args:
        checkpoint (dict): What ``torch.load`` returned.
        backbone (nn.Module): The backbone to load.
        source (str): The file name, for messages.
        prefix (str, optional): Key prefix of the backbone in our own
            files. Defaults to None.

    Returns:
        dict: The state dict to load strictly.

    Raises:
        ValueError: For an official file of another family or arch (see
            :func:`check_official`), or when no key of our own file starts
            with ``prefix``.
    """
    fmt, state = convert_official(checkpoint)
    if fmt is None:
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state = {
                k[len(prefix):]: v
                for k, v in state.items() if k.startswith(prefix)
            }
            if not state:
                raise ValueError(f'no key of {source} starts with the '
                                 f'prefix {prefix!r}')
        return state
    check_official(fmt, source, backbone, backbone, whole=False)
    own = backbone.state_dict()
    state = {
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    }
    unused = [
        k for k in state if k not in own and re.match(r'norms?\.', k)
    ]
    for key in unused:
        del state[key]
    dropped = ['the classifier head'] if fmt.task == 'cls' else []
    if unused:
        dropped.append(f'the final norm ({len(unused)} entries; the backbone '
                       f'has none)')
    _log(fmt, source, f'the backbone {type(backbone).__name__}' +
         (f', leaving out {" and ".join(dropped)}' if dropped else ''))
    return state


def model_state(checkpoint: dict, model: nn.Module,
                source: str) -> Dict[str, torch.Tensor]:
    """The weights of a whole-model checkpoint (``load_from``, a test or
    demo checkpoint), keys relative to ``model``.

    Args:
        checkpoint (dict): What ``torch.load`` returned.
        model (nn.Module): The classifier / detector / segmentor (unwrapped
            from DDP or a TTA model).
        source (str): The file name, for messages.

    Returns:
        dict: The state dict (``module.`` prefixes removed).

    Raises:
        ValueError: For an official file of another family, arch or task
            (see :func:`check_official`).
    """
    fmt, state = convert_official(checkpoint)
    if fmt is not None:
        check_official(fmt, source, model, getattr(model, 'backbone', None),
                       whole=True)
        _log(fmt, source, type(model).__name__)
    return state


def head_shape_mismatches(model: nn.Module,
                          state: Dict[str, torch.Tensor]) -> List[str]:
    """Keys outside the backbone whose shapes differ from the model's (the
    class count of a head), as ``'key: (checkpoint) vs (model)'``."""
    own = model.state_dict()
    return [
        f'{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}'
        for k, v in state.items()
        if k in own and not k.startswith('backbone.') and hasattr(v, 'shape')
        and v.shape != own[k].shape
    ]


__all__ = [
    'ARCH_TITLES', 'OfficialFormat', 'recognise', 'convert_official',
    'built_arch', 'check_official', 'backbone_state', 'model_state',
    'head_shape_mismatches'
]
