"""Dynamic position bias (DPB, CrossFormer Sec. 3.2.2, Fig. 3).

An MLP that maps the relative coordinates of two tokens of an attention
group to one bias per head, and the relative-position tables it reads.
Official code: https://github.com/cheerss/CrossFormer
(``models/crossformer.py``, ``models/crossformer_backbone_det.py``; module
``attn.pos`` of each block).
"""
from functools import lru_cache
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule


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

    Cached per group size and device: callers must not modify the result.
    The cached tensors are ordinary tensors (built with inference mode off),
    valid both under ``torch.inference_mode()`` and with autograd, whichever
    mode fills the cache. While ``torch.compile`` traces, they are built
    inside the graph instead (no cache lookup in the traced code).

    Args:
        gh (int): Group height (tokens).
        gw (int): Group width (tokens).
        device (torch.device | str): Device of the tables.
            Defaults to CPU.

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
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    Raises:
        ValueError: If ``hidden_dims`` or ``num_heads`` is below 1 (a
            zero-width MLP would give every pair the same bias).
    """

    def __init__(self,
                 hidden_dims: int,
                 num_heads: int,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if hidden_dims < 1 or num_heads < 1:
            raise ValueError(
                f'DPB needs hidden_dims >= 1 and num_heads >= 1, got '
                f'hidden_dims={hidden_dims}, num_heads={num_heads} (L/SDA '
                f'uses embed_dims // 16: embed_dims must be at least 16)')
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
        """Attention bias for the tokens of a (gh, gw) group.

        Args:
            gh (int): Group height (tokens).
            gw (int): Group width (tokens).

        Returns:
            Tensor: (num_heads, N, N) with N = gh * gw, in the dtype and on
            the device of the MLP's weights; entry ``[h, i, j]`` is head
            ``h``'s bias of query ``i`` and key ``j`` (row-major positions).
        """
        weight = self.pos_proj.weight
        coords, index = relative_position_tables(gh, gw, weight.device)
        pos = self.pos_proj(coords.to(weight.dtype))
        # ((2gh-1)(2gw-1), num_heads)
        table = self.pos3(self.pos2(self.pos1(pos)))
        n = gh * gw
        # index_select: its backward (index_add) is faster than indexing's
        bias = table.index_select(0, index)
        bias = bias.view(n, n, self.num_heads)
        return bias.permute(2, 0, 1)
