"""Window self-attention over a token grid with a global CLS token.

The windowed option of CrossViT's dense mode (``dense_window_size``,
docs/en/backbones.md, "Dense prediction"). It follows ViTDet's recipe for
plain ViT backbones (Li, Mao, Girshick and He, "Exploring Plain Vision
Transformer Backbones for Object Detection", ECCV 2022, Sec. 3): most
layers attend inside non-overlapping square windows of the token grid, a
few keep global attention, and no parameter is added, so ImageNet weights
load unchanged. Two things differ from ViTDet because CrossViT has a CLS
token and pads per image:

* The CLS token (its cross-attention fusions read it) stays global: its
  query attends to all valid tokens and itself, and it is one more key of
  every window, so each window sees one summary of the whole image.
* Windows are anchored at the top-left token; the grid is padded at the
  bottom / right to a multiple of the window and padded tokens (and the
  tokens of a batch's padding, ``token_mask``) are masked out as keys
  instead of attending as zeros, so an image's features do not depend on
  the canvas it is batched in.

The window partition is :func:`~.lsda.group_tokens` with interval 1.
"""
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F

from .lsda import group_tokens, ungroup_tokens
from .shapes import pad_always


class TokenWindows(NamedTuple):
    """The windows of one token grid, for :func:`windowed_self_attention`.

    Attributes:
        grid (tuple[int, int]): Token grid (h, w) of the patch tokens.
        size (int): Window side s in tokens.
        key_mask (Tensor | None): Bool (B * n_win, 1, 1, 1 + s * s), True at
            the keys a window's queries may attend to: the CLS token (first)
            and the window's valid tokens. None: every key is valid (no
            padding anywhere).
    """
    grid: Tuple[int, int]
    size: int
    key_mask: Optional[torch.Tensor]


def token_windows(grid: Tuple[int, int], size: int,
                  token_mask: Optional[torch.Tensor], batch: int,
                  device: torch.device) -> TokenWindows:
    """The windows of an (h, w) grid and their key masks.

    Window (r, c) holds tokens ``[s r, s (r + 1)) x [s c, s (c + 1))``;
    windows are ordered row-major per image, ``n_win = ceil(h / s) *
    ceil(w / s)``. Tokens past the grid (the padding up to a multiple of s)
    and tokens that ``token_mask`` marks False are masked.

    Args:
        grid (tuple[int, int]): Token grid (h, w).
        size (int): Window side s in tokens.
        token_mask (Tensor | None): Bool (B, h * w), True at image tokens;
            None if all are.
        batch (int): Images B.
        device (torch.device): Device of the mask.

    Returns:
        TokenWindows: The geometry; its ``key_mask`` is None when nothing
        is masked (in eager mode; while ``torch.compile`` traces it is
        always built, see :func:`~.shapes.pad_always`).

    Raises:
        ValueError: If ``size`` is not a positive int.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f'window size must be a positive int, got {size!r}')
    h, w = grid
    if not pad_always() and token_mask is None and (
            h % size == 0 and w % size == 0):
        return TokenWindows((h, w), size, None)
    if token_mask is None:
        valid = torch.ones(batch, h, w, 1, dtype=torch.uint8, device=device)
    else:
        valid = token_mask.view(batch, h, w, 1).to(torch.uint8)
    # zero-padded past the grid: the padding is invalid
    valid = group_tokens(valid, size, size, 1)[..., 0].bool()
    key_mask = F.pad(valid, (1, 0), value=True)  # the CLS key, first
    return TokenWindows((h, w), size, key_mask[:, None, None])


def windowed_self_attention(qkv: torch.Tensor, windows: TokenWindows,
                     key_mask: Optional[torch.Tensor], num_heads: int,
                     dropout_p: float = 0.) -> torch.Tensor:
    """Window self-attention of patch tokens, global attention of the CLS
    token, from fused q/k/v projections.

    * CLS query: all tokens whose ``key_mask`` entry is True (itself
      included), as in global attention; cost linear in the tokens.
    * Query of a patch token in window W: the CLS key and the valid keys of
      W (``windows.key_mask``).

    Both use ``F.scaled_dot_product_attention``. A window covering the whole
    grid gives global attention (same keys for every query).

    Args:
        qkv (Tensor): (B, 1 + h * w, 3C), the CLS token first, channels q, k,
            v, each head-major (:class:`~.attention.MultiheadSelfAttention`'s
            ``qkv`` output).
        windows (TokenWindows): From :func:`token_windows` for this grid
            and batch.
        key_mask (Tensor | None): Bool (B, 1, 1, 1 + h * w), the keys the
            CLS query may attend to; None: all.
        num_heads (int): Heads h; ``C / h`` channels each.
        dropout_p (float): Attention dropout. Defaults to 0.

    Returns:
        Tensor: Attention outputs (B, 1 + h * w, C), heads merged, before
        the output projection.
    """
    b, n, c3 = qkv.shape
    c = c3 // 3
    d = c // num_heads
    (h, w), s = windows.grid, windows.size
    cls = qkv[:, :1]
    q_cls = cls[..., :c].reshape(b, 1, num_heads, d).transpose(1, 2)
    k, v = qkv[..., c:].reshape(b, n, 2, num_heads, d).permute(2, 0, 3, 1,
                                                               4).unbind(0)
    out_cls = F.scaled_dot_product_attention(
        q_cls, k, v, attn_mask=key_mask, dropout_p=dropout_p)
    out_cls = out_cls.transpose(1, 2).reshape(b, 1, c)

    win = group_tokens(qkv[:, 1:].reshape(b, h, w, c3), s, s, 1)
    bw = win.shape[0]
    q = win[..., :c].reshape(bw, s * s, num_heads, d).transpose(1, 2)
    cls_kv = cls[:, None, :, c:].expand(b, bw // b, 1, 2 * c)
    kv = torch.cat([cls_kv.reshape(bw, 1, 2 * c), win[..., c:]], 1)
    k, v = kv.reshape(bw, 1 + s * s, 2, num_heads, d).permute(
        2, 0, 3, 1, 4).unbind(0)
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=windows.key_mask, dropout_p=dropout_p)
    out = out.transpose(1, 2).reshape(bw, s * s, c)
    out = ungroup_tokens(out, h, w, s, s, 1).reshape(b, h * w, c)
    return torch.cat([out_cls, out], 1)
