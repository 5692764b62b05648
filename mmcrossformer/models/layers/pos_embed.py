"""Resizing of learned position embeddings to another token grid."""
from typing import Tuple

import torch
import torch.nn.functional as F


def resize_pos_embed(pos_embed: torch.Tensor,
                     src_grid: Tuple[int, int],
                     dst_grid: Tuple[int, int],
                     mode: str = 'bicubic',
                     num_extra_tokens: int = 1) -> torch.Tensor:
    """Resample a position embedding to another token grid.

    The first ``num_extra_tokens`` entries (a CLS token's) are kept as they
    are; the patch entries, laid out row-major on ``src_grid``, are
    interpolated (``align_corners=False``, computed in fp32, returned in the
    input's dtype) to ``dst_grid``. CrossViT uses it to run at other input
    sizes and to load checkpoints of another resolution (CrossViT paper,
    Sec. 4.1: fine-tuning at 384 pixels).

    Args:
        pos_embed (Tensor): Shape (1, E + src_h * src_w, C), E =
            ``num_extra_tokens``.
        src_grid (tuple[int, int]): (src_h, src_w) in tokens.
        dst_grid (tuple[int, int]): (dst_h, dst_w) in tokens.
        mode (str): Mode of :func:`torch.nn.functional.interpolate`.
            Defaults to ``'bicubic'``.
        num_extra_tokens (int): Leading entries that are not patches.
            Defaults to 1.

    Returns:
        Tensor: Shape (1, E + dst_h * dst_w, C); ``pos_embed`` itself when
        the grids are equal.

    Raises:
        ValueError: If the length of ``pos_embed`` does not match
            ``num_extra_tokens`` plus ``src_grid``.
    """
    src_grid, dst_grid = tuple(src_grid), tuple(dst_grid)
    extra = num_extra_tokens
    if pos_embed.shape[1] != extra + src_grid[0] * src_grid[1]:
        raise ValueError(f'A position embedding of {pos_embed.shape[1]} '
                         f'tokens does not fit {extra} extra tokens plus a '
                         f'{src_grid} grid')
    if src_grid == dst_grid:
        return pos_embed
    head, patches = pos_embed[:, :extra], pos_embed[:, extra:]
    channels = patches.shape[-1]
    patches = patches.reshape(1, src_grid[0], src_grid[1], channels)
    patches = F.interpolate(
        patches.permute(0, 3, 1, 2).float(),
        size=dst_grid,
        mode=mode,
        align_corners=False).to(pos_embed.dtype)
    patches = patches.flatten(2).transpose(1, 2)
    return torch.cat([head, patches], dim=1)
