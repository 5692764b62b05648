"""CrossViT's patch embedding (paper Sec. 3.2; the dagger models' three
convolutions, Sec. 4.1 and Table 1).

Source: CrossViT (Chen, Fan and Panda, ICCV 2021,
https://arxiv.org/abs/2103.14899); official code
https://github.com/IBM/CrossViT, ``models/crossvit.py`` (``PatchEmbed``).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from .shapes import pad_feature_map


class CrossViTPatchEmbed(BaseModule):
    """Patch embedding of one CrossViT branch.

    * Linear (``multi_conv=False``, Sec. 3.2): one ``p x p`` convolution of
      stride ``p``, i.e. a linear map of each flattened patch, as ViT.
    * Three convolutions (``multi_conv=True``, the dagger models of
      Table 1): a 7x7 stride-4 convolution, then two 3x3 convolutions with
      ReLUs in between, of strides (3, 1) for ``p = 12`` and (2, 2) for
      ``p = 16``; widths ``C / 4``, ``C / 2``, ``C`` (the official
      ``PatchEmbed(multi_conv=True)``).

    The image is zero-padded at the bottom / right to a multiple of ``p``,
    so an (H, W) input gives a ``(ceil(H / p), ceil(W / p))`` token grid
    with either embedding.

    State-dict keys: ``projection.weight`` / ``projection.bias`` (linear),
    ``projection.{0,2,4}.{weight,bias}`` (three convolutions).

    Args:
        in_channels (int): Image channels C_in.
        embed_dims (int): Token width C.
        patch_size (int): Patch side p in pixels.
        multi_conv (bool): Use the three-convolution embedding; defined for
            ``p`` 12 and 16 only. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    Raises:
        ValueError: For ``multi_conv`` with another patch size.

    Example:
        >>> import torch
        >>> embed = CrossViTPatchEmbed(3, 64, 16)
        >>> tokens, grid = embed(torch.rand(2, 3, 40, 64))
        >>> tuple(tokens.shape), grid
        ((2, 12, 64), (3, 4))
    """

    # strides / paddings of the 2nd and 3rd convolution, per patch size
    _MULTI_CONV = {12: ((3, 0), (1, 1)), 16: ((2, 1), (2, 1))}

    def __init__(self,
                 in_channels: int,
                 embed_dims: int,
                 patch_size: int,
                 multi_conv: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.patch_size = patch_size
        self.multi_conv = multi_conv
        if not multi_conv:
            self.projection = nn.Conv2d(
                in_channels, embed_dims, patch_size, stride=patch_size)
            return
        if patch_size not in self._MULTI_CONV:
            raise ValueError(
                f'The three-convolution patch embedding is defined for '
                f'patch sizes {sorted(self._MULTI_CONV)}, got {patch_size}')
        (s2, p2), (s3, p3) = self._MULTI_CONV[patch_size]
        self.projection = nn.Sequential(
            nn.Conv2d(in_channels, embed_dims // 4, 7, stride=4, padding=3),
            nn.ReLU(inplace=True),
            nn.Conv2d(embed_dims // 4, embed_dims // 2, 3, s2, p2),
            nn.ReLU(inplace=True),
            nn.Conv2d(embed_dims // 2, embed_dims, 3, s3, p3))

    def forward(self,
                x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Embed images into patch tokens.

        Args:
            x (Tensor): Images of shape (B, C_in, H, W).

        Returns:
            tuple[Tensor, tuple[int, int]]: Tokens (B, h * w, C), row-major,
            and the grid (h, w) = (ceil(H / p), ceil(W / p)).
        """
        x = self.projection(pad_feature_map(x, self.patch_size))
        grid = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), grid
