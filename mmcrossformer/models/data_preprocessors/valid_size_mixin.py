"""The mixin that makes mmdet's / mmseg's data preprocessors record each
image's size (see :mod:`mmcrossformer.models.utils.valid_sizes`)."""
from ..utils.valid_sizes import attach_valid_sizes, image_sizes


class ValidSizeMixin:
    """Records each image's (h, w) before the parent data preprocessor pads
    and stacks the batch, and attaches the sizes to the batch tensor.

    Mixed in before mmdet's ``DetDataPreprocessor`` / mmseg's
    ``SegDataPreProcessor`` (same arguments as the parent).

    Raises:
        ValueError: If ``batch_augments`` are given: they may resize the
            batch after the sizes are recorded.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.batch_augments is not None:
            raise ValueError(f'{type(self).__name__} does not support '
                             'batch_augments (they may resize the padded '
                             f'batch): got {kwargs.get("batch_augments")}')

    def forward(self, data: dict, training: bool = False) -> dict:
        sizes = image_sizes(data['inputs'])
        data = super().forward(data, training)
        if sizes is not None:
            attach_valid_sizes(data['inputs'], sizes)
        return data
