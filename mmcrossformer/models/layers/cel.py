"""Cross-scale embedding layer (CEL, CrossFormer Sec. 3.1, Fig. 2).

CrossFormer's stem and its patch merging layers. Official code:
https://github.com/cheerss/CrossFormer (``models/crossformer.py``,
``models/crossformer_backbone_det.py``; modules ``patch_embed`` and
``layers.{i}.downsample``).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from .shapes import pad_feature_map


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
        init_cfg (dict, optional): Initialisation config. Defaults to None.

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
        """Embed a token map.

        Args:
            x (Tensor): Tokens (B, H, W, C_in), channels last (for the stem:
                the image permuted to channels last).

        Returns:
            Tensor: (B, ceil(H / s), ceil(W / s), C_out).
        """
        if self.pre_norm and self.norm is not None:
            x = self.norm(x)
        x = x.permute(0, 3, 1, 2)
        x = pad_feature_map(x, self.stride)
        x = torch.cat([proj(x) for proj in self.projs], dim=1)
        x = x.permute(0, 2, 3, 1)
        if not self.pre_norm and self.norm is not None:
            x = self.norm(x)
        return x
