"""High-level helpers: build a ready-to-run model from a config.

Not imported by ``mmcrossformer`` itself (that import stays light).
"""
from .inference import init_model

__all__ = ['init_model']
