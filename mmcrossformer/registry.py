"""Registries of mmcrossformer.

``MODELS`` is a direct child of mmengine's root ``MODELS`` registry with the
scope ``'mmcrossformer'``. Configs of any OpenMMLab package (mmdet, mmseg,
mmpretrain) can therefore name our modules with the scope prefix, e.g.
``type='mmcrossformer.CrossFormer'``, after
``custom_imports=dict(imports=['mmcrossformer'], allow_failed_imports=False)``.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
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

__all__ = ['MODELS', 'OPTIM_WRAPPERS']
