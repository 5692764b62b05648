"""Registries of mmcrossformer.

``MODELS`` is a direct child of mmengine's root ``MODELS`` registry with the
scope ``'mmcrossformer'``. Configs of any OpenMMLab package (mmdet, mmseg,
mmpretrain) can therefore name our modules with the scope prefix, e.g.
``type='mmcrossformer.CrossFormer'``, after
``custom_imports=dict(imports=['mmcrossformer'], allow_failed_imports=False)``.
``TRANSFORMS`` (data transforms, e.g. ``type='mmcrossformer.AlignResize'`` in
an mmseg pipeline), ``OPTIM_WRAPPERS`` and ``HOOKS`` (e.g.
``custom_hooks=[dict(type='mmcrossformer.RandomStateHook')]``) follow the
same pattern.
"""
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
)
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmcrossformer',
    locations=['mmcrossformer.models'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    scope='mmcrossformer',
    locations=['mmcrossformer.engine'])
#: e.g. constructor='mmcrossformer.LayerDecayOptimWrapperConstructor'
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmcrossformer',
    locations=['mmcrossformer.engine'])
HOOKS = Registry(
    'hook',
    parent=MMENGINE_HOOKS,
    scope='mmcrossformer',
    locations=['mmcrossformer.engine'])
TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    scope='mmcrossformer',
    locations=['mmcrossformer.datasets'])

__all__ = [
    'HOOKS', 'MODELS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIM_WRAPPERS',
    'TRANSFORMS'
]
