"""Data preprocessors that tell the backbone where each image lies in the
padded batch: ``ValidSizeDetDataPreprocessor`` (mmdet's
``DetDataPreprocessor``) and ``ValidSizeSegDataPreprocessor`` (mmseg's
``SegDataPreProcessor``) record each image's (h, w) before padding (see
:mod:`mmcrossformer.models.utils.valid_sizes`). The classes import mmdet /
mmseg and are loaded on first use."""
from ..utils.valid_sizes import (
    attach_valid_sizes,
    get_valid_sizes,
    image_sizes,
)
from .builders import (
    build_valid_size_det_data_preprocessor,
    build_valid_size_seg_data_preprocessor,
)
from .valid_size_mixin import ValidSizeMixin


def __getattr__(name):
    if name == 'ValidSizeDetDataPreprocessor':
        from .det import ValidSizeDetDataPreprocessor
        return ValidSizeDetDataPreprocessor
    if name == 'ValidSizeSegDataPreprocessor':
        from .seg import ValidSizeSegDataPreprocessor
        return ValidSizeSegDataPreprocessor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = [
    'ValidSizeMixin', 'attach_valid_sizes', 'get_valid_sizes', 'image_sizes',
    'build_valid_size_det_data_preprocessor',
    'build_valid_size_seg_data_preprocessor'
]
