"""The dense-prediction geometry of :class:`~.crossvit.CrossViT`
(``dense_strides``): integer token strides per branch, position codes that
depend only on a token's place in the image, masks of the padded
tokens of a batch, and the optional attention windows
(``dense_window_size``, ViTDet's recipe: Li et al., "Exploring Plain
Vision Transformer Backbones for Object Detection", ECCV 2022, Sec. 3).
Design and measurements: docs/en/backbones.md, "Dense prediction".
"""
import math
import numbers
from typing import FrozenSet, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from ..layers import TokenWindows, resize_pos_embed, token_windows
from ..utils.valid_sizes import get_valid_size_tensor, get_valid_sizes


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


def check_window_settings(
    window_size: Union[None, int, Sequence[int]],
    global_layers: Optional[Sequence[Sequence[int]]],
    strides: Optional[Tuple[int, ...]], num_layers: Sequence[int]
) -> Tuple[Optional[Tuple[int, ...]], Optional[Tuple[FrozenSet[int], ...]]]:
    """``dense_window_size`` and ``dense_global_layers`` checked and
    normalised (the windowed option of the dense mode).

    Args:
        window_size (int | Sequence[int] | None): Window side in tokens, one
            for all branches or one per branch; None: global attention
            everywhere.
        global_layers (Sequence[Sequence[int]] | None): Per branch, the
            layers that keep global attention, numbered over all encoders
            (branch b's layers are 0 .. num_layers[b] - 1; negative indices
            count from the end). None: no global layer.
        strides (tuple[int] | None): The checked ``dense_strides``.
        num_layers (Sequence[int]): Layers per branch over all encoders
            (K * depths[b]).

    Returns:
        tuple: (window sides per branch, set of global layer indices per
        branch), or (None, None) without windows.

    Raises:
        ValueError: If the windows are set without ``dense_strides``,
            ``dense_global_layers`` without ``dense_window_size``, a window
            side is not a positive int, there is not one entry per branch,
            or a layer index is not an int, out of range or repeated (the
            message names the value).
    """
    n = len(num_layers)
    if window_size is None:
        if global_layers is not None:
            raise ValueError(
                f'dense_global_layers={global_layers!r} needs '
                f'dense_window_size (without windows every layer is global)')
        return None, None
    if strides is None:
        raise ValueError(f'dense_window_size={window_size!r} needs '
                         f'dense_strides (the dense mode)')

    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    sizes = (window_size, ) * n if is_int(window_size) else window_size
    if not isinstance(sizes, Sequence) or len(sizes) != n or not all(
            is_int(s) and s >= 1 for s in sizes):
        raise ValueError(f'dense_window_size needs a positive int or {n} '
                         f'(one per branch), got {window_size!r}')
    if global_layers is None:
        global_layers = ((), ) * n
    if not isinstance(global_layers, Sequence) or len(global_layers) != n \
            or not all(isinstance(g, Sequence) for g in global_layers):
        raise ValueError(f'dense_global_layers needs {n} lists of layer '
                         f'indices (one per branch), got {global_layers!r}')
    chosen = []
    for b, (layers, total) in enumerate(zip(global_layers, num_layers)):
        bad = [i for i in layers if not is_int(i) or not -total <= i < total]
        if bad:
            raise ValueError(
                f'dense_global_layers[{b}]: {bad} not layer indices of '
                f'branch {b}, which has {total} layers over all encoders '
                f'(0 .. {total - 1})')
        index = [int(i) % total for i in layers]
        if len(set(index)) != len(index):
            raise ValueError(f'dense_global_layers[{b}] names a layer twice:'
                             f' {list(layers)}')
        chosen.append(frozenset(index))
    return tuple(int(s) for s in sizes), tuple(chosen)


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
    ``dense_strides``, ``dense_pos_size``, ``dense_window_sizes``,
    ``patch_sizes``, ``patch_embeds``, ``cls_tokens``, ``pos_embeds`` and
    ``pos_grids``."""

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

    def dense_windows(
        self, grids: Sequence[Tuple[int, int]],
        token_masks: Sequence[Optional[torch.Tensor]], batch: int,
        device: torch.device
    ) -> Optional[List[TokenWindows]]:
        """The attention windows of each branch (None without
        ``dense_window_size``): windows of ``dense_window_sizes[b]`` tokens
        anchored at the grid's top-left token, padded and masked tokens
        masked as keys (:func:`~mmcrossformer.models.layers.token_windows`).
        """
        if self.dense_window_sizes is None:
            return None
        return [
            token_windows(grid, size, mask, batch, device) for grid, size,
            mask in zip(grids, self.dense_window_sizes, token_masks)
        ]

    def _check_valid_sizes(self, x, valid_sizes):
        """The valid sizes to mask, None when there is nothing to mask.

        While ``torch.compile`` traces, attached sizes are taken as their
        (B, 2) tensor, unchecked (:func:`attach_valid_sizes` checked them)
        and masked even when they cover the canvas: their values stay data
        of the graph instead of guards, so that new sizes do not recompile.
        """
        if valid_sizes is None and torch.compiler.is_compiling():
            sizes = get_valid_size_tensor(x)
            if sizes is not None:
                return sizes
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
        if valid_sizes is not None and not torch.is_tensor(valid_sizes):
            valid_sizes = torch.tensor(valid_sizes, device=x.device)
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
            # (B, 2) (h, w) rows; a token is valid where its patch starts
            # inside the image: index < ceil(size / s)
            tokens_h = (valid_sizes[:, 0] + s - 1) // s
            tokens_w = (valid_sizes[:, 1] + s - 1) // s
            valid = ((rows[None, :, None] < tokens_h[:, None, None]) &
                     (cols[None, None, :] < tokens_w[:, None, None]))
            masks.append(valid.flatten(1))
        return tokens, grids, masks
