"""Heads. ``CrossViTClsHead`` imports mmpretrain, so it is loaded on first use
(the registry holds a builder, :mod:`.builders`)."""
from .builders import build_crossvit_cls_head


def __getattr__(name):
    if name == 'CrossViTClsHead':
        from .crossvit_head import CrossViTClsHead
        return CrossViTClsHead
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['build_crossvit_cls_head']
