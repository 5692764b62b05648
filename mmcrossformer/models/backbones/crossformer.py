"""CrossFormer and CrossFormer++ backbones.

Papers:
    CrossFormer: A Versatile Vision Transformer Hinging on Cross-scale
    Attention (Wang et al., ICLR 2022, https://arxiv.org/abs/2108.00154).
    CrossFormer++: A Versatile Vision Transformer Hinging on Cross-scale
    Attention (Wang et al., TPAMI 2023, https://arxiv.org/abs/2303.06908).

Official code: https://github.com/cheerss/CrossFormer
(``models/crossformer.py`` for classification,
``models/crossformer_backbone_det.py`` for dense prediction).

This module assembles the network: :class:`CrossFormerBlock`,
:class:`CrossFormerStage`, :class:`CrossFormer` with its arch zoo, and
:func:`progressive_group_sizes` (PGS, CrossFormer++). The papers' bricks
live in :mod:`mmcrossformer.models.layers`, one module each:

* ``cel`` -- :class:`~mmcrossformer.models.layers.CrossScaleEmbedding`
  (CEL), the stem and the patch merging layers.
* ``dpb`` -- :class:`~mmcrossformer.models.layers.DynamicPositionBias`
  (DPB), an MLP from relative coordinates to a per-head attention bias.
* ``lsda`` -- :class:`~mmcrossformer.models.layers.LSDAttention`, long /
  short distance attention (LDA / SDA) with its token grouping.
* ``acl`` -- :class:`~mmcrossformer.models.layers.AmplitudeCoolingLayer`
  (ACL, CrossFormer++).

All blocks work on channels-last tokens ``(B, H, W, C)``; the backbone returns
channels-first feature maps ``(B, C, H, W)``.
"""
import logging
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import DropPath
from mmengine.logging import print_log
from mmengine.model import BaseModule, ModuleList

from mmcrossformer.registry import MODELS

from ..layers import (
    AmplitudeCoolingLayer,
    CrossScaleEmbedding,
    LSDAttention,
    build_ffn,
    ffn_forward,
)
from ..layers.shapes import ceil_div, check_heads
from ..utils.arch_zoo import CROSSFORMER_ARCH_ZOO
from ..utils.layer_depth import crossformer_layer_depth
from .base_backbone import ArchBackbone


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

    Each arch of :attr:`arch_zoo` carries its ImageNet group sizes and
    intervals; the dense-prediction configs set the official detection
    ones (``group_size=[7, 7, 7, 7], interval=[8, 4, 2, 1]``), and a
    CrossFormer++ arch kept at its 224-pixel settings on a larger input
    logs a warning naming the stages that lose long-distance attention.
    Under ``torch.compile`` with dynamic shapes one graph serves all input
    sizes whose stage maps take the same group-shape branch. Both in
    detail: docs/en/backbones.md.

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
    #: the published variants (:mod:`..utils.arch_zoo`, where checkpoint
    #: conversion reads them too)
    arch_zoo: Dict[str, dict] = CROSSFORMER_ARCH_ZOO
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
    def stage_channels(cls, arch: Union[str, dict] = 'pp-s',
                       out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3)
                       ) -> List[int]:
        """Channels C_i of the maps a backbone of ``arch`` returns for
        ``out_indices``, without building it (for config checks).

        Raises:
            ValueError: As the constructor, for a bad arch or an
                out-of-range index.
        """
        arch = cls._resolve_arch(arch)
        num_stages = len(arch['depths'])
        dims = [arch['embed_dims'] * 2**i for i in range(num_stages)]
        return [
            dims[i]
            for i in cls._normalize_indices(out_indices, num_stages, 'stages')
        ]

    @classmethod
    def _resolve_arch(cls, arch: Union[str, dict]) -> dict:
        arch = cls._lookup_arch(arch)
        depths = list(arch['depths'])
        if not depths or any(int(d) != d or d < 1 for d in depths):
            raise ValueError(f'depths must be positive ints, got {depths}')
        for i, heads in enumerate(_stage_list(arch['num_heads'], len(depths),
                                              'num_heads')):
            dims = arch['embed_dims'] * 2**i
            check_heads(dims, heads, f' of stage {i}')
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
        side_h = ceil_div(height, self.patch_embed.stride)
        side_w = ceil_div(width, self.patch_embed.stride)
        degenerate = []
        for stage, group in self._lda_check_stages:
            h = ceil_div(side_h, 2**stage)
            w = ceil_div(side_w, 2**stage)
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

