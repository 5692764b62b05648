"""mmseg's ``SegDataPreProcessor`` that records each image's size (imports
mmseg)."""
from mmseg.models.data_preprocessor import SegDataPreProcessor

from .valid_size_mixin import ValidSizeMixin


class ValidSizeSegDataPreprocessor(ValidSizeMixin, SegDataPreProcessor):
    """``SegDataPreProcessor`` that attaches each image's (h, w) before
    padding (to ``size`` / ``size_divisor`` while training) to the batch
    tensor (see :class:`.valid_size_mixin.ValidSizeMixin`).

    Same arguments as mmseg's ``SegDataPreProcessor``.

    Raises:
        ValueError: If ``batch_augments`` are given.
    """
