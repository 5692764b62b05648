"""Each image's (h, w) in a padded batch, carried on the batch tensor.

mmdet and mmseg stack the images of a batch into one tensor, zero-padded at
the bottom / right (mmdet also to a multiple of 32 for a single image). A
backbone only receives that tensor, so it cannot tell image from padding.
The data preprocessors of :mod:`mmcrossformer.models.data_preprocessors`
record each image's (h, w) before padding and attach the list to the batch
tensor (:func:`attach_valid_sizes`); :class:`~mmcrossformer.models.CrossViT`
in dense mode reads it (:func:`get_valid_sizes`) and masks the padded tokens
out of attention. The attribute travels with the tensor object through the
detector / segmentor to ``extract_feat`` (also under mmengine's DDP
wrapper); an operation that makes a new tensor drops it, and the backbone
then treats the whole canvas as image.

The sizes are attached twice: as the list of ints that
:func:`get_valid_sizes` returns, and as a (B, 2) long tensor
(:func:`get_valid_size_tensor`) that the backbone reads while
``torch.compile`` traces: dynamo turns the ints of a list into guards of
the compiled graph (one recompile for every new set of sizes, i.e. nearly
every detection batch, until its recompile limit sends the frame back to
eager mode), while a tensor's values are data of the graph.
"""
from typing import List, Optional, Sequence, Tuple

import torch

ATTRIBUTE = 'mmcf_valid_sizes'
TENSOR_ATTRIBUTE = 'mmcf_valid_size_tensor'


def attach_valid_sizes(inputs: torch.Tensor,
                       sizes: Sequence[Tuple[int, int]]) -> torch.Tensor:
    """Attach the (h, w) of each image of a padded (B, C, H, W) batch to the
    tensor (as the attribute ``mmcf_valid_sizes``, and as a (B, 2) long
    tensor on the batch's device, ``mmcf_valid_size_tensor``) and return it.

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
    setattr(inputs, TENSOR_ATTRIBUTE,
            torch.tensor(sizes, dtype=torch.long, device=inputs.device))
    return inputs


def get_valid_sizes(inputs: torch.Tensor) -> Optional[List[Tuple[int, int]]]:
    """The sizes :func:`attach_valid_sizes` attached to ``inputs``, or
    None."""
    return getattr(inputs, ATTRIBUTE, None)


def get_valid_size_tensor(inputs: torch.Tensor) -> Optional[torch.Tensor]:
    """The sizes :func:`attach_valid_sizes` attached to ``inputs`` as a
    (B, 2) long tensor of (h, w) rows, or None."""
    return getattr(inputs, TENSOR_ATTRIBUTE, None)


def image_sizes(inputs) -> Optional[List[Tuple[int, int]]]:
    """(h, w) of each image of a list of (C, H, W) tensors; None for an
    already stacked batch (nothing to record)."""
    if isinstance(inputs, torch.Tensor):
        return None
    return [(int(img.shape[-2]), int(img.shape[-1])) for img in inputs]
