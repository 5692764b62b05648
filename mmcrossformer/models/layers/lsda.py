"""Long / short distance attention (L/SDA, CrossFormer Sec. 3.2.1).

:class:`LSDAttention`, its token grouping (:func:`group_tokens`,
:func:`ungroup_tokens`), the padding key mask and the helpers that keep
padding free of graph guards under ``torch.compile``. Official code:
https://github.com/cheerss/CrossFormer (``models/crossformer.py``,
``models/crossformer_backbone_det.py``; module ``attn`` of each block and
the grouping in the block's forward).
"""
from functools import lru_cache
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from .dpb import DynamicPositionBias
from .onednn_linear import linear
from .shapes import ceil_div, check_heads, pad_always

# Added to the attention bias of padded keys. Finite, so that a group made
# only of padding (possible with LDA) gives a softmax instead of NaN; its
# queries are cropped away afterwards. Representable in fp16 and bf16, and
# exp(-1e4) is 0 in all three float types, so padded keys get no weight.
PAD_MASK_VALUE = -1e4


def _build_padding_key_mask(height: int, width: int, gh: int, gw: int,
                            interval: int,
                            device: torch.device) -> torch.Tensor:
    """Builds the mask of :func:`padding_key_mask` (uncached)."""
    rh = ceil_div(height, gh * interval)
    rw = ceil_div(width, gw * interval)
    rows = torch.arange(rh * gh * interval, device=device) >= height
    cols = torch.arange(rw * gw * interval, device=device) >= width
    pad = rows[:, None] | cols[None, :]
    pad = pad.view(rh, gh, interval, rw, gw, interval)
    pad = pad.permute(0, 3, 2, 5, 1, 4)
    return pad.reshape(rh * rw * interval * interval, gh * gw)


@lru_cache(maxsize=128)
def _cached_padding_key_mask(height: int, width: int, gh: int, gw: int,
                             interval: int,
                             device: torch.device) -> torch.Tensor:
    # outside inference mode, see _cached_relative_position_tables
    with torch.inference_mode(False):
        return _build_padding_key_mask(height, width, gh, gw, interval,
                                       device)


def padding_key_mask(height: int, width: int, gh: int, gw: int,
                     interval: int, device: torch.device) -> torch.Tensor:
    """Which key tokens of each group are padding.

    Cached per map size, group shape and device: callers must not modify
    the result. The cached tensor is an ordinary tensor (built with
    inference mode off), valid under ``torch.inference_mode()`` and with
    autograd alike; while ``torch.compile`` traces it is built in the graph.

    Args:
        height (int): Height H of the unpadded token map.
        width (int): Width W of the unpadded token map.
        gh (int): Group height (tokens).
        gw (int): Group width (tokens).
        interval (int): Sampling interval I (1 for SDA).
        device (torch.device | str): Device of the result.

    Returns:
        Tensor: Bool tensor (num_groups, gh * gw) for one image, True at
        padded keys; groups ordered as :func:`group_tokens` orders them,
        num_groups = ceil(H / (gh * I)) * ceil(W / (gw * I)) * I**2.
    """
    if torch.compiler.is_compiling():
        return _build_padding_key_mask(height, width, gh, gw, interval,
                                       device)
    return _cached_padding_key_mask(height, width, gh, gw, interval,
                                    torch.device(device))


def group_tokens(x: torch.Tensor, gh: int, gw: int,
                 interval: int) -> torch.Tensor:
    """Gather the tokens of each L/SDA group.

    The map is zero-padded at the bottom / right to a multiple of
    ``gh * interval`` x ``gw * interval``. Groups are ordered by batch, then
    ``(row block, column block, row offset, column offset)``; tokens inside
    a group row-major. ``interval=1`` gives SDA groups (adjacent gh x gw
    blocks), ``interval=I`` LDA groups (tokens ``I`` apart).

    Args:
        x (Tensor): Tokens (B, H, W, C).
        gh (int): Group height (tokens).
        gw (int): Group width (tokens).
        interval (int): Sampling interval I (1 for SDA).

    Returns:
        Tensor: (B * num_groups, gh * gw, C), a new tensor, with
        num_groups = ceil(H / (gh * I)) * ceil(W / (gw * I)) * I**2.
    """
    b, h, w, c = x.shape
    rh, rw = ceil_div(h, gh * interval), ceil_div(w, gw * interval)
    pad_h, pad_w = rh * gh * interval - h, rw * gw * interval - w
    if pad_always() or pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    x = x.view(b, rh, gh, interval, rw, gw, interval, c)
    x = x.permute(0, 1, 4, 3, 6, 2, 5, 7)
    return x.reshape(b * rh * rw * interval * interval, gh * gw, c)


def ungroup_tokens(x: torch.Tensor, height: int, width: int, gh: int,
                   gw: int, interval: int) -> torch.Tensor:
    """Inverse of :func:`group_tokens`, padding cropped.

    Args:
        x (Tensor): Grouped tokens (B * num_groups, gh * gw, C).
        height (int): Height H of the unpadded map.
        width (int): Width W of the unpadded map.
        gh (int): Group height (tokens).
        gw (int): Group width (tokens).
        interval (int): Sampling interval I (1 for SDA).

    Returns:
        Tensor: (B, H, W, C). In eager mode with padding, a non-contiguous
        view of the padded map; otherwise contiguous.
    """
    c = x.shape[-1]
    rh, rw = ceil_div(height, gh * interval), ceil_div(width, gw * interval)
    hp, wp = rh * gh * interval, rw * gw * interval
    b = x.shape[0] // (rh * rw * interval * interval)
    x = x.view(b, rh, rw, interval, interval, gh, gw, c)
    x = x.permute(0, 1, 5, 3, 2, 6, 4, 7).reshape(b, hp, wp, c)
    if pad_always():
        # traced: crop by gathering rows and columns, which gives a new
        # contiguous tensor whether or not something is cropped; a slice
        # would be a view whose contiguity (hp == height?) the compiled
        # graph guards on, recompiling whenever it changes
        x = x.index_select(1, torch.arange(height, device=x.device))
        return x.index_select(2, torch.arange(width, device=x.device))
    # a view; the whole map (contiguous) when nothing is padded
    return x[:, :height, :width]


class LSDAttention(BaseModule):
    """Long / short distance attention (L/SDA, CrossFormer Sec. 3.2.1).

    The token map is split into groups and multi-head self-attention runs
    inside each group, with a :class:`DynamicPositionBias`:

    * SDA (short distance): each G x G block of adjacent tokens is a group.
    * LDA (long distance): tokens sampled with a fixed ``interval`` I form a
      group, i.e. positions ``(r * G * I + g * I + i)`` for fixed ``r, i``
      and ``g = 0 .. G - 1`` on each axis.

    The map is zero-padded at the bottom / right to a multiple of ``G``
    (SDA) or ``G * I`` (LDA); padded tokens are masked out as keys and their
    outputs cropped. When ``min(H, W) <= G`` the whole map is one group
    (attention over all tokens), as in the official code.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Attention heads; must divide C.
        group_size (int): Group side G.
        interval (int): LDA interval I.
        mode (str): ``'sda'`` or ``'lda'``.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        qk_scale (float, optional): Overrides ``head_dims ** -0.5``.
            Defaults to None.
        attn_drop (float): Dropout on attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection.
            Defaults to 0.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    Raises:
        ValueError: On an unknown mode, non-positive sizes or heads that do
            not divide the channels.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 group_size: int,
                 interval: int,
                 mode: str = 'sda',
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if mode not in ('sda', 'lda'):
            raise ValueError(f"mode must be 'sda' or 'lda', got {mode!r}")
        check_heads(embed_dims, num_heads)
        if group_size < 1 or interval < 1:
            raise ValueError(f'group_size ({group_size}) and interval '
                             f'({interval}) must be >= 1')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.group_size = group_size
        self.interval = interval
        self.mode = mode
        self.scale = qk_scale
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.dpb = DynamicPositionBias(embed_dims // 16, num_heads)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def group_shape(self, height: int, width: int) -> Tuple[int, int, int]:
        """(gh, gw, interval) used for a (height, width) token map."""
        if min(height, width) <= self.group_size:
            return height, width, 1
        interval = self.interval if self.mode == 'lda' else 1
        return self.group_size, self.group_size, interval

    def token_groups(self, height: int, width: int) -> torch.Tensor:
        """Group index and in-group position of every token of a map.

        Returns:
            Tensor: Long tensor (2, height, width): ``[0]`` the group each
            token belongs to, ``[1]`` its row-major position in that group,
            in the order :meth:`forward` and :meth:`attention_weights` use.
        """
        gh, gw, it = self.group_shape(height, width)
        ys = torch.arange(height)[:, None].expand(height, width)
        xs = torch.arange(width)[None, :].expand(height, width)
        rw_count = ceil_div(width, gw * it)
        group = (((ys // (gh * it)) * rw_count + xs // (gw * it)) * it +
                 ys % it) * it + xs % it
        pos = ((ys % (gh * it)) // it) * gw + (xs % (gw * it)) // it
        return torch.stack([group, pos])

    def _qkv_and_mask(
        self, x: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Tuple]:
        """Grouped q, k, v (B * groups, heads, N, d) (views of one qkv
        tensor), the additive mask (DPB bias, plus ``PAD_MASK_VALUE`` for
        padded keys), either (1, heads, N, N) or
        (groups, heads, N, N), and the group layout."""
        b, h, w, c = x.shape
        gh, gw, it = self.group_shape(h, w)
        heads, head_dims = self.num_heads, c // self.num_heads
        n = gh * gw
        qkv = linear(group_tokens(x, gh, gw, it), self.qkv)
        qkv = qkv.view(qkv.shape[0], n, 3, heads, head_dims)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        mask = self.dpb(gh, gw).to(q.dtype).unsqueeze(0)  # (1, heads, N, N)
        if pad_always() or h % (gh * it) or w % (gw * it):
            # one broadcast add writes the (groups, heads, N, N) mask
            pad = padding_key_mask(h, w, gh, gw, it, x.device)
            mask = mask + pad[:, None, None, :].to(q.dtype) * PAD_MASK_VALUE
        return q, k, v, mask, (b, h, w, gh, gw, it)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax attention weights, for analysis (the forward pass never
        forms them on the SDPA path).

        Args:
            x (Tensor): Normalised tokens (B, H, W, C), the input of
                :meth:`forward`.

        Returns:
            Tensor: (B, num_groups, num_heads, N, N), rows are queries.
        """
        q, k, _, mask, (b, *_) = self._qkv_and_mask(x)
        scale = self.scale or q.shape[-1]**-0.5
        scores = (q @ k.transpose(-1, -2)) * scale
        scores = scores.view(b, -1, *scores.shape[1:]) + mask
        return scores.softmax(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend within groups.

        The DPB bias and the padding mask form one additive attention mask;
        ``docs/en/benchmarks.md`` (The fast path) describes its layout.

        Args:
            x (Tensor): Normalised tokens (B, H, W, C).

        Returns:
            Tensor: (B, H, W, C), possibly a non-contiguous view (of the
            padded map).
        """
        q, k, v, mask, (b, h, w, gh, gw, it) = self._qkv_and_mask(x)
        drop = self.attn_drop if self.training else 0.
        groups = q.shape[0] // b
        # CPU, mask with a gradient: the explicit softmax path (same
        # values); F.scaled_dot_product_attention otherwise
        if (q.device.type == 'cpu' and mask.requires_grad
                and torch.is_grad_enabled()):
            scale = self.scale or q.shape[-1]**-0.5
            attn = (q * scale) @ k.transpose(-1, -2)
            attn = (attn.view(b, groups, *attn.shape[1:]) + mask).softmax(-1)
            if drop > 0:
                attn = F.dropout(attn, drop, training=True)
            out = attn.flatten(0, 1) @ v
        else:
            if mask.shape[0] > 1 and b > 1:  # per-group mask, batch > 1
                mask = mask.expand(b, *mask.shape).flatten(0, 1)
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=drop, scale=self.scale)
        out = out.transpose(1, 2).flatten(2)  # (B * groups, N, C)
        out = self.proj_drop(linear(out, self.proj))
        return ungroup_tokens(out, h, w, gh, gw, it)
