"""mmseg's ``SegDataPreProcessor`` that records each image's size (imports
mmseg)."""
from mmseg.models.data_preprocessor import SegDataPreProcessor

from . import attach_valid_sizes, image_sizes


class ValidSizeSegDataPreprocessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` that attaches each image's (h, w) before
    padding (to ``size`` / ``size_divisor`` while training) to the batch
    tensor (see :mod:`..data_preprocessors`).

    Same arguments as mmseg's ``SegDataPreProcessor``.

    Raises:
        ValueError: If ``batch_augments`` are given: they may resize the
            batch after the sizes are recorded.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.batch_augments is not None:
            raise ValueError('ValidSizeSegDataPreprocessor does not support '
                             'batch_augments (they may resize the padded '
                             f'batch): got {kwargs.get("batch_augments")}')

    def forward(self, data: dict, training: bool = False) -> dict:
        sizes = image_sizes(data['inputs'])
        data = super().forward(data, training)
        if sizes is not None:
            attach_valid_sizes(data['inputs'], sizes)
        return data
