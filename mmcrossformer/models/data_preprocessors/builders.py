"""Registry entries of the data preprocessors.

Subclassing the mmdet / mmseg classes imports those packages, so, as for the
heads, the registry holds builders and the classes are created on first use.
"""
from mmcrossformer.registry import MODELS


@MODELS.register_module(name='ValidSizeDetDataPreprocessor')
def build_valid_size_det_data_preprocessor(**kwargs):
    """Build :class:`.det.ValidSizeDetDataPreprocessor` (imports mmdet).

    Registered as ``ValidSizeDetDataPreprocessor``: configs name it
    ``type='mmcrossformer.ValidSizeDetDataPreprocessor'`` with mmdet's
    ``DetDataPreprocessor`` arguments.
    """
    from .det import ValidSizeDetDataPreprocessor
    return ValidSizeDetDataPreprocessor(**kwargs)


@MODELS.register_module(name='ValidSizeSegDataPreprocessor')
def build_valid_size_seg_data_preprocessor(**kwargs):
    """Build :class:`.seg.ValidSizeSegDataPreprocessor` (imports mmseg);
    ``type='mmcrossformer.ValidSizeSegDataPreprocessor'`` with mmseg's
    ``SegDataPreprocessor`` arguments."""
    from .seg import ValidSizeSegDataPreprocessor
    return ValidSizeSegDataPreprocessor(**kwargs)
