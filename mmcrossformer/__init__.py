"""mmcrossformer: CrossFormer / CrossFormer++ and CrossViT for OpenMMLab 2.0.

Importing the package registers its modules in ``mmcrossformer.registry``
(scope ``'mmcrossformer'``). It imports neither mmdet nor mmseg.
"""
from . import datasets, engine, models  # noqa: F401  (registers modules)
from .registry import MODELS, OPTIM_WRAPPERS, TRANSFORMS
from .version import __version__

__all__ = ['MODELS', 'OPTIM_WRAPPERS', 'TRANSFORMS', '__version__']
