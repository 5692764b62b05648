"""mmdet's ``DetDataPreprocessor`` that records each image's size (imports
mmdet)."""
from mmdet.models.data_preprocessors import DetDataPreprocessor

from .valid_size_mixin import ValidSizeMixin


class ValidSizeDetDataPreprocessor(ValidSizeMixin, DetDataPreprocessor):
    """``DetDataPreprocessor`` that attaches each image's (h, w) before
    padding to the batch tensor (see
    :class:`.valid_size_mixin.ValidSizeMixin`).

    Same arguments as mmdet's ``DetDataPreprocessor``.

    Raises:
        ValueError: If ``batch_augments`` are given.
    """
