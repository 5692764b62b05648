"""Data preprocessors that tell the backbone where each image lies in the
padded batch.

mmdet and mmseg stack the images of a batch into one tensor, zero-padded at
the bottom / right (mmdet also to a multiple of 32 for a single image). A
backbone only receives that tensor, so it cannot tell image from padding.
``ValidSizeDetDataPreprocessor`` (mmdet's ``DetDataPreprocessor``) and
``ValidSizeSegDataPreprocessor`` (mmseg's ``SegDataPreProcessor``) record
each image's (h, w) before padding and attach the list to the batch tensor
(:func:`attach_valid_sizes`); :class:`~mmcrossformer.models.CrossViT` in
dense mode reads it (:func:`get_valid_sizes`) and masks the padded tokens
out of attention. The attribute travels with the tensor object through the
detector / segmentor to ``extract_feat`` (also under mmengine's DDP
wrapper); an operation that makes a new tensor drops it, and the backbone
then treats the whole canvas as image.

Subclassing the mmdet / mmseg classes imports those packages, so, as for the
heads, the registry holds builders and the classes are created on first use.
"""
from typing import List, Optional, Sequence, Tuple

import torch

from mmcrossformer.registry import MODELS

ATTRIBUTE = 'mmcf_valid_sizes'


def attach_valid_sizes(inputs: torch.Tensor,
                       sizes: Sequence[Tuple[int, int]]) -> torch.Tensor:
    """Attach the (h, w) of each image of a padded (B, C, H, W) batch to the
    tensor (as the attribute ``mmcf_valid_sizes``) and return it.

    Raises:
        ValueError: If there is not one size per image or a size exceeds the
            canvas (H, W).
    """
    sizes = [(int(h), int(w)) for h, w in sizes]
    batch, height, width = inputs.shape[0], inputs.shape[-2], inputs.shape[-1]
    if len(sizes) != batch or any(
            not (0 < h <= height and 0 < w <= width) for h, w in sizes):
        raise ValueError(f'valid sizes {sizes} do not fit a batch of {batch} '
                         f'images of {height}x{width} pixels')
    setattr(inputs, ATTRIBUTE, sizes)
    return inputs


def get_valid_sizes(inputs: torch.Tensor) -> Optional[List[Tuple[int, int]]]:
    """The sizes :func:`attach_valid_sizes` attached to ``inputs``, or
    None."""
    return getattr(inputs, ATTRIBUTE, None)


def image_sizes(inputs) -> Optional[List[Tuple[int, int]]]:
    """(h, w) of each image of a list of (C, H, W) tensors; None for an
    already stacked batch (nothing to record)."""
    if isinstance(inputs, torch.Tensor):
        return None
    return [(int(img.shape[-2]), int(img.shape[-1])) for img in inputs]


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
