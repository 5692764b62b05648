"""Multi-head self-attention and the pre-norm ViT encoder layer.

CrossViT's branches are ViT encoders (CrossViT paper, Sec. 3.1:
``x + MSA(LN(x))``, then ``x + FFN(LN(x))``); the official code
(https://github.com/IBM/CrossViT, ``models/crossvit.py``) builds them from
timm's ``vision_transformer.Block``.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import DropPath
from mmengine.model import BaseModule

from .fused_ffn import build_ffn, ffn_forward
from .onednn_linear import linear
from .shapes import check_heads
from .window_attention import TokenWindows, windowed_self_attention


class HeadsAttentionBase(BaseModule):
    """What multi-head self- and cross-attention share: the head count, the
    attention dropout and :meth:`attend` (SDPA, merge heads, output
    projection ``self.proj`` and dropout ``self.proj_drop``, which the
    subclass creates after its q/k/v projections).

    Raises:
        ValueError: If ``num_heads`` does not divide ``embed_dims``.
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float,
                 init_cfg: Optional[dict]):
        super().__init__(init_cfg=init_cfg)
        check_heads(embed_dims, num_heads)
        self.num_heads = num_heads
        self.attn_drop = attn_drop

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               key_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """q (B, h, Nq, d), k / v (B, h, N, d), key_mask (B, 1, 1, N) bool
        or None -> projected output (B, Nq, h * d)."""
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=key_mask,
            dropout_p=self.attn_drop if self.training else 0.)
        b, heads, nq, d = out.shape
        out = out.transpose(1, 2).reshape(b, nq, heads * d)
        return self.proj_drop(linear(out, self.proj))


class MultiheadSelfAttention(HeadsAttentionBase):
    """Multi-head self-attention over all tokens (or in windows).

    Per head, ``softmax(q k^T / sqrt(C / h)) v`` with q, k, v from one fused
    projection, then an output projection; given ``windows``, patch tokens
    attend inside their window (same parameters,
    :func:`~.window_attention.windowed_self_attention`). State-dict keys:
    ``qkv``
    (C -> 3C, output channels ordered q, k, v, head-major within each) and
    ``proj`` (C -> C).

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Heads h; ``C / h`` channels each.
        qkv_bias (bool): Bias in the fused q/k/v projection.
            Defaults to True.
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
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self,
                x: torch.Tensor,
                key_mask: Optional[torch.Tensor] = None,
                windows: Optional[TokenWindows] = None) -> torch.Tensor:
        """Attend every token to every (unmasked) token, or in windows.

        Args:
            x (Tensor): Tokens of shape (B, N, C); with ``windows``, the CLS
                token first and then the h x w grid row-major
                (N = 1 + h * w).
            key_mask (Tensor, optional): Bool mask of shape (B, 1, 1, N),
                False for keys that no query may attend to (padding). None
                attends to all keys. Defaults to None.
            windows (TokenWindows, optional): Window attention for the
                patch tokens (:func:`~.window_attention.token_windows`);
                the CLS token still attends to all tokens ``key_mask``
                allows. None: global attention. Defaults to None.

        Returns:
            Tensor: Shape (B, N, C).
        """
        if windows is not None:
            out = windowed_self_attention(
                linear(x, self.qkv), windows, key_mask, self.num_heads,
                self.attn_drop if self.training else 0.)
            return self.proj_drop(linear(out, self.proj))
        b, n, c = x.shape
        qkv = linear(x, self.qkv).view(b, n, 3, self.num_heads,
                                        c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        return self.attend(q, k, v, key_mask)


class TransformerLayer(BaseModule):
    """Pre-norm ViT encoder layer.

    ``x = x + DropPath(MSA(LN(x)))``, then ``x = x + DropPath(FFN(LN(x)))``
    (CrossViT paper, Sec. 3.1), with a two-layer FFN of hidden width
    ``mlp_ratio * C``. State-dict keys: ``ln1``, ``attn``
    (:class:`MultiheadSelfAttention`), ``ln2`` and ``ffn`` (mmcv's
    :class:`~mmcv.cnn.bricks.transformer.FFN`, see
    :func:`~mmcrossformer.models.layers.build_ffn`).

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Attention heads h.
        mlp_ratio (float): FFN hidden width / C (r in the CrossViT paper,
            Table 1). Defaults to 4.
        qkv_bias (bool): Bias in the q/k/v projection. Defaults to True.
        drop_rate (float): Dropout after the attention output projection
            and in the FFN. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic-depth rate of both residual
            branches. Defaults to 0.
        act_cfg (dict): FFN activation. Defaults to ``dict(type='GELU')``.
        norm_cfg (dict): Norm config. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    Raises:
        ValueError: If ``num_heads`` does not divide ``embed_dims``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.ln1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = MultiheadSelfAttention(
            embed_dims,
            num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate)
        self.drop_path = DropPath(
            drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.ln2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = build_ffn(embed_dims, mlp_ratio, drop_rate, drop_path_rate,
                             act_cfg)

    def forward(self,
                x: torch.Tensor,
                key_mask: Optional[torch.Tensor] = None,
                windows: Optional[TokenWindows] = None) -> torch.Tensor:
        """Run the layer.

        Args:
            x (Tensor): Tokens of shape (B, N, C).
            key_mask (Tensor, optional): (B, 1, 1, N) bool, False for padded
                keys, as :meth:`MultiheadSelfAttention.forward`.
                Defaults to None.
            windows (TokenWindows, optional): Window attention, as
                :meth:`MultiheadSelfAttention.forward`. Defaults to None
                (global attention).

        Returns:
            Tensor: Shape (B, N, C).
        """
        x = x + self.drop_path(self.attn(self.ln1(x), key_mask, windows))
        return ffn_forward(self.ffn, self.ln2(x), identity=x)
