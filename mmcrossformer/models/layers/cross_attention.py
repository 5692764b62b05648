"""CrossViT's cross-attention and cross-attention fusion.

Source: CrossViT (Chen, Fan and Panda, ICCV 2021,
https://arxiv.org/abs/2103.14899), Sec. 3.3, Eq. 5-7; official code
https://github.com/IBM/CrossViT, ``models/crossvit.py`` (``CrossAttention``;
``MultiScaleBlock``'s ``projs``, ``fusion`` and ``revert_projs``).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks.drop import DropPath
from mmengine.model import BaseModule

from .attention import HeadsAttentionBase
from .onednn_linear import linear


class CrossAttention(HeadsAttentionBase):
    """Multi-head cross-attention (MCA) with the first token as the only
    query.

    Eq. 6, per head: ``q = x_cls W_q``, ``k = x W_k``, ``v = x W_v``,
    ``A = softmax(q k^T / sqrt(C / h))``, ``CA(x) = A v``; then an output
    projection. State-dict keys: ``q``, ``k``, ``v``, ``proj`` (each
    C -> C; the official ``wq``, ``wk``, ``wv``, ``proj``).

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Heads h.
        qkv_bias (bool): Bias in ``W_q``, ``W_k``, ``W_v``. Defaults to True.
        attn_drop (float): Dropout on the attention weights (training only).
            Defaults to 0.
        proj_drop (float): Dropout after the output projection.
            Defaults to 0.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    Raises:
        ValueError: If ``num_heads`` does not divide ``embed_dims``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[dict] = None):
        super().__init__(embed_dims, num_heads, attn_drop, init_cfg)
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.k = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.v = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self,
                x: torch.Tensor,
                key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attend the first token to all (unmasked) tokens.

        Args:
            x (Tensor): Tokens of shape (B, N, C), the query token first.
            key_mask (Tensor, optional): Bool mask of shape (B, 1, 1, N),
                False for keys to ignore. None attends to all keys.
                Defaults to None.

        Returns:
            Tensor: The attended first token, shape (B, 1, C).
        """
        b, n, c = x.shape
        heads, d = self.num_heads, c // self.num_heads
        q = self.q(x[:, :1]).view(b, 1, heads, d).transpose(1, 2)
        k = linear(x, self.k).view(b, n, heads, d).transpose(1, 2)
        v = linear(x, self.v).view(b, n, heads, d).transpose(1, 2)
        return self.attend(q, k, v, key_mask)


class CrossAttentionFusion(BaseModule):
    """Cross-attention fusion of one branch i with another branch j.

    Sec. 3.3, Eq. 5-7, with ``f`` and ``g`` each LN -> activation ->
    Linear::

        c   = f(x_i[cls])                              # C_i -> C_j
        x'  = c || x_j[patches]                        # Eq. 5
        y   = c + DropPath(MCA(LN(x')))                # Eq. 6-7, no FFN
        z_i = g(y) || x_i[patches]                     # C_j -> C_i

    The projected CLS token is the only query; it attends to branch j's
    patch tokens and to itself (the official code keeps it among the keys).
    State-dict keys: ``project`` (f), ``ln``, ``attn``
    (:class:`CrossAttention` of width C_j), ``back_project`` (g).

    Args:
        embed_dims (int): Width C_i of branch i.
        other_dims (int): Width C_j of branch j.
        num_heads (int): Heads of the attention (the official code uses
            branch j's).
        qkv_bias (bool): Bias in ``W_q``, ``W_k``, ``W_v``. Defaults to True.
        drop_rate (float): Dropout after the attention output projection.
            Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic-depth rate of the attention
            residual. Defaults to 0.
        act_cfg (dict): Activation of ``f`` and ``g``.
            Defaults to ``dict(type='GELU')``.
        norm_cfg (dict): Norm config. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    Raises:
        ValueError: If ``num_heads`` does not divide ``other_dims``.
    """

    def __init__(self,
                 embed_dims: int,
                 other_dims: int,
                 num_heads: int,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)

        def projection(in_dims, out_dims):
            return nn.Sequential(
                build_norm_layer(norm_cfg, in_dims)[1],
                build_activation_layer(act_cfg),
                nn.Linear(in_dims, out_dims))

        self.project = projection(embed_dims, other_dims)  # f
        self.ln = build_norm_layer(norm_cfg, other_dims)[1]
        self.attn = CrossAttention(
            other_dims,
            num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate)
        self.drop_path = DropPath(
            drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.back_project = projection(other_dims, embed_dims)  # g

    def forward(self,
                x: torch.Tensor,
                other: torch.Tensor,
                other_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Fuse branch j's tokens into branch i's CLS token.

        Args:
            x (Tensor): Branch i's tokens, (B, 1 + N_i, C_i), CLS first.
            other (Tensor): Branch j's tokens, (B, 1 + N_j, C_j), CLS first.
            other_mask (Tensor, optional): Branch j's key mask
                (B, 1, 1, 1 + N_j) bool, False for padded tokens; its first
                entry (branch j's CLS slot, taken by the projected CLS
                token) must be True. None attends to all. Defaults to None.

        Returns:
            Tensor: Shape (B, 1 + N_i, C_i); only the CLS token changes.
        """
        cls = self.project(x[:, :1])
        seq = torch.cat([cls, other[:, 1:]], dim=1)
        cls = cls + self.drop_path(self.attn(self.ln(seq), other_mask))
        return torch.cat([self.back_project(cls), x[:, 1:]], dim=1)
