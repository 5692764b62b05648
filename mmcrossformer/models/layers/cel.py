"""Cross-scale embedding layer (CEL, CrossFormer Sec. 3.1, Fig. 2).

CrossFormer's stem and its patch merging layers. Official code:
https://github.com/cheerss/CrossFormer (``models/crossformer.py``,
``models/crossformer_backbone_det.py``; modules ``patch_embed`` and
``layers.{i}.downsample``).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from .shapes import pad_feature_map

# A kernel at least this many strides wide is applied as a stride-1
# convolution on the space-to-depth input while its weight needs a gradient,
# in eager CPU fp32 training (see conv_space_to_depth, _use_space_to_depth).
SPACE_TO_DEPTH_MIN_RATIO = 4


def conv_space_to_depth(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a strided convolution whose kernel is a multiple of
    its stride, computed as a stride-1 convolution on the space-to-depth
    input.

    With stride s, kernel k = m * s and padding p, the input is padded by p
    (more at the bottom / right to complete the last window), its s x s
    pixel blocks become channels (``F.pixel_unshuffle``) and the weight
    (C_out, C_in, k, k) is rearranged to (C_out, C_in * s * s, m, m) in the
    same channel order; the products and sums are the convolution's, in
    another order. oneDNN computes the weight gradient of the CEL stem's
    16 x 16 and 32 x 32 kernels on three input channels several times
    faster this way (docs/en/benchmarks.md).

    Args:
        x (Tensor): Input (B, C_in, H, W), H and W multiples of the stride.
        conv (nn.Conv2d): Square kernel, equal stride on both axes,
            ``kernel % stride == 0``, no dilation or groups.

    Returns:
        Tensor: (B, C_out, H / s, W / s), equal to ``conv(x)`` up to the
        order of the fp32 summation.
    """
    s, k, p = conv.stride[0], conv.kernel_size[0], conv.padding[0]
    m = k // s
    height, width = x.shape[-2:]
    out_h = (height + 2 * p - k) // s + 1
    out_w = (width + 2 * p - k) // s + 1
    x = F.pad(x, (p, (out_w - 1) * s + k - width - p, p,
                  (out_h - 1) * s + k - height - p))
    x = F.pixel_unshuffle(x, s)
    c_out, c_in = conv.weight.shape[:2]
    weight = conv.weight.view(c_out, c_in, m, s, m, s)
    weight = weight.permute(0, 1, 3, 5, 2, 4).reshape(c_out, c_in * s * s,
                                                     m, m)
    return F.conv2d(x, weight, conv.bias)


def _use_space_to_depth(conv: nn.Conv2d,
                        x: Optional[torch.Tensor] = None) -> bool:
    """Whether :func:`conv_space_to_depth` applies ``conv`` to ``x``.

    Only in eager CPU fp32 training, where it was measured: not under
    autocast (in fp16 the rearranged product rounds differently enough to
    move a Cascade Mask R-CNN's fp16 gradients 3x further from fp32's),
    not under ``torch.jit`` tracing, and not while ``torch.compile`` traces
    (inductor picks its own convolution; with symbolic sizes, torch 2.9's
    inductor fails on the space-to-depth graph: ``TypeError: cannot
    determine truth value of Relational`` while it orders the symbolic
    strides of the tensor saved for the backward pass).
    """
    k, s = conv.kernel_size[0], conv.stride[0]
    if x is not None and not (x.device.type == 'cpu'
                              and x.dtype == torch.float32):
        return False
    return (torch.is_grad_enabled() and conv.weight.requires_grad
            and k % s == 0 and k // s >= SPACE_TO_DEPTH_MIN_RATIO
            and conv.kernel_size[1] == k and conv.stride[1] == s
            and conv.padding[0] == conv.padding[1]
            and conv.dilation == (1, 1) and conv.groups == 1
            and not torch.is_autocast_enabled('cpu')
            and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling())


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
        x = torch.cat([
            conv_space_to_depth(x, proj) if _use_space_to_depth(proj, x) else
            proj(x) for proj in self.projs
        ], dim=1)
        x = x.permute(0, 2, 3, 1)
        if not self.pre_norm and self.norm is not None:
            x = self.norm(x)
        return x
