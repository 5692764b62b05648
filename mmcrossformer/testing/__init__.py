"""Test helpers: small generated data sets in the layouts of real ones.

Not imported by ``mmcrossformer`` itself. The generators need
scikit-image (a test-only dependency, imported when a set is written) and,
for the class names, the downstream package of the set (mmdet for COCO).
"""
from .demo_ade20k import make_demo_ade20k
from .demo_coco import make_demo_coco
from .demo_imagenet import make_demo_imagenet

__all__ = ['make_demo_coco', 'make_demo_ade20k', 'make_demo_imagenet']
