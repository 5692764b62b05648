"""Layer-wise learning-rate decay (LLRD) for classifiers, detectors and
segmentors.

mmpretrain 1.2's ``LearningRateDecayOptimWrapperConstructor`` calls
``model.get_layer_depth(name)`` on the model it is given. Its
``ImageClassifier`` has that method (it asks the backbone, with the prefix
``'backbone.'``), mmdet's detectors and mmseg's segmentors do not: with
those the constructor raises ``NotImplementedError``. The constructor
registered here as ``mmcrossformer.LayerDecayOptimWrapperConstructor`` is
mmpretrain's with one change: it finds the depth rule itself, from the
model's ``backbone`` (see :func:`find_layer_depth`), so that the same
``paramwise_cfg`` works for all three families. Parameters outside the
backbone (neck, heads) get the top depth, i.e. the base learning rate.

Building it imports mmpretrain (which imports mmdet); importing this module
does not, as for the rest of the package.
"""
from functools import partial
from typing import Callable, Optional, Tuple

import torch.nn as nn

from mmcrossformer.registry import OPTIM_WRAPPER_CONSTRUCTORS

LayerDepthFn = Callable[[str], Tuple[int, int]]


def find_layer_depth(model: nn.Module,
                     prefix: str = 'backbone.') -> LayerDepthFn:
    """The depth rule ``name -> (depth, num_layers)`` for a model's params.

    In this order:

    1. ``model.backbone.get_layer_depth`` with ``prefix`` (classifiers,
       detectors, segmentors whose backbone has the method: CrossFormer,
       mmpretrain's ViT / Swin / ...);
    2. for a :class:`~mmcrossformer.models.CrossViT` backbone without the
       method, :func:`~mmcrossformer.models.utils.crossvit_layer_depth`;
    3. ``model.get_layer_depth`` (e.g. a bare backbone).

    Args:
        model (nn.Module): The model (a DDP wrapper is unwrapped).
        prefix (str): Name prefix of the backbone's parameters.
            Defaults to ``'backbone.'``.

    Returns:
        Callable[[str], tuple[int, int]]: Maps a parameter name of ``model``
        to ``(depth, num_layers)``; names outside the backbone get
        ``num_layers - 1``.

    Raises:
        NotImplementedError: If none of the above applies (the message names
            the model's and the backbone's types).
    """
    model = getattr(model, 'module', model)
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, nn.Module):
        if hasattr(backbone, 'get_layer_depth'):
            return partial(backbone.get_layer_depth, prefix=prefix)
        from mmcrossformer.models.backbones.crossvit import CrossViT
        from mmcrossformer.models.utils.layer_depth import crossvit_layer_depth
        if isinstance(backbone, CrossViT):
            return partial(
                crossvit_layer_depth,
                num_encoders=backbone.num_encoders,
                depths=backbone.arch_settings['depths'],
                prefix=prefix)
    if hasattr(model, 'get_layer_depth') and backbone is None:
        return model.get_layer_depth
    raise NotImplementedError(
        f'Layer-wise learning-rate decay needs a depth rule: '
        f'{type(model).__name__} has no get_layer_depth method and its '
        f'backbone {type(backbone).__name__} neither; add '
        f'get_layer_depth(param_name, prefix) to the backbone')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module(
    name='LayerDecayOptimWrapperConstructor')
def build_layer_decay_constructor(optim_wrapper_cfg: dict,
                                  paramwise_cfg: Optional[dict] = None):
    """Build a
    :class:`~.layer_decay_constructor.LayerDecayOptimWrapperConstructor`
    (imports mmpretrain). Registered as
    ``mmcrossformer.LayerDecayOptimWrapperConstructor``."""
    from .layer_decay_constructor import LayerDecayOptimWrapperConstructor
    return LayerDecayOptimWrapperConstructor(optim_wrapper_cfg, paramwise_cfg)
