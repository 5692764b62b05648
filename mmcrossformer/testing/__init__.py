"""Test helpers: small generated data sets in the layouts of real ones, the
tools run as a user runs them, and small models.

Not imported by ``mmcrossformer`` itself. The generators need
scikit-image (a test-only dependency, imported when a set is written) and,
for the class names, the downstream package of the set (mmdet for COCO).
"""
from .demo_ade20k import make_demo_ade20k
from .demo_coco import make_demo_coco
from .demo_imagenet import make_demo_imagenet
from .models import (
    TINY_CROSSFORMER,
    TINY_CROSSVIT,
    TINY_CROSSVIT_DAGGER,
    build_config_model,
    tiny_crossformer,
    tiny_dense_crossvit,
)
from .runs import (
    CONFIGS,
    KEEP_ALL_BOXES,
    REPO,
    TOOLS,
    assert_learns,
    coco_data_options,
    coco_overfit_options,
    losses_of,
    run_tool,
)

__all__ = [
    'make_demo_coco', 'make_demo_ade20k', 'make_demo_imagenet',
    'TINY_CROSSFORMER', 'tiny_crossformer', 'TINY_CROSSVIT',
    'TINY_CROSSVIT_DAGGER', 'tiny_dense_crossvit', 'build_config_model',
    'CONFIGS',
    'REPO', 'TOOLS', 'KEEP_ALL_BOXES', 'run_tool', 'losses_of',
    'assert_learns', 'coco_data_options', 'coco_overfit_options'
]
