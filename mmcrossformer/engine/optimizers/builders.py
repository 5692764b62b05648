"""Layer-wise learning-rate decay (LLRD) for classifiers, detectors and
segmentors.

mmpretrain 1.2's ``LearningRateDecayOptimWrapperConstructor`` calls
``model.get_layer_depth(name)`` on the model it is given. Its
``ImageClassifier`` has that method (it asks the backbone, with the prefix
``'backbone.'``), mmdet's detectors and mmseg's segmentors do not: with
those the constructor raises ``NotImplementedError``. The constructor
registered here as ``mmcrossformer.LayerDecayOptimWrapperConstructor`` is
mmpretrain's with one change: it finds the depth rule itself, from the
model's ``backbone`` (``mmcrossformer.models.utils.find_layer_depth``),
so that the same ``paramwise_cfg`` works for all three families. Parameters
outside the backbone (neck, heads) get the top depth, i.e. the base
learning rate.

Building it imports mmpretrain (which imports mmdet); importing this module
does not, as for the rest of the package.
"""
from typing import Optional

from mmcrossformer.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module(
    name='LayerDecayOptimWrapperConstructor')
def build_layer_decay_constructor(optim_wrapper_cfg: dict,
                                  paramwise_cfg: Optional[dict] = None):
    """Build a
    :class:`~.layer_decay_optim_wrapper_constructor.
    LayerDecayOptimWrapperConstructor`
    (imports mmpretrain). Registered as
    ``mmcrossformer.LayerDecayOptimWrapperConstructor``."""
    from .layer_decay_optim_wrapper_constructor import (
        LayerDecayOptimWrapperConstructor,
    )
    return LayerDecayOptimWrapperConstructor(optim_wrapper_cfg, paramwise_cfg)
