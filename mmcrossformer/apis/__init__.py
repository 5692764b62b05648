"""High-level helpers: a config's model, untrained or with weights, and its
FLOPs.

Not imported by ``mmcrossformer`` itself (that import stays light).
"""
from .flops import get_flops
from .inference import build_model, init_model

__all__ = ['build_model', 'init_model', 'get_flops']
