"""mmpretrain's layer-decay optimizer-wrapper constructor for any model with
a backbone. It imports mmpretrain, hence its own module:
:mod:`mmcrossformer.engine.optimizers.builders` registers a builder that
imports it
when a config asks for it."""
from numbers import Real
from typing import List, Optional

import torch.nn as nn
from mmpretrain.engine.optimizers import (
    LearningRateDecayOptimWrapperConstructor,
)

from mmcrossformer.models.utils.layer_depth import find_layer_depth


class LayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """Layer-wise learning-rate decay for classifiers, detectors and
    segmentors.

    Parameter ``p`` at depth ``d`` of ``n`` (see :func:`find_layer_depth`)
    gets the learning rate ``lr * layer_decay_rate ** (n - d - 1)``: the
    neck and heads (top depth) the base ``lr``, each depth below one factor
    of ``layer_decay_rate`` less. Weight decay follows mmpretrain's
    ``norm_decay_mult`` / ``bias_decay_mult`` / ``flat_decay_mult`` /
    ``custom_keys`` (``decay_mult`` only) rules, as in
    ``mmpretrain.engine.LearningRateDecayOptimWrapperConstructor``, which
    this class extends only by finding the depth rule on the model's
    backbone (mmpretrain's asks the model itself, which mmdet's and mmseg's
    models cannot answer).

    Args:
        optim_wrapper_cfg (dict): The ``optim_wrapper`` config (``optimizer``
            with ``lr``, optional ``type`` of the wrapper).
        paramwise_cfg (dict): Must contain ``layer_decay_rate`` (a number in
            (0, 1]); may contain the decay multipliers above.

    Raises:
        ValueError: If ``layer_decay_rate`` is missing or outside (0, 1], or
            a ``custom_keys`` entry sets ``lr_mult`` (the learning rate comes
            from the depth alone here); the message names the value.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = paramwise_cfg or {}
        rate = paramwise_cfg.get('layer_decay_rate')
        if isinstance(rate, bool) or not isinstance(rate, Real) or \
                not 0 < rate <= 1:
            raise ValueError(
                f'paramwise_cfg.layer_decay_rate must be a number in (0, 1] '
                f'(e.g. 0.9), got {rate!r}')
        for key, cfg in paramwise_cfg.get('custom_keys', {}).items():
            if 'lr_mult' in cfg:
                raise ValueError(
                    f'paramwise_cfg.custom_keys[{key!r}] sets lr_mult='
                    f'{cfg["lr_mult"]!r}; with layer-wise decay the learning '
                    f'rate follows the depth only (use decay_mult here)')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth=None,
                   **kwargs) -> None:
        """Add ``module``'s parameters to ``params`` (one group each, with
        ``lr``, ``lr_scale``, ``layer_id``, ``param_name`` and
        ``weight_decay``); the depth rule comes from
        :func:`find_layer_depth` at the top level."""
        if get_layer_depth is None:
            get_layer_depth = find_layer_depth(module)
        super().add_params(
            params,
            module,
            prefix=prefix,
            get_layer_depth=get_layer_depth,
            **kwargs)
