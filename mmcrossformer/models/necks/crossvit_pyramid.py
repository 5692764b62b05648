"""Simple feature pyramid for the two-branch CrossViT backbone.

Plain (non-hierarchical) ViTs have one feature map of stride 16. ViTDet
(Li et al., "Exploring Plain Vision Transformer Backbones for Object
Detection", ECCV 2022, https://arxiv.org/abs/2203.16527, Sec. 3) builds a
pyramid from it with parallel deconvolutions (x4, x2), identity and
max-pooling (x0.5). CrossViT has two maps per encoder, of different widths
and strides; this neck fuses them on one grid first.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule, ModuleList

from mmcrossformer.registry import MODELS


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


@MODELS.register_module()
class CrossViTPyramid(BaseModule):
    """ViTDet-style simple feature pyramid on CrossViT's two branches.

    **Branch fusion.** The neck takes the backbone's last output entry
    (``out_type='featmap'``): one map per branch, (B, C_b, h_b, w_b). Every
    branch is resampled bilinearly (``align_corners=False``) to the grid of
    the reference branch ``ref_branch`` (default: the large branch, whose
    grid ``(ceil(H / 16), ceil(W / 16))`` has stride 16 exactly; the small
    branch's stride is about 11.2), then

    * ``fusion='concat'``: concatenated along channels, C = sum(C_b)
      (e.g. 192 + 384 = 576 for CrossViT-15);
    * ``fusion='sum'``: each non-reference branch is mapped to the reference
      width by a 1x1 convolution and the maps are summed, C = C_ref.

    **Pyramid** (ViTDet, Sec. 3), from the fused (B, C, h, w) map with
    ``(h, w) = (ceil(H / 16), ceil(W / 16))``:

    =========  ==================================  ======================
    scale      operation (output channels)         output grid
    =========  ==================================  ======================
    4 (s4)     deconv 2x2/2 (C/2), LN, GELU,       (4h, 4w)
               deconv 2x2/2 (C/4)
    2 (s8)     deconv 2x2/2 (C/2)                  (2h, 2w)
    1 (s16)    identity (C)                        (h, w)
    0.5 (s32)  max-pool 2x2/2, ceil mode (C)       (ceil(h/2), ceil(w/2))
    =========  ==================================  ======================

    each followed by a 1x1 conv + norm and a 3x3 conv + norm to
    ``out_channels``. For an input padded to a multiple of 32 (as the mmdet /
    mmseg data preprocessors do) the maps have exactly strides 4, 8, 16, 32;
    in general their sizes are those of the table. The outputs feed an mmdet
    ``FPN`` (``in_channels=[out_channels] * 4``) or mmseg heads directly
    (UPerNet, ``in_index=[0, 1, 2, 3]``).

    Args:
        in_channels (Sequence[int]): Channels of the branches, e.g.
            ``(192, 384)``.
        out_channels (int | Sequence[int]): Channels of each output (one
            int for all). Defaults to 256.
        scale_factors (Sequence[float]): Levels, from 4, 2, 1, 0.5.
            Defaults to (4, 2, 1, 0.5).
        fusion (str): ``'concat'`` or ``'sum'``. Defaults to ``'concat'``.
        ref_branch (int): Branch whose grid the others are resampled to.
            Defaults to -1 (the last, large branch).
        norm_cfg (dict, optional): Norm after the convolutions; ``'LN2d'``
            is a per-position LayerNorm over channels (ViTDet), other types
            go to mmcv's ``build_norm_layer``. Defaults to LN2d.
        act_cfg (dict): Activation between the two x4 deconvolutions.
            Defaults to GELU.

    Raises:
        ValueError: On an unknown fusion or scale factor, or a wrong number
            of output channels.

    Example:
        >>> import torch
        >>> neck = CrossViTPyramid(in_channels=(192, 384), out_channels=64)
        >>> small = torch.rand(1, 192, 20, 20)  # stride ~11.2
        >>> large = torch.rand(1, 384, 14, 14)  # stride 16
        >>> [tuple(o.shape) for o in neck([(small, large)])]
        [(1, 64, 56, 56), (1, 64, 28, 28), (1, 64, 14, 14), (1, 64, 7, 7)]
    """
    FUSIONS = ('concat', 'sum')
    SCALES = (4., 2., 1., .5)

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: Union[int, Sequence[int]] = 256,
                 scale_factors: Sequence[float] = (4., 2., 1., .5),
                 fusion: str = 'concat',
                 ref_branch: int = -1,
                 norm_cfg: Optional[dict] = dict(type='LN2d', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        in_channels = [int(c) for c in in_channels]
        n = len(in_channels)
        if n < 1:
            raise ValueError('in_channels needs one entry per branch')
        if fusion not in self.FUSIONS:
            raise ValueError(f'fusion must be one of {self.FUSIONS}, got '
                             f'{fusion!r}')
        if not -n <= ref_branch < n:
            raise ValueError(f'ref_branch {ref_branch} is out of range for '
                             f'{n} branches')
        scale_factors = [float(s) for s in scale_factors]
        bad = [s for s in scale_factors if s not in self.SCALES]
        if bad or not scale_factors:
            raise ValueError(f'scale_factors must be taken from '
                             f'{self.SCALES}, got {scale_factors}')
        if isinstance(out_channels, int):
            out_channels = [out_channels] * len(scale_factors)
        out_channels = [int(c) for c in out_channels]
        if len(out_channels) != len(scale_factors):
            raise ValueError(f'out_channels needs {len(scale_factors)} '
                             f'entries, got {out_channels}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scale_factors = scale_factors
        self.fusion = fusion
        self.ref_branch = ref_branch % n

        if fusion == 'concat':
            self.branch_projs = None
            channels = sum(in_channels)
        else:
            ref_c = in_channels[self.ref_branch]
            self.branch_projs = ModuleList(
                nn.Identity() if b == self.ref_branch else nn.Conv2d(
                    c, ref_c, 1) for b, c in enumerate(in_channels))
            channels = ref_c
        self.fused_channels = channels

        self.levels = ModuleList()
        for scale, out_c in zip(scale_factors, out_channels):
            if scale == 4.:
                ops = [
                    nn.ConvTranspose2d(channels, channels // 2, 2, stride=2),
                    _norm(norm_cfg, channels // 2),
                    build_activation_layer(act_cfg),
                    nn.ConvTranspose2d(
                        channels // 2, channels // 4, 2, stride=2)
                ]
                level_c = channels // 4
            elif scale == 2.:
                ops = [
                    nn.ConvTranspose2d(channels, channels // 2, 2, stride=2)
                ]
                level_c = channels // 2
            elif scale == 1.:
                ops = []
                level_c = channels
            else:
                ops = [nn.MaxPool2d(2, stride=2, ceil_mode=True)]
                level_c = channels
            ops += [
                nn.Conv2d(level_c, out_c, 1, bias=norm_cfg is None),
                _norm(norm_cfg, out_c),
                nn.Conv2d(out_c, out_c, 3, padding=1, bias=norm_cfg is None),
                _norm(norm_cfg, out_c),
            ]
            self.levels.append(nn.Sequential(*ops))

    def fuse(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        """Fuse the branch maps on the reference grid, (B, C, h, w)."""
        if len(maps) != len(self.in_channels):
            raise ValueError(f'CrossViTPyramid expects {len(self.in_channels)}'
                             f' branch maps, got {len(maps)}')
        size = maps[self.ref_branch].shape[-2:]
        resampled = []
        for b, x in enumerate(maps):
            if x.shape[1] != self.in_channels[b]:
                raise ValueError(f'branch {b} has {x.shape[1]} channels, '
                                 f'expected {self.in_channels[b]}')
            if x.shape[-2:] != size:
                x = F.interpolate(
                    x, size=size, mode='bilinear', align_corners=False)
            if self.branch_projs is not None:
                x = self.branch_projs[b](x)
            resampled.append(x)
        if self.fusion == 'concat':
            return torch.cat(resampled, dim=1)
        return torch.stack(resampled).sum(0)

    def forward(self, inputs) -> Tuple[torch.Tensor, ...]:
        """Build the pyramid.

        Args:
            inputs (Sequence): The backbone output: a tuple whose last entry
                holds one (B, C_b, h_b, w_b) map per branch. A flat sequence
                of the branch maps is accepted too.

        Returns:
            tuple[Tensor]: One (B, out_channels[i], h_i, w_i) map per scale
            factor, from fine to coarse.
        """
        maps: List[torch.Tensor]
        if isinstance(inputs[-1], torch.Tensor):
            maps = list(inputs)
        else:
            maps = list(inputs[-1])
        x = self.fuse(maps)
        return tuple(level(x) for level in self.levels)
