"""The dense-prediction geometry of :class:`~.crossvit.CrossViT`
(``dense_strides``): integer token strides per branch, position codes that
depend only on a token's place in the image, and masks of the padded
tokens of a batch. Design and measurements: docs/en/backbones.md, "Dense
prediction".
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..layers import resize_pos_embed
from ..utils.valid_sizes import get_valid_sizes


def check_dense_settings(strides: Optional[Sequence[int]], pos_size: int,
                         out_type: str,
                         num_branches: int) -> Optional[Tuple[int, ...]]:
    """``dense_strides`` as a tuple of ints (None: classification mode).

    Raises:
        ValueError: If there is not one positive int stride per branch, the
            output type is not ``'featmap'`` or ``dense_pos_size`` is
            smaller than the largest stride.
    """
    n = num_branches
    if strides is None:
        return None
    strides = tuple(strides)
    if len(strides) != n or any(
            int(s) != s or s < 1 for s in strides):
        raise ValueError(f'dense_strides needs {n} positive ints (one '
                         f'per branch), got {strides}')
    if out_type != 'featmap':
        raise ValueError(f'dense_strides (dense prediction) needs '
                         f"out_type='featmap', got {out_type!r}")
    if int(pos_size) != pos_size or pos_size < max(strides):
        raise ValueError(f'dense_pos_size must be an int of at least '
                         f'the largest stride {max(strides)}, got '
                         f'{pos_size}')
    return tuple(int(s) for s in strides)


def attention_key_masks(
    token_masks: List[Optional[torch.Tensor]]
) -> List[Optional[torch.Tensor]]:
    """Key masks for SDPA from per-branch token masks.

    Args:
        token_masks (list[Tensor | None]): Per branch, bool (B, h_b * w_b),
            True at image tokens (None: all valid).

    Returns:
        list[Tensor | None]: Per branch, bool (B, 1, 1, 1 + h_b * w_b): the
        CLS token first, always visible.
    """
    return [
        None if m is None else F.pad(m, (1, 0), value=True)[:, None, None]
        for m in token_masks
    ]


class CrossViTDenseMixin:
    """The dense-mode methods of :class:`~.crossvit.CrossViT`; they read its
    ``dense_strides``, ``dense_pos_size``, ``patch_sizes``,
    ``patch_embeds``, ``cls_tokens``, ``pos_embeds`` and ``pos_grids``."""

    def dense_pos_embed(self, branch: int,
                        grid: Tuple[int, int]) -> torch.Tensor:
        """Position embedding of branch ``branch`` on an (h, w) token grid in
        dense mode, (1, 1 + h * w, C_b).

        The learned table is resized once to the reference grid ``r x r``,
        ``r = ceil(dense_pos_size / s_b)`` (it spans ``dense_pos_size``
        input pixels), and the grid takes its top-left ``h x w`` corner;
        rows / columns beyond ``r`` repeat the last ones. A token's code thus
        depends only on its index (its position in input pixels), not on
        the size of the padded batch around the image. ViTDet does the
        same implicitly by padding every image to one 1024 x 1024 canvas.
        """
        s = self.dense_strides[branch]
        r = math.ceil(self.dense_pos_size / s)
        table = resize_pos_embed(self.pos_embeds[branch],
                                 self.pos_grids[branch], (r, r),
                                 self.interpolate_mode)
        h, w = grid
        dims = table.shape[-1]
        patches = table[:, 1:].reshape(1, r, r, dims).permute(0, 3, 1, 2)
        if h > r or w > r:
            patches = F.pad(
                patches, (0, max(w - r, 0), 0, max(h - r, 0)),
                mode='replicate')
        patches = patches[:, :, :h, :w].flatten(2).transpose(1, 2)
        return torch.cat([table[:, :1], patches], dim=1)

    def _check_valid_sizes(self, x, valid_sizes):
        if valid_sizes is None:
            valid_sizes = get_valid_sizes(x)
        if valid_sizes is None:
            return None
        sizes = [(int(h), int(w)) for h, w in valid_sizes]
        batch, height, width = x.shape[0], x.shape[2], x.shape[3]
        if len(sizes) != batch or any(
                not (0 < h <= height and 0 < w <= width) for h, w in sizes):
            raise ValueError(f'valid_sizes {sizes} do not fit a batch of '
                             f'{batch} images of {height}x{width} pixels '
                             f'(one (h, w) per image, 0 < h <= {height}, '
                             f'0 < w <= {width})')
        if all(s == (height, width) for s in sizes):
            return None
        return sizes

    def _embed_dense(self, x: torch.Tensor, valid_sizes):
        """Tokens, grids and token masks of the dense mode.

        Branch b sees the input zero-padded at the bottom / right and scaled
        by ``p_b / s_b``, so that patch (i, j) covers input pixels
        ``[s_b i, s_b (i + 1)) x [s_b j, s_b (j + 1))``; the grid is
        ``(ceil(H / s_b), ceil(W / s_b))``. One more token row and column
        than that are embedded and dropped: the three-convolution
        embedding of the last tokens reads up to one patch further, which
        must hold what a larger padded batch holds there (zeros, and the
        bicubic tail of the image), not the convolution's zero padding.
        For a scale other than 1, two more zero rows / columns are padded
        before resizing for the same reason (the bicubic kernel reads two
        pixels on each side).
        """
        batch, _, height, width = x.shape
        tokens, grids, masks = [], [], []
        for b, embed in enumerate(self.patch_embeds):
            s, p = self.dense_strides[b], self.patch_sizes[b]
            grid = (math.ceil(height / s), math.ceil(width / s))
            ext = (grid[0] + 1, grid[1] + 1)
            margin = 2 if p != s else 0
            img = F.pad(x, (0, ext[1] * s - width + margin, 0,
                            ext[0] * s - height + margin))
            if p != s:
                mode = self.interpolate_mode
                img = F.interpolate(
                    img, scale_factor=p / s, mode=mode,
                    align_corners=False if mode in ('bilinear', 'bicubic')
                    else None, recompute_scale_factor=False)
                img = img[:, :, :ext[0] * p, :ext[1] * p]
            t, embed_grid = embed(img)
            assert embed_grid == ext, (embed_grid, ext)
            t = t.unflatten(1, ext)[:, :grid[0], :grid[1]].flatten(1, 2)
            cls = self.cls_tokens[b].expand(batch, -1, -1)
            t = torch.cat([cls, t], 1) + self.dense_pos_embed(b, grid)
            tokens.append(self.drop_after_pos(t))
            grids.append(grid)
            if valid_sizes is None:
                masks.append(None)
                continue
            rows = torch.arange(grid[0], device=x.device)
            cols = torch.arange(grid[1], device=x.device)
            valid = torch.stack([
                (rows[:, None] < math.ceil(h / s)) &
                (cols[None, :] < math.ceil(w / s)) for h, w in valid_sizes
            ]).flatten(1)
            masks.append(valid)
        return tokens, grids, masks
