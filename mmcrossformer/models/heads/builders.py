"""Registry entries of the heads. ``CrossViTClsHead`` subclasses mmpretrain's
``ClsHead``, and importing mmpretrain imports mmdet; so the registry holds a
builder and the class is created on first use."""
from mmcrossformer.registry import MODELS


@MODELS.register_module(name='CrossViTClsHead')
def build_crossvit_cls_head(**kwargs):
    """Build :class:`~.crossvit_head.CrossViTClsHead` (imports mmpretrain).

    Registered as ``CrossViTClsHead``, so configs name it
    ``type='mmcrossformer.CrossViTClsHead'``.
    """
    from .crossvit_head import CrossViTClsHead
    return CrossViTClsHead(**kwargs)
