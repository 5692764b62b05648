"""The configs and models that converted official weights are checked
against.

The library behind ``tools/model_converters/crossformer_to_mmcf.py`` and
``crossvit_to_mmcf.py``: the renaming itself is
:mod:`mmcrossformer.models.utils.ckpt_convert`'s; here the converted
weights find the config of their task and variant
(:func:`crossformer_config`, :func:`crossvit_config`) and the untrained
model they must load strictly into (:func:`conversion_model`, then
:func:`mmcrossformer.utils.state_dict.load_converted_strictly` or, for
CrossViT, :func:`load_crossvit_strictly`).
"""
import os.path as osp
from typing import Dict, Optional

import torch
import torch.nn as nn

from ..utils.state_dict import load_converted_strictly
from .inference import build_model


def crossformer_config(task: str, arch: str, state_dict: Dict[str, object],
                       config_dir: str) -> Optional[str]:
    """The config of a converted CrossFormer checkpoint, if there is one.

    Classification and ``'backbone'`` files: ``crossformer[pp]_<v>_in1k.py``;
    ``'det'``: ``mask_rcnn_`` (when a key holds ``mask_head``) or
    ``retinanet_crossformer[pp]_<v>_coco.py``; ``'seg'``: ``upernet_`` (a
    key holds ``psp_modules``) or ``fpn_crossformer[pp]_<v>_ade20k.py``.

    Args:
        task (str): ``'cls'``, ``'det'``, ``'seg'`` or ``'backbone'``.
        arch (str): Short variant name, e.g. ``'s'`` or ``'pp-s'``.
        state_dict (dict): The converted (or source) keys, for the model
            kind of dense files.
        config_dir (str): The folder of the flat configs (the checkout's
            ``configs/``).

    Returns:
        str | None: The config's path, None when ``config_dir`` has no such
        file.
    """
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
    path = osp.join(config_dir, name)
    return path if osp.exists(path) else None


def crossvit_config(arch: str, converted: Dict[str, torch.Tensor],
                    config_dir: str) -> str:
    """The config of a converted CrossViT classifier:
    ``crossvit_<arch>_in1k.py``, or ``crossvit_<arch>_384_in1k.py`` for the
    384 releases (a 408-pixel small branch: 34 x 34 patches of 12 in
    ``backbone.pos_embeds.0``).

    Args:
        arch (str): Variant, e.g. ``'15-dagger'`` (as
            ``ckpt_convert.detect_crossvit_arch`` names it).
        converted (dict): The converted state dict.
        config_dir (str): The folder of the flat configs.

    Returns:
        str: The config's path (not checked to exist).
    """
    pos = converted.get('backbone.pos_embeds.0')
    res = '_384' if pos is not None and pos.shape[1] == 1 + 34 * 34 else ''
    return osp.join(config_dir,
                    f'crossvit_{arch.replace("-", "_")}{res}_in1k.py')


def conversion_model(config: str, task: str = 'cls') -> nn.Module:
    """The untrained model of a config (:func:`build_model`) to check
    converted weights against.

    For the ``'backbone'`` task only its backbone as dense configs build it
    (``final_norm=False``), wrapped so that its keys are ``backbone.*``.

    Args:
        config (str): Config file.
        task (str): The checkpoint's task. Defaults to ``'cls'``.

    Returns:
        nn.Module: The model, or the wrapper holding ``backbone``.
    """
    if task != 'backbone':
        return build_model(config)
    wrapper = nn.Module()
    wrapper.backbone = build_model(
        config, cfg_options={'model.backbone.final_norm': False}).backbone
    return wrapper


def load_crossvit_strictly(model: nn.Module,
                           state_dict: Dict[str, torch.Tensor]) -> None:
    """:func:`~mmcrossformer.utils.state_dict.load_converted_strictly` for
    CrossViT: position embeddings of another grid are resized on load, so
    their shapes may differ.

    Raises:
        RuntimeError: Listing every missing, unexpected and wrong-shape key.
    """
    load_converted_strictly(model, state_dict, resizable=('.pos_embeds.', ))


__all__ = [
    'crossformer_config', 'crossvit_config', 'conversion_model',
    'load_crossvit_strictly'
]
