"""Amplitude cooling layer (ACL, CrossFormer++ Sec. 3.4).

Official code: https://github.com/cheerss/CrossFormer
(``models/crossformer.py``, ``models/crossformer_backbone_det.py``; the
``ex_conv`` / ``ex_ln`` layers of a block).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule


class AmplitudeCoolingLayer(BaseModule):
    """Amplitude cooling layer (ACL, CrossFormer++ Sec. 3.4).

    ``y = Norm(DWConv(x))``: a depth-wise convolution (3 x 3 by default,
    zero-padded to keep the size) followed by a norm, with no residual
    connection; it damps the growth of activations along the residual
    stream. Official names: ``ex_conv``, ``ex_ln``.

    Args:
        embed_dims (int): Channels C.
        kernel_size (int): Depth-wise kernel size (odd). Defaults to 3.
        norm_cfg (dict): Norm config. Defaults to LN.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
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
        """Cool tokens (B, H, W, C) into tokens of the same shape."""
        x = self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.norm(x)
