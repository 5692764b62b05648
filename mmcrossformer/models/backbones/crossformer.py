"""CrossFormer and CrossFormer++ backbones.

Papers:
    CrossFormer: A Versatile Vision Transformer Hinging on Cross-scale
    Attention (Wang et al., ICLR 2022, https://arxiv.org/abs/2108.00154).
    CrossFormer++: A Versatile Vision Transformer Hinging on Cross-scale
    Attention (Wang et al., TPAMI 2023, https://arxiv.org/abs/2303.06908).

Official code: https://github.com/cheerss/CrossFormer
(``models/crossformer.py`` for classification,
``models/crossformer_backbone_det.py`` for dense prediction).

The building blocks carry the papers' names:

* :class:`CrossScaleEmbedding` -- CEL, the stem and the patch merging layers.
* :class:`DynamicPositionBias` -- DPB, an MLP from relative coordinates to a
  per-head attention bias.
* :class:`LSDAttention` -- long / short distance attention (LDA / SDA).
* :class:`AmplitudeCoolingLayer` -- ACL (CrossFormer++).
* :func:`progressive_group_sizes` -- PGS group-size schedules (CrossFormer++).

All blocks work on channels-last tokens ``(B, H, W, C)``; the backbone returns
channels-first feature maps ``(B, C, H, W)``.
"""
import logging
import math
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import DropPath
from mmengine.logging import print_log
from mmengine.model import BaseModule, ModuleList

from mmcrossformer.registry import MODELS
from ..layers import build_ffn, ffn_forward
from ..utils.layer_depth import crossformer_layer_depth
from .base_backbone import ArchBackbone

# Added to the attention bias of padded keys. Finite, so that a group made
# only of padding (possible with LDA) gives a softmax instead of NaN; its
# queries are cropped away afterwards. Representable in fp16 and bf16, and
# exp(-1e4) is 0 in all three float types, so padded keys get no weight.
PAD_MASK_VALUE = -1e4


def progressive_group_sizes(schedule: str, group_size: Sequence[int],
                            depths: Sequence[int],
                            resolution: int = 56) -> List[List[int]]:
    """Per-block group sizes for a PGS schedule (CrossFormer++ Sec. 3.3).

    The schedules are those of the official ``compute_group_size``
    (``models/crossformer.py``), selected by name:

    * ``'constant'``: ``group_size[i]`` for every block of stage ``i``.
    * ``'linear'``: the group covers a fraction of the stage's feature map
      that grows linearly with the block index, from ``4 / resolution`` to
      1 over all blocks; at least 4.
    * ``'linear_div'``: ``'linear'``, but a group larger than half the map
      becomes the whole map (half the map in stage 3 below 3/4).
    * ``'alter'``: ``'linear'``, but a group larger than half the map
      alternates between half and the whole map in stage 3.
    * ``'7_14'``: ``group_size[i]``, halved for the first 4 blocks of stage 3.

    Args:
        schedule (str): One of the names above.
        group_size (Sequence[int]): Group size per stage.
        depths (Sequence[int]): Number of blocks per stage.
        resolution (int): Side of the stage-1 token map at the pre-training
            size (224 / 4 = 56). Defaults to 56.

    Returns:
        list[list[int]]: ``sizes[stage][block]``.

    Raises:
        ValueError: For an unknown schedule name.
    """
    if schedule not in PGS_SCHEDULES:
        raise ValueError(f'Unknown group-size schedule {schedule!r}; valid '
                         f'ones are {sorted(PGS_SCHEDULES)}')
    min_size = 4
    total = sum(depths)
    step = (1 - min_size / resolution) / total
    fractions = np.arange(min_size / resolution, 1.0, step)
    sizes, index = [], 0
    for stage, depth in enumerate(depths):
        side = resolution // 2**stage
        stage_sizes = []
        for block in range(depth):
            if schedule == 'constant':
                size = group_size[stage]
            elif schedule == '7_14':
                halve = stage == 2 and block < 4
                size = group_size[stage] // 2 if halve else group_size[stage]
            else:
                size = side * fractions[index]
                if schedule != 'linear' and size > side // 2:
                    if schedule == 'linear_div':
                        whole = size > side * 3 / 4 or stage != 2
                    else:  # 'alter'
                        whole = index % 2 != 0 or stage != 2
                    size = side if whole else side // 2
                size = max(min_size, int(math.ceil(size)))
            stage_sizes.append(int(size))
            index += 1
        sizes.append(stage_sizes)
    return sizes


PGS_SCHEDULES = ('constant', 'linear', 'linear_div', 'alter', '7_14')


class CrossScaleEmbedding(BaseModule):
    """Cross-scale embedding layer (CEL, CrossFormer Sec. 3.1).

    Several convolutions with different kernel sizes but the same stride
    sample the input; their outputs are concatenated along channels. Larger
    kernels get fewer channels: kernel ``i`` of ``n`` (sorted small to large)
    gets ``out_channels / 2**(i + 1)`` channels, the last one the remainder
    ``out_channels / 2**(n - 1)``. Each convolution is padded by
    ``(k - stride) // 2`` so that all outputs share one grid.

    The input is zero-padded at the bottom / right to a multiple of the
    stride, so an input of (H, W) gives ``(ceil(H / s), ceil(W / s))``.

    Args:
        in_channels (int): Input channels C_in.
        out_channels (int): Output channels C_out (sum of all kernels').
        kernel_sizes (Sequence[int]): Kernel sizes, e.g. ``(4, 8, 16, 32)``
            for the stem and ``(2, 4)`` for patch merging.
        stride (int): Common stride s.
        norm_cfg (dict, optional): Norm layer config. Defaults to LN.
        pre_norm (bool): Normalise the input (over C_in) before the
            convolutions, as the patch merging layers do; otherwise normalise
            the output (over C_out), as the stem does. Defaults to False.

    Raises:
        ValueError: If a kernel is smaller than the stride, the kernels are
            not sorted, or ``out_channels`` is too small to split.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_sizes: Sequence[int],
                 stride: int,
                 norm_cfg: Optional[dict] = dict(type='LN'),
                 pre_norm: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        kernel_sizes = list(kernel_sizes)
        if not kernel_sizes or kernel_sizes != sorted(kernel_sizes) or \
                kernel_sizes[0] < stride:
            raise ValueError(
                f'CEL kernel_sizes must be sorted ascending and >= stride '
                f'{stride}, got {kernel_sizes}')
        n = len(kernel_sizes)
        dims = [out_channels // 2**(i + 1) for i in range(n - 1)]
        dims.append(out_channels // 2**(n - 1))
        if min(dims) < 1 or sum(dims) != out_channels:
            raise ValueError(
                f'CEL cannot split out_channels={out_channels} over kernels '
                f'{kernel_sizes} (channel split {dims})')
        self.stride = stride
        self.kernel_sizes = kernel_sizes
        self.pre_norm = pre_norm
        self.projs = nn.ModuleList(
            nn.Conv2d(
                in_channels,
                dim,
                kernel_size=k,
                stride=stride,
                padding=(k - stride) // 2)
            for k, dim in zip(kernel_sizes, dims))
        if norm_cfg is None:
            self.norm = None
        else:
            norm_dims = in_channels if pre_norm else out_channels
            self.norm = build_norm_layer(norm_cfg, norm_dims)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed tokens (B, H, W, C_in) into (B, ceil(H/s), ceil(W/s), C_out).
        """
        if self.pre_norm and self.norm is not None:
            x = self.norm(x)
        x = x.permute(0, 3, 1, 2)
        # ceil(size / stride) * stride - size: a simpler symbolic expression
        # than (-size) % stride for torch.compile with dynamic shapes
        pad_h = _ceil_div(x.shape[2], self.stride) * self.stride - x.shape[2]
        pad_w = _ceil_div(x.shape[3], self.stride) * self.stride - x.shape[3]
        # traced: pad unconditionally (by 0 if need be), see _pad_always
        if _pad_always() or pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = torch.cat([proj(x) for proj in self.projs], dim=1)
        x = x.permute(0, 2, 3, 1)
        if not self.pre_norm and self.norm is not None:
            x = self.norm(x)
        return x


def _build_relative_position_tables(
        gh: int, gw: int,
        device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Builds the tables of :func:`relative_position_tables` (uncached)."""
    dy = torch.arange(1 - gh, gh, device=device)
    dx = torch.arange(1 - gw, gw, device=device)
    coords = torch.stack(torch.meshgrid(dy, dx, indexing='ij'), dim=-1)
    coords = coords.reshape(-1, 2).float()
    ys, xs = torch.meshgrid(
        torch.arange(gh, device=device),
        torch.arange(gw, device=device),
        indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    rel_y = ys[:, None] - ys[None, :] + gh - 1
    rel_x = xs[:, None] - xs[None, :] + gw - 1
    index = (rel_y * (2 * gw - 1) + rel_x).flatten()
    return coords, index


@lru_cache(maxsize=64)
def _cached_relative_position_tables(
        gh: int, gw: int,
        device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    # Built outside inference mode whatever mode the first caller runs in:
    # a table made under torch.inference_mode() would be an inference
    # tensor, and every later forward with autograd (training) that saves
    # it for backward (index_select, the DPB's first Linear) would fail.
    with torch.inference_mode(False):
        return _build_relative_position_tables(gh, gw, device)


def relative_position_tables(
    gh: int,
    gw: int,
    device: torch.device = torch.device('cpu')
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Relative coordinates and pair index of a (gh, gw) group (for DPB).

    Computed once per group size and device and cached, so that the forward
    pass copies nothing to the device; callers never mutate them. The cached
    tensors are ordinary tensors (built with inference mode off), valid both
    under ``torch.inference_mode()`` and with autograd, whichever mode
    fills the cache. While ``torch.compile`` traces, they are built inside
    the graph instead (no cache lookup in the traced code).

    Returns:
        tuple[Tensor, Tensor]: ``coords`` of shape
        ((2gh - 1) * (2gw - 1), 2), float, rows ``(dy, dx)`` for
        ``dy in [1 - gh, gh - 1]`` (outer) and ``dx in [1 - gw, gw - 1]``
        (inner); ``index`` of shape (gh * gw * gh * gw,), long, such that
        ``coords[index[i * N + j]] = pos(i) - pos(j)`` for the tokens
        ``i, j`` of the group in row-major order (N = gh * gw).
    """
    if torch.compiler.is_compiling():
        return _build_relative_position_tables(gh, gw, device)
    return _cached_relative_position_tables(gh, gw, torch.device(device))


class DynamicPositionBias(BaseModule):
    """Dynamic position bias (DPB, CrossFormer Sec. 3.2.2, Fig. 3).

    An MLP maps each relative coordinate ``(dy, dx)`` between two tokens of a
    group to one bias per head; unlike a learned table it works for any
    group size. Layers (names as the official ``DynamicPosBias``):
    ``pos_proj`` Linear(2, D), then ``pos1``, ``pos2`` = LN-ReLU-Linear(D, D)
    and ``pos3`` = LN-ReLU-Linear(D, num_heads).

    Args:
        hidden_dims (int): Hidden width D (official: attention dims // 16).
        num_heads (int): Number of attention heads.
        residual (bool): Residual connections around ``pos1``/``pos2``
            (unused by the released models). Defaults to False.
    """

    def __init__(self,
                 hidden_dims: int,
                 num_heads: int,
                 residual: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.residual = residual
        self.num_heads = num_heads
        self.pos_proj = nn.Linear(2, hidden_dims)

        def ln_relu_linear(out_dims):
            return nn.Sequential(
                nn.LayerNorm(hidden_dims), nn.ReLU(),
                nn.Linear(hidden_dims, out_dims))

        self.pos1 = ln_relu_linear(hidden_dims)
        self.pos2 = ln_relu_linear(hidden_dims)
        self.pos3 = ln_relu_linear(num_heads)

    def forward(self, gh: int, gw: int) -> torch.Tensor:
        """Bias for a (gh, gw) group, shape (num_heads, N, N), N = gh * gw."""
        weight = self.pos_proj.weight
        coords, index = relative_position_tables(gh, gw, weight.device)
        pos = self.pos_proj(coords.to(weight.dtype))
        if self.residual:
            pos = pos + self.pos1(pos)
            pos = pos + self.pos2(pos)
        else:
            pos = self.pos2(self.pos1(pos))
        table = self.pos3(pos)  # ((2gh-1)(2gw-1), num_heads)
        n = gh * gw
        # index_select: its backward (index_add) is faster than indexing's
        bias = table.index_select(0, index)
        bias = bias.view(n, n, self.num_heads)
        return bias.permute(2, 0, 1)


def _build_padding_key_mask(height: int, width: int, gh: int, gw: int,
                            interval: int,
                            device: torch.device) -> torch.Tensor:
    """Builds the mask of :func:`padding_key_mask` (uncached)."""
    rh = _ceil_div(height, gh * interval)
    rw = _ceil_div(width, gw * interval)
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
    """Which key tokens of each group are padding, shape (num_groups, N).

    Groups are ordered as :func:`group_tokens` orders them. Computed once per
    map size, group shape and device and cached (an ordinary tensor, valid
    under inference mode and with autograd alike; never mutated by
    callers); built inside the graph while ``torch.compile`` traces.
    """
    if torch.compiler.is_compiling():
        return _build_padding_key_mask(height, width, gh, gw, interval,
                                       device)
    return _cached_padding_key_mask(height, width, gh, gw, interval,
                                    torch.device(device))


def _ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for positive ints (also symbolic ones)."""
    return (a + b - 1) // b


def _pad_always() -> bool:
    """Whether padding and padding masks are applied even when nothing is
    padded (zero pads, an all-False mask).

    True while ``torch.compile`` traces: a Python branch on "is the map a
    multiple of the group grid" would become a guard of the compiled graph,
    and with dynamic shapes every input size that takes the other branch
    would recompile. Applying them unconditionally gives the same values
    (padding by 0 copies, an all-False mask adds 0 to the attention bias),
    so one graph serves all sizes. False in eager mode, which skips the
    no-op copies and keeps the smaller broadcast bias.
    """
    return torch.compiler.is_compiling()


def group_tokens(x: torch.Tensor, gh: int, gw: int,
                 interval: int) -> torch.Tensor:
    """Gather the tokens of each L/SDA group: (B, H, W, C) ->
    (B * num_groups, gh * gw, C), in one copy (two with padding).

    The map is zero-padded at the bottom / right to a multiple of
    ``gh * interval`` x ``gw * interval``. Groups are ordered by batch, then
    ``(row block, column block, row offset, column offset)``; tokens inside
    a group row-major. ``interval=1`` gives SDA groups (adjacent G x G
    blocks), ``interval=I`` LDA groups (tokens ``I`` apart).
    """
    b, h, w, c = x.shape
    rh, rw = _ceil_div(h, gh * interval), _ceil_div(w, gw * interval)
    pad_h, pad_w = rh * gh * interval - h, rw * gw * interval - w
    if _pad_always() or pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    x = x.view(b, rh, gh, interval, rw, gw, interval, c)
    x = x.permute(0, 1, 4, 3, 6, 2, 5, 7)
    return x.reshape(b * rh * rw * interval * interval, gh * gw, c)


def ungroup_tokens(x: torch.Tensor, height: int, width: int, gh: int,
                   gw: int, interval: int) -> torch.Tensor:
    """Inverse of :func:`group_tokens`: (B * num_groups, gh * gw, C) ->
    (B, height, width, C), padding cropped (one copy; with padding the
    result is a view of the padded map, except under ``torch.compile``,
    see below)."""
    c = x.shape[-1]
    rh, rw = _ceil_div(height, gh * interval), _ceil_div(width, gw * interval)
    hp, wp = rh * gh * interval, rw * gw * interval
    b = x.shape[0] // (rh * rw * interval * interval)
    x = x.view(b, rh, rw, interval, interval, gh, gw, c)
    x = x.permute(0, 1, 5, 3, 2, 6, 4, 7).reshape(b, hp, wp, c)
    if _pad_always():
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
        attn_drop (float): Dropout on attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection.

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
        if embed_dims % num_heads:
            raise ValueError(f'num_heads={num_heads} does not divide '
                             f'embed_dims={embed_dims}')
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
        rw_count = -(-width // (gw * it))
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
        qkv = self.qkv(group_tokens(x, gh, gw, it))
        qkv = qkv.view(qkv.shape[0], n, 3, heads, head_dims)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        mask = self.dpb(gh, gw).to(q.dtype).unsqueeze(0)  # (1, heads, N, N)
        if _pad_always() or h % (gh * it) or w % (gw * it):
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
        """Attend within groups: (B, H, W, C) -> (B, H, W, C).

        The result may be a non-contiguous view (of the padded map).

        Fast path: the tokens are grouped (and padded) once, before the qkv
        projection; q, k and v are strided views of its output; the DPB
        bias and the padding mask form one additive mask for
        ``F.scaled_dot_product_attention``; the output projection runs on
        the grouped tokens and the ungrouping copy also crops the padding.
        On CPU, when the mask needs a gradient (training), PyTorch's SDPA
        would fall back to its generic kernel; the same computation runs as
        scaled ``q k^T`` plus mask, softmax and ``@ v`` instead.
        """
        q, k, v, mask, (b, h, w, gh, gw, it) = self._qkv_and_mask(x)
        drop = self.attn_drop if self.training else 0.
        groups = q.shape[0] // b
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
        out = self.proj_drop(self.proj(out))
        return ungroup_tokens(out, h, w, gh, gw, it)


class AmplitudeCoolingLayer(BaseModule):
    """Amplitude cooling layer (ACL, CrossFormer++ Sec. 3.4).

    A depth-wise 3x3 convolution followed by a norm, with no residual
    connection; it damps the growth of activations along the residual
    stream. (B, H, W, C) -> (B, H, W, C). Official names: ``ex_conv``,
    ``ex_ln``.

    Args:
        embed_dims (int): Channels C.
        kernel_size (int): Depth-wise kernel size. Defaults to 3.
        norm_cfg (dict): Norm config. Defaults to LN.
    """

    def __init__(self,
                 embed_dims: int,
                 kernel_size: int = 3,
                 norm_cfg: dict = dict(type='LN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(
            embed_dims,
            embed_dims,
            kernel_size,
            padding=(kernel_size - 1) // 2,
            groups=embed_dims)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.norm(x)


class CrossFormerBlock(BaseModule):
    """One CrossFormer block: L/SDA and FFN with pre-norm residuals.

    ``x = x + DropPath(LSDA(LN(x)))``; ``x = x + DropPath(FFN(LN(x)))``;
    then the optional ACL. (B, H, W, C) -> (B, H, W, C).

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Attention heads.
        group_size (int): Group side G.
        interval (int): LDA interval I.
        mode (str): ``'sda'`` or ``'lda'``.
        mlp_ratio (float): FFN hidden width / C. Defaults to 4.
        use_acl (bool): Append an :class:`AmplitudeCoolingLayer`.
        drop_rate, attn_drop_rate, drop_path_rate (float): Dropout rates.
        qkv_bias (bool), qk_scale (float, optional): See LSDAttention.
        act_cfg (dict): FFN activation. Defaults to GELU.
        norm_cfg (dict): Norm config. Defaults to LN.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 group_size: int,
                 interval: int,
                 mode: str,
                 mlp_ratio: float = 4.,
                 use_acl: bool = False,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = LSDAttention(
            embed_dims,
            num_heads,
            group_size,
            interval,
            mode=mode,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate)
        self.drop_path = DropPath(
            drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = build_ffn(embed_dims, mlp_ratio, drop_rate, drop_path_rate,
                             act_cfg)
        self.acl = AmplitudeCoolingLayer(
            embed_dims, norm_cfg=norm_cfg) if use_acl else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = ffn_forward(self.ffn, self.norm2(x), identity=x)
        if self.acl is not None:
            x = self.acl(x)
        return x


class CrossFormerStage(BaseModule):
    """A stage: optional CEL patch merging, then blocks alternating SDA/LDA.

    Block ``i`` uses SDA when ``i`` is even and LDA when odd. With
    ``use_acl``, an ACL follows every third block except the stage's last
    (blocks ``i`` with ``(i + 1) % 3 == 0 and i < depth - 1``), as the
    official code places it.

    Args:
        embed_dims (int): Channels C of the stage.
        depth (int): Number of blocks.
        num_heads (int): Attention heads.
        group_sizes (Sequence[int]): Group side per block (PGS).
        interval (int): LDA interval.
        downsample (CrossScaleEmbedding, optional): CEL merging the previous
            stage's map into this stage's (stride 2); None for stage 1.
        use_acl (bool): Insert ACLs. Defaults to False.
        drop_path_rates (Sequence[float]): Per block.
        with_cp (bool): Gradient checkpointing per block while training.
        block_cfg (dict): Further :class:`CrossFormerBlock` arguments.
    """

    def __init__(self,
                 embed_dims: int,
                 depth: int,
                 num_heads: int,
                 group_sizes: Sequence[int],
                 interval: int,
                 downsample: Optional[CrossScaleEmbedding] = None,
                 use_acl: bool = False,
                 drop_path_rates: Sequence[float] = (),
                 with_cp: bool = False,
                 block_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.downsample = downsample
        self.with_cp = with_cp
        drop_path_rates = list(drop_path_rates) or [0.] * depth
        self.blocks = ModuleList()
        for i in range(depth):
            self.blocks.append(
                CrossFormerBlock(
                    embed_dims,
                    num_heads,
                    group_sizes[i],
                    interval,
                    mode='sda' if i % 2 == 0 else 'lda',
                    use_acl=use_acl and (i + 1) % 3 == 0 and i < depth - 1,
                    drop_path_rate=drop_path_rates[i],
                    **(block_cfg or {})))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C_prev) -> (B, H', W', C) channels-last tokens."""
        if self.downsample is not None:
            x = self.downsample(x)
        for block in self.blocks:
            if self.with_cp and self.training and x.requires_grad:
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x


def _stage_list(value, num_stages: int, name: str) -> list:
    value = list(value)
    if len(value) != num_stages:
        raise ValueError(f'{name} needs {num_stages} entries (one per '
                         f'stage), got {value}')
    return value


@MODELS.register_module()
class CrossFormer(ArchBackbone):
    """CrossFormer / CrossFormer++ backbone.

    One class for both papers, chosen by ``arch``. The network has a CEL stem
    (stride 4) and four stages; stages 2-4 start with a CEL patch merging
    (stride 2). Stage ``i`` outputs a map of stride ``4 * 2**i``.

    Any input (H, W) of at least 32 x 32 pixels works: the stem and merging
    layers pad to their stride, L/SDA pads to its group grid and masks the
    padding. The outputs have shape
    ``(B, C_i, ceil(H / s_i), ceil(W / s_i))`` for ``s_i`` in
    ``(4, 8, 16, 32)``, without extra norms, as the official detection
    backbone (``models/crossformer_backbone_det.py``).

    Dense-prediction settings: each arch of :attr:`arch_zoo` carries its
    ImageNet group sizes and LDA intervals. For CrossFormer++ (``'pp-*'``:
    ``group_size=[4, 4, 14, 7]``, ``interval=[4, 2, 1, 1]``) these are tuned
    to the 224 x 224 pre-training size, where the maps of stages 3 and 4
    (14 x 14, 7 x 7) are one group each. On larger inputs a stage with
    interval 1 whose map exceeds its group size gets LDA groups equal to its
    SDA groups, i.e. no long-distance attention at all (at 800 x 1216:
    stages 3 and 4). The official detection and segmentation backbones
    therefore use ``group_size=[7, 7, 7, 7], interval=[8, 4, 2, 1]`` for
    every variant. When a named arch keeps its ImageNet settings (neither
    ``group_size`` nor ``interval`` given), these differ from the dense ones
    (never for the CrossFormer v1 archs, whose ImageNet settings are the
    dense ones) and an input makes such a stage degenerate, the backbone
    logs a warning once per instance, naming the arch, its settings, the
    input size, the stages and the fix. The check runs in eager mode only
    (it is skipped while ``torch.compile`` traces, so that it adds no guard
    or graph break) and costs a few integer operations per forward.

    ``torch.compile``: with dynamic shapes (``torch.compile(model,
    dynamic=True)``; the default ``dynamic=None`` compiles a static graph
    for the first input size and a dynamic one when the size changes) one
    graph serves inputs of any size whose stage maps all take the same
    group-shape branch of :class:`LSDAttention` (larger than the group, as
    at detection sizes, or not). Whether a map is a multiple of the group
    grid is no guard: while tracing, padding and the padding mask are
    applied unconditionally (by zero, all-False), the DPB tables and masks
    are built in the graph rather than looked up in the eager caches, and
    the settings check above is skipped; eager mode keeps its shortcuts.
    (Like any PyTorch graph, it still specialises on size-1 dimensions, here
    a map only one group block high or wide, which detection-size inputs do
    not have.)

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with the
            keys ``embed_dims`` (int), ``depths``, ``num_heads``,
            ``group_size`` and ``interval`` (one entry per stage), and
            optionally ``use_acl`` (bool, default False), ``drop_path_rate``
            (default 0.1), ``cel_kernels`` (default (4, 8, 16, 32)) and
            ``merge_kernels`` (one list per merging layer, default
            ``[(2, 4)] * 3``). Defaults to ``'pp-s'``.
        in_channels (int): Image channels. Defaults to 3.
        group_size (Sequence[int] | Sequence[Sequence[int]], optional):
            Overrides the arch's group sizes: one per stage, or one list per
            stage giving every block's size (PGS). Defaults to None.
        interval (Sequence[int], optional): Overrides the arch's LDA
            interval per stage. Defaults to None.
        group_schedule (str): PGS schedule applied to per-stage group sizes,
            see :func:`progressive_group_sizes`. Defaults to ``'constant'``.
        pretrain_img_size (int): Image side the schedules refer to.
            Defaults to 224.
        use_acl (bool, optional): Overrides the arch's ACL switch.
        mlp_ratio (float): FFN width ratio. Defaults to 4.
        qkv_bias (bool): Defaults to True.
        qk_scale (float, optional): Defaults to None (``head_dims ** -0.5``).
        drop_rate (float): Dropout after projections. Defaults to 0.
        attn_drop_rate (float): Attention dropout. Defaults to 0.
        drop_path_rate (float, optional): Stochastic depth, linearly
            increasing over all blocks; None takes the arch's value.
        out_indices (int | Sequence[int]): Stages whose maps are returned;
            negative indices count from the end. Defaults to (0, 1, 2, 3).
        frozen_stages (int): ResNet convention: -1 freezes nothing, 0 the
            stem, ``k`` the stem and the first ``k`` stages (with their
            merging layers). Frozen parts stay in eval mode. Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training.
            The default LN has no running statistics, so this only matters
            with a BN ``norm_cfg``. Defaults to False.
        with_cp (bool): Gradient checkpointing of each block while training
            (saves activation memory, costs a second forward).
            Defaults to False.
        final_norm (bool): Normalise the last stage's output with a norm
            layer ``norm`` (as the official classification model does before
            average pooling). Dense-prediction configs leave it off, as the
            official detection backbone. Defaults to False.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='LN')``.
        act_cfg (dict): FFN activation. Defaults to ``dict(type='GELU')``.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint=PATH, prefix='backbone.')``. A Pretrained config with
            ``checkpoint=None`` trains from scratch (logged). Without it,
            Linear layers get trunc-normal(0.02) weights and zero biases,
            norms ones and zeros.

    Raises:
        ValueError: On an unknown arch name (the message lists the valid
            ones), an arch dict with missing or inconsistent keys, or
            out-of-range ``out_indices`` / ``frozen_stages``.

    Example:
        >>> import torch
        >>> from mmcrossformer.models import CrossFormer
        >>> model = CrossFormer(arch='pp-s').eval()
        >>> outs = model(torch.rand(1, 3, 250, 333))
        >>> [tuple(o.shape) for o in outs]
        [(1, 64, 63, 84), (1, 128, 32, 42), (1, 256, 16, 21), (1, 512, 8, 11)]
    """
    _cf = dict(
        group_size=[7, 7, 7, 7], interval=[8, 4, 2, 1], use_acl=False)
    _pp = dict(
        group_size=[4, 4, 14, 7], interval=[4, 2, 1, 1], use_acl=True)
    arch_zoo: Dict[str, dict] = {
        **dict.fromkeys(['t', 'tiny'], dict(
            embed_dims=64, depths=[1, 1, 8, 6], num_heads=[2, 4, 8, 16],
            drop_path_rate=0.1, **_cf)),
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
            drop_path_rate=0.2, **_cf)),
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24],
            drop_path_rate=0.3, **_cf)),
        **dict.fromkeys(['l', 'large'], dict(
            embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
            drop_path_rate=0.5, **_cf)),
        **dict.fromkeys(['pp-s', 'pp-small'], dict(
            embed_dims=64, depths=[2, 2, 18, 2], num_heads=[2, 4, 8, 16],
            drop_path_rate=0.2, **_pp)),
        **dict.fromkeys(['pp-b', 'pp-base'], dict(
            embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24],
            drop_path_rate=0.3, **_pp)),
        **dict.fromkeys(['pp-l', 'pp-large'], dict(
            embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
            drop_path_rate=0.5, **_pp)),
        **dict.fromkeys(['pp-h', 'pp-huge'], dict(
            embed_dims=128, depths=[6, 6, 18, 2], num_heads=[4, 8, 16, 32],
            drop_path_rate=0.5, **_pp)),
    }
    del _cf, _pp
    #: group sizes and intervals of the official detection / segmentation
    #: backbones (every variant, CrossFormer++ included)
    dense_group_size = [7, 7, 7, 7]
    dense_interval = [8, 4, 2, 1]
    arch_required_keys = ('embed_dims', 'depths', 'num_heads', 'group_size',
                          'interval')
    arch_defaults = dict(
        use_acl=False,
        drop_path_rate=0.1,
        cel_kernels=(4, 8, 16, 32),
        merge_kernels=((2, 4), (2, 4), (2, 4)))

    def __init__(self,
                 arch: Union[str, dict] = 'pp-s',
                 in_channels: int = 3,
                 group_size: Optional[Sequence] = None,
                 interval: Optional[Sequence[int]] = None,
                 group_schedule: str = 'constant',
                 pretrain_img_size: int = 224,
                 use_acl: Optional[bool] = None,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: Optional[float] = None,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 final_norm: bool = False,
                 norm_cfg: dict = dict(type='LN'),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        arch_name = arch if isinstance(arch, str) else None
        arch = self._resolve_arch(arch)
        self.arch_settings = arch
        depths = arch['depths']
        num_stages = len(depths)
        self.num_stages = num_stages
        dims = [arch['embed_dims'] * 2**i for i in range(num_stages)]
        heads = _stage_list(arch['num_heads'], num_stages, 'num_heads')
        group_size_arg, interval_arg = group_size, interval
        intervals = _stage_list(
            arch['interval'] if interval is None else interval, num_stages,
            'interval')
        group_size = arch['group_size'] if group_size is None else group_size
        group_size = _stage_list(group_size, num_stages, 'group_size')
        if all(isinstance(g, int) for g in group_size):
            block_group_sizes = progressive_group_sizes(
                group_schedule, group_size, depths,
                pretrain_img_size // arch['cel_kernels'][0])
        else:
            block_group_sizes = [list(g) for g in group_size]
            for i, (g, d) in enumerate(zip(block_group_sizes, depths)):
                if len(g) != d:
                    raise ValueError(f'group_size of stage {i} lists {len(g)} '
                                     f'blocks, the stage has {d}: {g}')
        self.group_sizes = block_group_sizes
        self.intervals = intervals
        self.out_channels = tuple(dims)
        self.out_indices = self._normalize_indices(out_indices, num_stages,
                                                   'stages')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages must be in [-1, {num_stages}], '
                             f'got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.in_channels = in_channels
        use_acl = arch['use_acl'] if use_acl is None else use_acl
        if drop_path_rate is None:
            drop_path_rate = arch['drop_path_rate']
        merge_kernels = list(arch['merge_kernels'])
        if len(merge_kernels) != num_stages - 1:
            raise ValueError(f'merge_kernels needs {num_stages - 1} entries, '
                             f'got {merge_kernels}')

        self.patch_embed = CrossScaleEmbedding(
            in_channels,
            dims[0],
            arch['cel_kernels'],
            stride=arch['cel_kernels'][0],
            norm_cfg=norm_cfg)
        dpr = np.linspace(0, drop_path_rate, sum(depths)).tolist()
        block_cfg = dict(
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            drop_rate=drop_rate,
            attn_drop_rate=attn_drop_rate,
            act_cfg=act_cfg,
            norm_cfg=norm_cfg)
        self.stages = ModuleList()
        for i in range(num_stages):
            downsample = None
            if i > 0:
                downsample = CrossScaleEmbedding(
                    dims[i - 1],
                    dims[i],
                    merge_kernels[i - 1],
                    stride=2,
                    norm_cfg=norm_cfg,
                    pre_norm=True)
            start = sum(depths[:i])
            self.stages.append(
                CrossFormerStage(
                    dims[i],
                    depths[i],
                    heads[i],
                    block_group_sizes[i],
                    intervals[i],
                    downsample=downsample,
                    use_acl=use_acl,
                    drop_path_rates=dpr[start:start + depths[i]],
                    with_cp=with_cp,
                    block_cfg=block_cfg))
        self.norm = build_norm_layer(norm_cfg, dims[-1])[1] \
            if final_norm else None
        self._freeze_stages()
        # (stage, smallest LDA group size) of the interval-1 stages, checked
        # by _warn_if_lda_degenerates; empty when there is nothing to warn
        # about (settings given explicitly, or the official dense ones)
        keeps_imagenet_settings = (
            arch_name is not None and group_size_arg is None
            and interval_arg is None
            and (list(arch['group_size']), list(arch['interval'])) !=
            (self.dense_group_size, self.dense_interval))
        self._lda_check_stages = [
            (i, min(self.group_sizes[i][1::2]))
            for i in range(num_stages) if keeps_imagenet_settings
            and intervals[i] == 1 and depths[i] > 1
        ]
        self._arch_name = arch_name
        self.pretrain_img_size = pretrain_img_size

    # ------------------------------------------------------------------
    # construction helpers
    @classmethod
    def _resolve_arch(cls, arch: Union[str, dict]) -> dict:
        arch = cls._lookup_arch(arch)
        depths = list(arch['depths'])
        if not depths or any(int(d) != d or d < 1 for d in depths):
            raise ValueError(f'depths must be positive ints, got {depths}')
        for i, heads in enumerate(_stage_list(arch['num_heads'], len(depths),
                                              'num_heads')):
            dims = arch['embed_dims'] * 2**i
            if heads < 1 or dims % heads:
                raise ValueError(f'num_heads={heads} of stage {i} does not '
                                 f'divide its {dims} channels')
        arch['depths'] = depths
        return arch

    def _freeze_stages(self):
        frozen = []
        if self.frozen_stages >= 0:
            frozen.append(self.patch_embed)
        frozen.extend(self.stages[:max(self.frozen_stages, 0)])
        if self.frozen_stages == self.num_stages and self.norm is not None:
            frozen.append(self.norm)
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    # ------------------------------------------------------------------
    def _warn_if_lda_degenerates(self, height: int, width: int) -> None:
        """Warn (once) if LDA equals SDA in some stage for an input of
        (height, width) pixels; see the class docstring."""
        side_h = _ceil_div(height, self.patch_embed.stride)
        side_w = _ceil_div(width, self.patch_embed.stride)
        degenerate = []
        for stage, group in self._lda_check_stages:
            h = _ceil_div(side_h, 2**stage)
            w = _ceil_div(side_w, 2**stage)
            if min(h, w) > group:
                degenerate.append(f'stage {stage + 1} ({h}x{w} map, group '
                                  f'size {group})')
        if not degenerate:
            return
        self._lda_check_stages = []  # once per instance
        arch = self.arch_settings
        print_log(
            f'CrossFormer arch {self._arch_name!r} keeps its ImageNet '
            f"settings group_size={list(arch['group_size'])}, "
            f"interval={list(arch['interval'])}, tuned to "
            f'{self.pretrain_img_size}x{self.pretrain_img_size} inputs. '
            f'At this {height}x{width} input, '
            f'{", ".join(degenerate)} use interval 1 on a map larger than '
            f'the group, so their LDA groups equal their SDA groups: no '
            f'long-distance attention. For detection / segmentation pass '
            f'group_size={self.dense_group_size}, '
            f'interval={self.dense_interval} to the backbone, as the '
            f'official dense-prediction configs do.',
            logger='current',
            level=logging.WARNING)

    def no_weight_decay_keywords(self) -> set:
        """Parameter-name keywords usually excluded from weight decay."""
        return {'dpb'}

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer depth of a parameter for layer-wise learning-rate decay
        (mmpretrain's ``LearningRateDecayOptimWrapperConstructor``).

        Depth 0 is the stem, block ``j`` of stage ``i`` has depth
        ``sum(depths[:i]) + j + 1``, a patch merging layer the depth of the
        block before it, and the final norm and every parameter outside
        ``prefix`` (neck, heads) the top depth ``sum(depths) + 1``; see
        :func:`~mmcrossformer.models.utils.crossformer_layer_depth`.

        Args:
            param_name (str): Name in the model, e.g.
                ``'backbone.stages.0.blocks.1.attn.qkv.weight'``.
            prefix (str): Prefix of this backbone's parameters in the model,
                e.g. ``'backbone.'``. Defaults to ``''``.

        Returns:
            tuple[int, int]: ``(depth, sum(depths) + 2)``.

        Raises:
            ValueError: For a name under ``prefix`` that is no parameter of
                this architecture.
        """
        return crossformer_layer_depth(param_name,
                                       self.arch_settings['depths'], prefix)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Feature maps of the selected stages.

        Args:
            x (Tensor): Images of shape (B, C_in, H, W).

        Returns:
            tuple[Tensor]: One (B, C_i, ceil(H / s_i), ceil(W / s_i)) map
            per index of ``out_indices``, s_i = 4, 8, 16, 32 (the last one
            normalised when ``final_norm``).

        Raises:
            ValueError: If ``x`` is not 4-D with ``in_channels`` channels, or
                H or W is smaller than the total stride (32).
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'CrossFormer expects images of shape (B, {self.in_channels}'
                f', H, W), got {tuple(x.shape)}')
        stride = self.patch_embed.stride * 2**(self.num_stages - 1)
        if min(x.shape[2:]) < stride:
            raise ValueError(
                f'input of {x.shape[2]}x{x.shape[3]} pixels is smaller than '
                f'the network\'s total stride {stride}')
        if not torch.compiler.is_compiling() and self._lda_check_stages:
            self._warn_if_lda_degenerates(x.shape[2], x.shape[3])
        x = self.patch_embed(x.permute(0, 2, 3, 1))
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                out = x
                if self.norm is not None and i == self.num_stages - 1:
                    out = self.norm(out)
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)
