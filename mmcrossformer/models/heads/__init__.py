"""Heads. ``CrossViTClsHead`` subclasses mmpretrain's ``ClsHead``, and
importing mmpretrain imports mmdet; so it is loaded on first use: the
registry holds a builder, and the class is reachable as an attribute of this
package."""
from mmcrossformer.registry import MODELS


@MODELS.register_module(name='CrossViTClsHead')
def build_crossvit_cls_head(**kwargs):
    """Build :class:`~.crossvit_head.CrossViTClsHead` (imports mmpretrain).

    Registered as ``CrossViTClsHead``, so configs name it
    ``type='mmcrossformer.CrossViTClsHead'``.
    """
    from .crossvit_head import CrossViTClsHead
    return CrossViTClsHead(**kwargs)


def __getattr__(name):
    if name == 'CrossViTClsHead':
        from .crossvit_head import CrossViTClsHead
        return CrossViTClsHead
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['build_crossvit_cls_head']
