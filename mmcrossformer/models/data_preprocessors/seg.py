"""mmseg's ``SegDataPreProcessor`` that records each image's size (imports
mmseg)."""
from mmseg.models.data_preprocessor import SegDataPreProcessor

from . import ValidSizeMixin


class ValidSizeSegDataPreprocessor(ValidSizeMixin, SegDataPreProcessor):
    """``SegDataPreProcessor`` that attaches each image's (h, w) before
    padding (to ``size`` / ``size_divisor`` while training) to the batch
    tensor (see :class:`..ValidSizeMixin`).

    Same arguments as mmseg's ``SegDataPreProcessor``.

    Raises:
        ValueError: If ``batch_augments`` are given.
    """
