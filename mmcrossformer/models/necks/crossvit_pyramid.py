"""Feature pyramid for the two-branch CrossViT backbone in dense mode.

CrossViT's two branches are two scales of one image. With
``CrossViT(dense_strides=(8, 16))`` the small (12-pixel patch) branch sees
the input at 1.5x, so its tokens have stride 8 input pixels, and the large
(16-pixel patch) branch stride 16; both grids start at the top-left pixel,
so every stride-16 token covers exactly 2 x 2 stride-8 tokens. This neck
builds the pyramid from the two branches by geometry: the finer branch feeds
the finer levels, the coarser branch the coarser ones.

The simple pyramid of ViTDet (Li et al., "Exploring Plain Vision Transformer
Backbones for Object Detection", ECCV 2022, https://arxiv.org/abs/2203.16527,
Sec. 3) builds all levels from one stride-16 map and feeds the heads without
FPN's top-down path; the level convolutions (1x1, norm, 3x3, norm) follow
it.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule, ModuleList

from mmcrossformer.registry import MODELS

from ..layers.shapes import pad_feature_map


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map, per position."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight,
            self.bias, self.eps)
        return x.permute(0, 3, 1, 2).contiguous()


def _norm(norm_cfg: Optional[dict], channels: int) -> nn.Module:
    if norm_cfg is None:
        return nn.Identity()
    cfg = dict(norm_cfg)
    if cfg.get('type') == 'LN2d':
        cfg.pop('type')
        return LayerNorm2d(channels, **cfg)
    return build_norm_layer(cfg, channels)[1]


def avg_pool2x(x: torch.Tensor) -> torch.Tensor:
    """2 x 2 average pooling of stride 2 after zero-padding (B, C, h, w) to
    even h and w: coarse cell (i, j) is the mean of the four fine cells it
    covers, ``(ceil(h / 2), ceil(w / 2))`` cells; a missing fine cell counts
    as a zero, as a padded one does inside a larger batch."""
    return F.avg_pool2d(pad_feature_map(x, 2), 2, stride=2)


@MODELS.register_module()
class CrossViTPyramid(BaseModule):
    """Multi-scale pyramid from CrossViT's stride-8 and stride-16 branches.

    Takes the last entry of ``CrossViT(out_type='featmap',
    dense_strides=(8, 16))``: S, (B, C_s, h_8, w_8) with ``h_8 =
    ceil(H / 8)``, and L, (B, C_l, h_16, w_16) with ``h_16 = ceil(H / 16)``.

    **Exchange of patch tokens.** CrossViT's fusion exchanges information
    between the branches only through the CLS tokens. Here every patch
    token gets the other branch's tokens at the same place, resampled by
    geometry and projected by a 1x1 convolution (no bias)::

        S' = S + up2(P_ls(L))        # nearest x2: a stride-8 cell takes
                                     # the stride-16 cell it lies in
        L' = L + P_sl(pool2(S))      # 2x2 mean of the stride-8 cells
                                     # that tile the stride-16 cell

    **Levels**, each then 1x1 conv (no bias), LN (no bias), 3x3 conv,
    ``norm_cfg`` to ``out_channels``:

    ======  ==============================================  ==============
    stride  input                                           grid
    ======  ==============================================  ==============
    4       deconv 2x2/2 (no bias) of S' (C_s / 2),         (2 h_8, 2 w_8)
            LN (no bias), GELU
    8       S' (C_s)                                        (h_8, w_8)
    16      L' (C_l)                                        (h_16, w_16)
    32      pool2(L')                                       ceil(h_16 / 2)
    64      pool2(pool2(L'))                                ...
    128     pool2 three times                               ...
    ======  ==============================================  ==============

    ``pool2`` is :func:`avg_pool2x`. Every resampling is one of pixel
    centres: a coarse cell and the fine cells it is pooled from or gives its
    value to cover the same input pixels; the grids are nested (no
    misalignment at the bottom / right), and for an input that is a multiple
    of the level's stride the level has exactly stride 4 ... 128 pixels.

    **Padding.** The backbone sets padded tokens to zero. Before each level's
    3x3 convolution every operation maps zeros to zeros (no biases, no
    LayerNorm bias, GELU(0) = 0, zero-padded pooling), and the exchange adds
    nothing to a small-branch token that is zero in every channel (where an
    image's stride-8 grid is odd, its last large token also covers the first
    padded stride-8 row / column), so the zeros padded around a lone image
    by the convolutions are what a larger batch holds there: for canvases
    that are multiples of 16 pixels (mmdet pads to 32, mmseg trains on fixed
    crops) the levels over an image's own region do not depend on the other
    images of its batch, whatever the image's size.

    Args:
        in_channels (Sequence[int]): (C_s, C_l), e.g. ``(192, 384)``.
        in_strides (Sequence[int]): Strides of the two branch maps; the
            second must be twice the first. Defaults to (8, 16).
        out_channels (int | Sequence[int]): Channels of each level (one int
            for all). Defaults to 256.
        out_strides (Sequence[int]): Levels to build, increasing, taken from
            ``s / 2, s, 2 s, 4 s, 8 s, 16 s`` for ``in_strides = (s, 2 s)``
            (4 ... 128 by default). Defaults to (4, 8, 16, 32).
        norm_cfg (dict, optional): Norm after the 3x3 convolutions;
            ``'LN2d'`` is a per-position LayerNorm over channels (ViTDet),
            other types go to mmcv's ``build_norm_layer``, None: none (the
            3x3 convolution then has a bias). Defaults to LN2d.
        act_cfg (dict): Activation after the stride-4 deconvolution.
            Defaults to GELU.

    Raises:
        ValueError: On strides other than the above, a wrong number of
            channels, or (in forward) maps of the wrong shape.

    Example:
        >>> import torch
        >>> neck = CrossViTPyramid(in_channels=(192, 384), out_channels=64)
        >>> small = torch.rand(1, 192, 28, 40)  # stride 8 of 224 x 320
        >>> large = torch.rand(1, 384, 14, 20)  # stride 16
        >>> [tuple(o.shape) for o in neck([(small, large)])]
        [(1, 64, 56, 80), (1, 64, 28, 40), (1, 64, 14, 20), (1, 64, 7, 10)]
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 in_strides: Sequence[int] = (8, 16),
                 out_channels: Union[int, Sequence[int]] = 256,
                 out_strides: Sequence[int] = (4, 8, 16, 32),
                 norm_cfg: Optional[dict] = dict(type='LN2d', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        in_channels = [int(c) for c in in_channels]
        in_strides = [int(s) for s in in_strides]
        if len(in_channels) != 2 or min(in_channels) < 1:
            raise ValueError(f'in_channels needs the two branch widths '
                             f'(small, large), got {in_channels}')
        if len(in_strides) != 2 or in_strides[0] < 2 or \
                in_strides[1] != 2 * in_strides[0]:
            raise ValueError(f'in_strides must be (s, 2 s) with s >= 2, got '
                             f'{in_strides}')
        s = in_strides[0]
        allowed = [s // 2, s, 2 * s, 4 * s, 8 * s, 16 * s]
        out_strides = [int(t) for t in out_strides]
        if not out_strides or any(t not in allowed for t in out_strides) \
                or out_strides != sorted(set(out_strides)):
            raise ValueError(f'out_strides must be increasing values from '
                             f'{allowed}, got {out_strides}')
        if isinstance(out_channels, int):
            out_channels = [out_channels] * len(out_strides)
        out_channels = [int(c) for c in out_channels]
        if len(out_channels) != len(out_strides):
            raise ValueError(f'out_channels needs {len(out_strides)} '
                             f'entries, got {out_channels}')
        self.in_channels = in_channels
        self.in_strides = in_strides
        self.out_channels = out_channels
        self.out_strides = out_strides
        c_s, c_l = in_channels

        # exchange of patch tokens between the branches
        self.large_to_small = nn.Conv2d(c_l, c_s, 1, bias=False)
        self.small_to_large = nn.Conv2d(c_s, c_l, 1, bias=False)

        self.upsample = None
        if out_strides[0] == s // 2:
            self.upsample = nn.Sequential(
                nn.ConvTranspose2d(c_s, c_s // 2, 2, stride=2, bias=False),
                LayerNorm2d(c_s // 2, eps=1e-6, bias=False),
                build_activation_layer(act_cfg))
        self.levels = ModuleList()
        for stride, out_c in zip(out_strides, out_channels):
            level_c = c_s // 2 if stride < s else c_s if stride == s else c_l
            self.levels.append(
                nn.Sequential(
                    nn.Conv2d(level_c, out_c, 1, bias=False),
                    LayerNorm2d(out_c, eps=1e-6, bias=False),
                    nn.Conv2d(out_c, out_c, 3, padding=1,
                              bias=norm_cfg is None),
                    _norm(norm_cfg, out_c)))

    def exchange(self, small: torch.Tensor,
                 large: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(S, L) -> (S', L') as in the class docstring, same shapes."""
        h, w = small.shape[2:]
        up = F.interpolate(
            self.large_to_small(large), scale_factor=2., mode='nearest')
        # a padded small-branch token (zero in every channel) takes nothing
        # from the large token that also covers the image's last odd row /
        # column, so it stays zero (see Padding in the class docstring)
        image = small.ne(0).any(1, keepdim=True).to(up.dtype)
        small_out = small + up[:, :, :h, :w] * image
        large_out = large + self.small_to_large(avg_pool2x(small))
        return small_out, large_out

    def level_inputs(self, inputs) -> List[torch.Tensor]:
        """The resampled map each level's convolutions start from (the
        "input" column of the class docstring), fine to coarse.

        Args:
            inputs (Sequence): As :meth:`forward`.

        Returns:
            list[Tensor]: One (B, C, h_i, w_i) map per entry of
            ``out_strides``.

        Raises:
            ValueError: As :meth:`forward`.
        """
        maps: List[torch.Tensor]
        if isinstance(inputs[-1], torch.Tensor):
            maps = list(inputs)
        else:
            maps = list(inputs[-1])
        if len(maps) != 2:
            raise ValueError(f'CrossViTPyramid expects 2 branch maps, got '
                             f'{len(maps)}')
        for b, x in enumerate(maps):
            if x.dim() != 4 or x.shape[1] != self.in_channels[b]:
                raise ValueError(f'branch {b} map has shape '
                                 f'{tuple(x.shape)}, expected (B, '
                                 f'{self.in_channels[b]}, h, w)')
        small, large = maps
        expected = tuple((n + 1) // 2 for n in small.shape[2:])
        if tuple(large.shape[2:]) != expected:
            raise ValueError(
                f'the large branch grid {tuple(large.shape[2:])} is not '
                f'half the small one {tuple(small.shape[2:])} (expected '
                f'{expected}): the backbone needs dense_strides='
                f'{tuple(self.in_strides)}')
        small, large = self.exchange(small, large)
        s = self.in_strides[0]
        outs = []
        coarse, coarse_stride = large, 2 * s
        for stride in self.out_strides:
            if stride < s:
                outs.append(self.upsample(small))
            elif stride == s:
                outs.append(small)
            else:
                while coarse_stride < stride:
                    coarse = avg_pool2x(coarse)
                    coarse_stride *= 2
                outs.append(coarse)
        return outs

    def forward(self, inputs) -> Tuple[torch.Tensor, ...]:
        """Build the pyramid.

        Args:
            inputs (Sequence): The backbone output: a tuple whose last entry
                holds the two (B, C_b, h_b, w_b) branch maps. A flat pair of
                maps is accepted too.

        Returns:
            tuple[Tensor]: One (B, out_channels[i], h_i, w_i) map per entry
            of ``out_strides``, fine to coarse (grids in the class
            docstring).

        Raises:
            ValueError: If there are not two maps, their channels differ
                from ``in_channels``, or the large grid is not
                ``ceil(h_8 / 2) x ceil(w_8 / 2)``.
        """
        return tuple(
            level(x)
            for level, x in zip(self.levels, self.level_inputs(inputs)))
