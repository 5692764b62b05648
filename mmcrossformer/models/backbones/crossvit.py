"""CrossViT backbone.

Paper:
    CrossViT: Cross-Attention Multi-Scale Vision Transformer for Image
    Classification (Chen, Fan and Panda, ICCV 2021,
    https://arxiv.org/abs/2103.14899).

Official code: https://github.com/IBM/CrossViT (``models/crossvit.py``);
timm re-implements it as ``timm/models/crossvit.py`` (``crossvit_*_240``).

CrossViT runs two ViT branches side by side (Sec. 3.2, Fig. 2): a *small*
(complementary) branch with fine patches (12 px) and narrow tokens, and a
*large* (primary) branch with coarse patches (16 px) and wide tokens. The
network is ``K`` multi-scale encoders; each runs ``N`` transformer layers on
the small branch and ``M`` on the large one, then fuses the branches with
``L = 1`` cross-attention module per branch (Sec. 3.3, Eq. 5-7). The CLS
tokens of both branches, after a final norm, feed one classifier each; the
prediction is the mean of the two (Sec. 3.2).

This file assembles the network (:class:`MultiScaleEncoder`, one of the
``K`` multi-scale encoders, and :class:`CrossViT`) from the paper's bricks in
:mod:`mmcrossformer.models.layers`:

* :class:`~mmcrossformer.models.layers.CrossViTPatchEmbed` -- linear patch
  embedding, or the three convolutions of the dagger (``†``) models
  (Sec. 4.1, Table 1).
* :func:`~mmcrossformer.models.layers.resize_pos_embed` -- position
  embeddings on another token grid.
* :class:`~mmcrossformer.models.layers.TransformerLayer` -- a pre-norm ViT
  layer (MSA + FFN).
* :class:`~mmcrossformer.models.layers.CrossAttention` -- multi-head
  cross-attention (MCA, Eq. 6) with the CLS token as the only query.
* :class:`~mmcrossformer.models.layers.CrossAttentionFusion` -- Eq. 5-7 for
  one branch: projection ``f``, MCA with residual and no FFN,
  back-projection ``g``.

Tokens are ``(B, 1 + h * w, C)`` sequences, the CLS token first.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList

from mmcrossformer.registry import MODELS

from ..layers import (
    CrossAttentionFusion,
    CrossViTPatchEmbed,
    TokenWindows,
    TransformerLayer,
    resize_pos_embed,
)
from ..layers.shapes import check_heads
from ..utils.arch_zoo import CROSSVIT_ARCH_ZOO
from ..utils.layer_depth import crossvit_layer_depth
from .base_backbone import ArchBackbone
from .crossvit_dense import (
    CrossViTDenseMixin,
    attention_key_masks,
    check_dense_settings,
    check_window_settings,
)


class MultiScaleEncoder(BaseModule):
    """One multi-scale transformer encoder (Fig. 2).

    Branch b runs ``depths[b]``
    :class:`~mmcrossformer.models.layers.TransformerLayer` s on its own
    tokens; then every branch i fuses branch ``j = (i + 1) % n`` into its CLS
    token with a :class:`~mmcrossformer.models.layers.CrossAttentionFusion`
    (the official ``MultiScaleBlock``). All fusions read the layer
    outputs, not each other's results.

    Args:
        embed_dims (Sequence[int]): Width per branch.
        depths (Sequence[int]): Layers per branch (N, M in Table 1).
        num_heads (Sequence[int]): Heads per branch.
        mlp_ratios (Sequence[float]): FFN ratio per branch.
        drop_path_rates (Sequence[float]): ``max(depths)`` rates: layer ``l``
            of every branch uses entry ``l``, the fusions the last entry (as
            the official schedule).
        with_cp (bool): Gradient checkpointing per layer and fusion while
            training. Defaults to False.
        with_fusion (bool): Build and run the fusions. An encoder whose CLS
            tokens nothing reads (the last one when the backbone returns
            feature maps) has none: the fusions change only CLS tokens.
            Defaults to True.
        layer_cfg (dict): Further arguments of the layers and fusions
            (``qkv_bias``, ``drop_rate``, ``attn_drop_rate``, ``act_cfg``,
            ``norm_cfg``).
        window_layers (Sequence[Sequence[bool]], optional): Per branch and
            layer, whether the layer attends in windows when the forward
            gets ``windows`` (dense mode, ``dense_window_size``). None: all
            layers global. Defaults to None.
    """

    def __init__(self,
                 embed_dims: Sequence[int],
                 depths: Sequence[int],
                 num_heads: Sequence[int],
                 mlp_ratios: Sequence[float],
                 drop_path_rates: Sequence[float],
                 with_cp: bool = False,
                 with_fusion: bool = True,
                 layer_cfg: Optional[dict] = None,
                 window_layers: Optional[Sequence[Sequence[bool]]] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        layer_cfg = layer_cfg or {}
        n = len(embed_dims)
        self.with_cp = with_cp
        if window_layers is None:
            window_layers = [[False] * d for d in depths]
        self.window_layers = tuple(tuple(bool(w) for w in ws)
                                   for ws in window_layers)
        self.branches = ModuleList()
        for b in range(n):
            self.branches.append(
                ModuleList(
                    TransformerLayer(
                        embed_dims[b],
                        num_heads[b],
                        mlp_ratio=mlp_ratios[b],
                        drop_path_rate=drop_path_rates[i],
                        **layer_cfg) for i in range(depths[b])))
        self.fusions = ModuleList(
            CrossAttentionFusion(
                embed_dims[i],
                embed_dims[(i + 1) % n],
                num_heads[(i + 1) % n],
                drop_path_rate=drop_path_rates[-1],
                **layer_cfg) for i in range(n)) if with_fusion else None

    def _run(self, module, *args):
        if self.with_cp and self.training and args[0].requires_grad:
            return cp.checkpoint(module, *args, use_reentrant=False)
        return module(*args)

    def forward(
        self,
        xs: List[torch.Tensor],
        key_masks: Optional[Sequence[Optional[torch.Tensor]]] = None,
        windows: Optional[Sequence[TokenWindows]] = None
    ) -> List[torch.Tensor]:
        """Tokens (B, 1 + N_b, C_b) per branch -> same shapes.

        ``key_masks`` holds one (B, 1, 1, 1 + N_b) bool mask (or None) per
        branch: keys that are False (padding) are ignored by the layers of
        the branch and by the fusion that reads it. ``windows`` (dense
        mode) holds one :class:`~mmcrossformer.models.layers.TokenWindows`
        per branch, used by the layers that ``window_layers`` marks.
        """
        if key_masks is None:
            key_masks = [None] * len(xs)
        outs = []
        for b, (x, layers, mask) in enumerate(
                zip(xs, self.branches, key_masks)):
            for i, layer in enumerate(layers):
                if windows is not None and self.window_layers[b][i]:
                    x = self._run(layer, x, mask, windows[b])
                else:
                    x = self._run(layer, x, mask)
            outs.append(x)
        if self.fusions is None:
            return outs
        n = len(outs)
        return [
            self._run(fusion, outs[i], outs[(i + 1) % n],
                      key_masks[(i + 1) % n])
            for i, fusion in enumerate(self.fusions)
        ]


@MODELS.register_module()
class CrossViT(CrossViTDenseMixin, ArchBackbone):
    """CrossViT backbone: two ViT branches fused by cross-attention.

    The architectures of Table 1 (``K = 3``, ``N = 1``, ``L = 1``) are in
    :attr:`arch_zoo`, named as the official ``crossvit_<arch>_224`` models.
    Any input size works: each branch sees the image resized by its
    ``branch_img_sizes[b] / img_size`` (240/224 and 224/224 by default, as
    the official code), padded to its patch size; position embeddings are
    resized to the actual grid (CLS kept), also when a checkpoint of
    another grid is loaded. ``dense_strides`` switches to the dense
    geometry of :mod:`.crossvit_dense` (integer token strides, padding
    masks). The arch table, outputs and geometry in detail:
    docs/en/backbones.md, "CrossViT".

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` (case-insensitive) or a
            dict with the keys ``embed_dims``, ``depths``, ``num_heads`` and
            ``mlp_ratios`` (one entry per branch, at least two branches) and
            optionally ``patch_sizes`` (default (12, 16)), ``num_encoders``
            (K, default 3) and ``multi_conv`` (default False).
            Defaults to ``'15-dagger'``.
        img_size (int): The default input side. Defaults to 224.
        branch_img_sizes (Sequence[int]): Side at which each branch sees a
            default-sized image; also fixes the position-embedding grids
            ``branch_img_sizes[b] // patch_sizes[b]``. Defaults to (240, 224).
        in_channels (int): Image channels. Defaults to 3.
        qkv_bias (bool): Defaults to True.
        drop_rate (float): Dropout after the position embedding and the
            projections. Defaults to 0.
        attn_drop_rate (float): Attention dropout. Defaults to 0.
        drop_path_rate (float): Stochastic depth, increasing linearly over
            the ``K * max(depths)`` layer positions (the paper's recipe uses
            0.1). Defaults to 0.1.
        out_type (str): ``'cls_token'`` or ``'featmap'``. With
            ``'featmap'`` the last encoder has no cross-attention fusions
            (they would change only the CLS tokens, which no output reads);
            their entries in a classification checkpoint are dropped on
            load (logged). Defaults to ``'cls_token'``.
        out_indices (int | Sequence[int]): Encoders whose outputs are
            returned; negative indices count from the end. Defaults to -1.
        final_norm (bool): Apply the per-branch final norms to the last
            encoder's tokens. Defaults to True.
        interpolate_mode (str): Resampling of images and position embeddings.
            Defaults to ``'bicubic'``.
        frozen_stages (int): ResNet convention: -1 freezes nothing, 0 the
            stem (patch embeddings, CLS tokens, position embeddings), ``k``
            the stem and the first ``k`` encoders; ``K`` also the final
            norms. Frozen parts stay in eval mode. Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training;
            the default LNs have no running statistics, so this only matters
            with a BN ``norm_cfg``. Defaults to False.
        with_cp (bool): Gradient checkpointing of every layer and fusion
            while training. Defaults to False.
        norm_cfg (dict): Defaults to ``dict(type='LN', eps=1e-6)``.
        act_cfg (dict): Activation of FFNs and of ``f`` / ``g``.
            Defaults to ``dict(type='GELU')``.
        dense_strides (Sequence[int], optional): Dense mode: the stride in
            input pixels of each branch's tokens, e.g. ``(8, 16)`` (needs
            ``out_type='featmap'``; ``img_size`` and ``branch_img_sizes``
            then only fix the learned position grids). Defaults to None
            (the classification geometry).
        dense_pos_size (int): Dense mode: the input side in pixels that the
            position table spans (the learned table is resized to
            ``ceil(dense_pos_size / s_b)`` tokens per side; larger inputs
            repeat its last row / column). Set it to the largest padded
            training input, e.g. 1344 for 1333 x 800 COCO images, 512 for
            512-pixel crops. Defaults to 1024 (ViTDet's canvas).
        dense_window_size (int | Sequence[int], optional): Dense mode:
            window attention (ViTDet's recipe) with windows of this many
            tokens per side, one int for all branches or one per branch,
            anchored at the top-left token; the CLS token stays global.
            Not the pretrained computation. Defaults to None (global
            attention in every layer).
        dense_global_layers (Sequence[Sequence[int]], optional): With
            ``dense_window_size``: per branch, the layers that keep global
            attention, numbered over all encoders (branch b has
            ``num_encoders * depths[b]`` layers; negative indices count
            from the end), e.g. ``((), (4, 9, 14))`` for the last layer of
            each encoder of 15†'s large branch. Defaults to None (no global
            layer).
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint=PATH, prefix='backbone.')``. A Pretrained config with
            ``checkpoint=None`` trains from scratch (logged). Without it,
            Linear layers get trunc-normal(0.02) weights and zero biases,
            norms ones and zeros, CLS tokens and position embeddings
            trunc-normal(0.02).

    Raises:
        ValueError: On an unknown arch name (the message lists the valid
            ones), an inconsistent arch dict, out-of-range ``out_indices`` /
            ``frozen_stages``, an unknown ``out_type``,
            ``dense_strides`` without ``out_type='featmap'``, or window
            settings that are malformed or set without ``dense_strides``
            (:func:`~.crossvit_dense.check_window_settings`).

    Example:
        >>> import torch
        >>> from mmcrossformer.models import CrossViT
        >>> model = CrossViT(arch='9', out_type='featmap').eval()
        >>> (small, large), = model(torch.rand(1, 3, 224, 224))
        >>> tuple(small.shape), tuple(large.shape)
        ((1, 128, 20, 20), (1, 256, 14, 14))
        >>> dense = CrossViT(arch='9', out_type='featmap',
        ...                  dense_strides=(8, 16)).eval()
        >>> (small, large), = dense(torch.rand(1, 3, 224, 320))
        >>> tuple(small.shape), tuple(large.shape)
        ((1, 128, 28, 40), (1, 256, 14, 20))
    """
    #: the published variants (:mod:`..utils.arch_zoo`, where checkpoint
    #: conversion reads them too)
    arch_zoo: Dict[str, dict] = CROSSVIT_ARCH_ZOO
    arch_required_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios')
    arch_defaults = dict(
        patch_sizes=(12, 16), num_encoders=3, multi_conv=False)
    OUT_TYPES = ('cls_token', 'featmap')

    def __init__(self,
                 arch: Union[str, dict] = '15-dagger',
                 img_size: int = 224,
                 branch_img_sizes: Sequence[int] = (240, 224),
                 in_channels: int = 3,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_type: str = 'cls_token',
                 out_indices: Union[int, Sequence[int]] = -1,
                 final_norm: bool = True,
                 interpolate_mode: str = 'bicubic',
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 dense_strides: Optional[Sequence[int]] = None,
                 dense_pos_size: int = 1024,
                 dense_window_size: Union[None, int, Sequence[int]] = None,
                 dense_global_layers: Optional[Sequence[Sequence[int]]] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        arch = self._resolve_arch(arch)
        self.arch_settings = arch
        self.num_branches = n = len(arch['embed_dims'])
        self.num_encoders = arch['num_encoders']
        self.embed_dims = tuple(arch['embed_dims'])
        self.patch_sizes = tuple(arch['patch_sizes'])
        branch_img_sizes = tuple(int(s) for s in branch_img_sizes)
        if len(branch_img_sizes) != n or min(branch_img_sizes) < 1:
            raise ValueError(f'branch_img_sizes needs {n} positive sizes (one'
                             f' per branch), got {branch_img_sizes}')
        self.img_size = int(img_size)
        self.branch_img_sizes = branch_img_sizes
        self.pos_grids = tuple((s // p, s // p)
                               for s, p in zip(branch_img_sizes,
                                               self.patch_sizes))
        if min(min(g) for g in self.pos_grids) < 1:
            raise ValueError(f'branch_img_sizes {branch_img_sizes} are '
                             f'smaller than the patches {self.patch_sizes}')
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'out_type must be one of {self.OUT_TYPES}, '
                             f'got {out_type!r}')
        self.out_type = out_type
        self.dense_strides = check_dense_settings(
            dense_strides, dense_pos_size, out_type, n)
        self.dense_pos_size = int(dense_pos_size)
        depths = arch['depths']
        self.dense_window_sizes, global_layers = check_window_settings(
            dense_window_size, dense_global_layers, self.dense_strides,
            [self.num_encoders * d for d in depths])
        self.dense_global_layers = global_layers
        self.out_indices = self._normalize_indices(out_indices,
                                                   self.num_encoders,
                                                   'encoders')
        if not -1 <= frozen_stages <= self.num_encoders:
            raise ValueError(f'frozen_stages must be in [-1, '
                             f'{self.num_encoders}], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.final_norm = final_norm
        self.in_channels = in_channels
        self.interpolate_mode = interpolate_mode

        self.patch_embeds = ModuleList(
            CrossViTPatchEmbed(in_channels, dims, p, arch['multi_conv'])
            for dims, p in zip(self.embed_dims, self.patch_sizes))
        self.cls_tokens = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1, dims)) for dims in self.embed_dims)
        self.pos_embeds = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1 + g[0] * g[1], dims))
            for g, dims in zip(self.pos_grids, self.embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)

        span = max(arch['depths'])
        dpr = np.linspace(0, drop_path_rate,
                          self.num_encoders * span).tolist()
        layer_cfg = dict(
            qkv_bias=qkv_bias,
            drop_rate=drop_rate,
            attn_drop_rate=attn_drop_rate,
            act_cfg=act_cfg,
            norm_cfg=norm_cfg)
        self.encoders = ModuleList(
            MultiScaleEncoder(
                self.embed_dims,
                arch['depths'],
                arch['num_heads'],
                arch['mlp_ratios'],
                drop_path_rates=dpr[k * span:(k + 1) * span],
                with_cp=with_cp,
                # feature maps: the last fusions would only change CLS
                # tokens that nothing reads (no gradient, DDP stalls)
                with_fusion=(out_type == 'cls_token'
                             or k < self.num_encoders - 1),
                layer_cfg=layer_cfg,
                window_layers=None if global_layers is None else [[
                    k * d + i not in global_layers[b] for i in range(d)
                ] for b, d in enumerate(depths)])
            for k in range(self.num_encoders))
        self.norms = ModuleList(
            build_norm_layer(norm_cfg, dims)[1] for dims in self.embed_dims)
        self._freeze_stages()

    # ------------------------------------------------------------------
    # construction helpers
    @classmethod
    def _resolve_arch(cls, arch: Union[str, dict]) -> dict:
        arch = cls._lookup_arch(arch)
        n = len(arch['embed_dims'])
        if n < 2:
            raise ValueError(f'CrossViT needs at least two branches, got '
                             f'embed_dims={arch["embed_dims"]}')
        for key in ('depths', 'num_heads', 'mlp_ratios', 'patch_sizes'):
            arch[key] = tuple(arch[key])
            if len(arch[key]) != n:
                raise ValueError(f'{key} needs {n} entries (one per branch),'
                                 f' got {list(arch[key])}')
        arch['embed_dims'] = tuple(arch['embed_dims'])
        for key in ('depths', 'patch_sizes'):
            if any(int(v) != v or v < 1 for v in arch[key]):
                raise ValueError(f'{key} must be positive ints, got '
                                 f'{list(arch[key])}')
        k = arch['num_encoders']
        if int(k) != k or k < 1:
            raise ValueError(f'num_encoders must be a positive int, got {k}')
        for b, (dims, heads) in enumerate(
                zip(arch['embed_dims'], arch['num_heads'])):
            check_heads(dims, heads, f' of branch {b}')
        return arch

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embeds, self.drop_after_pos]
        frozen.extend(self.encoders[:self.frozen_stages])
        if self.frozen_stages == self.num_encoders and self.final_norm:
            frozen.append(self.norms)
        for param in [*self.cls_tokens, *self.pos_embeds]:
            param.requires_grad = False
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    # ------------------------------------------------------------------
    def _default_init(self):
        """Linear layers and norms as the base class; CLS tokens and
        position embeddings trunc-normal(0.02)."""
        super()._default_init()
        for param in [*self.cls_tokens, *self.pos_embeds]:
            nn.init.trunc_normal_(param, std=.02)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Resize position embeddings of another (square) grid on load, and
        drop the last encoder's fusions of a classification checkpoint in
        feature-map mode (this model has none, see ``out_type``)."""
        last = self.encoders[-1]
        if last.fusions is None:
            dead = f'{prefix}encoders.{self.num_encoders - 1}.fusions.'
            dropped = [k for k in state_dict if k.startswith(dead)]
            for key in dropped:
                del state_dict[key]
            if dropped:
                MMLogger.get_current_instance().info(
                    f'CrossViT: dropped {len(dropped)} checkpoint entries of '
                    f'{dead}* (feature-map mode has no last fusions)')
        for b, (grid, dims) in enumerate(zip(self.pos_grids,
                                             self.embed_dims)):
            key = f'{prefix}pos_embeds.{b}'
            value = state_dict.get(key)
            if value is None or value.dim() != 3 or value.shape[-1] != dims \
                    or value.shape[1] == 1 + grid[0] * grid[1]:
                continue
            side = math.isqrt(value.shape[1] - 1)
            if side * side != value.shape[1] - 1:
                continue  # not square: let the shape check report it
            state_dict[key] = resize_pos_embed(value, (side, side), grid,
                                               self.interpolate_mode)
            MMLogger.get_current_instance().info(
                f'CrossViT: resized {key} from a {side}x{side} grid to '
                f'{grid[0]}x{grid[1]}')
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer depth of a parameter for layer-wise learning-rate decay
        (mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` and
        ``mmcrossformer.LayerDecayOptimWrapperConstructor``).

        The stem is depth 0, layer ``l`` of encoder ``k`` depth
        ``k * D + l + 1`` (``D = max(depths)``, the stochastic-depth
        numbering), the encoder's fusions ``(k + 1) * D``, the final norms
        and everything outside ``prefix`` (neck, heads) the top depth; see
        :func:`~mmcrossformer.models.utils.layer_depth.crossvit_layer_depth`.

        Args:
            param_name (str): Name in the model, e.g.
                ``'backbone.encoders.1.branches.1.3.attn.qkv.weight'``.
            prefix (str): Prefix of the backbone's parameters.

        Returns:
            tuple[int, int]: (depth, number of depths).

        Raises:
            ValueError: If a name under ``prefix`` is not a CrossViT
                parameter.
        """
        return crossvit_layer_depth(param_name, self.num_encoders,
                                    self.arch_settings['depths'], prefix)

    # ------------------------------------------------------------------
    def branch_input_sizes(self, height: int,
                           width: int) -> List[Tuple[int, int]]:
        """Image size each branch embeds for an (height, width) input (in
        dense mode: the input padded to a multiple of the branch's stride
        s_b, then scaled by ``p_b / s_b``)."""
        if self.dense_strides is not None:
            return [(math.ceil(height / s) * p, math.ceil(width / s) * p)
                    for s, p in zip(self.dense_strides, self.patch_sizes)]
        sizes = []
        for s in self.branch_img_sizes:
            sizes.append((int(math.floor(height * s / self.img_size + 0.5)),
                          int(math.floor(width * s / self.img_size + 0.5))))
        return sizes

    def token_grids(self, height: int, width: int) -> List[Tuple[int, int]]:
        """Token grid (h_b, w_b) of each branch for an (height, width)
        input."""
        return [(math.ceil(h / p), math.ceil(w / p)) for (h, w), p in zip(
            self.branch_input_sizes(height, width), self.patch_sizes)]

    def _embed(self, x: torch.Tensor):
        batch = x.shape[0]
        tokens, grids = [], []
        sizes = self.branch_input_sizes(x.shape[2], x.shape[3])
        for b, (embed, size) in enumerate(zip(self.patch_embeds, sizes)):
            img = x
            if size != tuple(x.shape[2:]):
                img = F.interpolate(
                    x, size=size, mode=self.interpolate_mode,
                    align_corners=False)
            t, grid = embed(img)
            pos = resize_pos_embed(self.pos_embeds[b], self.pos_grids[b],
                                   grid, self.interpolate_mode)
            cls = self.cls_tokens[b].expand(batch, -1, -1)
            tokens.append(self.drop_after_pos(torch.cat([cls, t], 1) + pos))
            grids.append(grid)
        return tokens, grids

    def forward(
        self,
        x: torch.Tensor,
        valid_sizes: Optional[Sequence[Tuple[int, int]]] = None
    ) -> Tuple[Tuple[torch.Tensor, ...]]:
        """Outputs of the selected encoders.

        Args:
            x (Tensor): Images of shape (B, C_in, H, W).
            valid_sizes (Sequence[tuple[int, int]], optional): Dense mode
                only: the (h, w) in pixels of each image inside the padded
                batch (top-left aligned, as mmdet / mmseg pad). Padded
                tokens are masked out of every attention and set to zero in
                the outputs. None reads them from ``x`` when a
                ``ValidSize*DataPreprocessor`` attached them
                (:func:`~mmcrossformer.models.utils.valid_sizes.
                get_valid_sizes`), else the whole canvas is valid.

        Returns:
            tuple[tuple[Tensor]]: One entry per index of ``out_indices``,
            each with one tensor per branch: (B, C_b) CLS tokens for
            ``out_type='cls_token'``, (B, C_b, h_b, w_b) maps for
            ``'featmap'`` (see :meth:`token_grids`).

        Raises:
            ValueError: If ``x`` is not 4-D with ``in_channels`` channels, or
                ``valid_sizes`` do not fit it.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'CrossViT expects images of shape (B, {self.in_channels}, '
                f'H, W), got {tuple(x.shape)}')
        masks = None
        if self.dense_strides is not None:
            xs, grids, masks = self._embed_dense(
                x, self._check_valid_sizes(x, valid_sizes))
            key_masks = attention_key_masks(masks)
            windows = self.dense_windows(grids, masks, x.shape[0], x.device)
        else:
            xs, grids = self._embed(x)
            key_masks = windows = None
        outs = []
        for k, encoder in enumerate(self.encoders):
            xs = encoder(xs, key_masks, windows)
            if k == self.num_encoders - 1 and self.final_norm:
                xs = [norm(t) for norm, t in zip(self.norms, xs)]
            if k in self.out_indices:
                outs.append(self._format_output(xs, grids, masks))
        return tuple(outs)

    def _format_output(self, xs, grids, masks=None) -> Tuple[torch.Tensor,
                                                             ...]:
        if self.out_type == 'cls_token':
            return tuple(t[:, 0] for t in xs)
        maps = []
        for b, (t, (h, w)) in enumerate(zip(xs, grids)):
            batch, _, c = t.shape
            patches = t[:, 1:]
            if masks is not None and masks[b] is not None:
                patches = patches * masks[b][..., None].to(patches.dtype)
            maps.append(patches.reshape(batch, h, w, c).permute(
                0, 3, 1, 2).contiguous())
        return tuple(maps)
