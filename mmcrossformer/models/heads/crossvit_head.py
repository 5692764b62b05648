"""Classifier head of CrossViT for mmpretrain.

This module imports mmpretrain (which imports mmdet), so the package does
not import it eagerly: ``mmcrossformer.CrossViTClsHead`` in a config is a
registered builder that imports this module when the head is built.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead


class CrossViTClsHead(ClsHead):
    """One linear classifier per CrossViT branch; the logits are averaged.

    CrossViT (Sec. 3.2) classifies from the CLS token of each branch, each
    with its own head, and predicts the mean of the branches' logits. The
    loss is applied to that mean, as in the official training code.

    Input: the backbone output with ``out_type='cls_token'``; its last entry
    holds one (B, C_b) CLS token per branch. Output: (B, num_classes).

    Args:
        num_classes (int): Number of classes.
        in_channels (Sequence[int]): CLS width per branch, e.g. (192, 384).
        dropout_rate (float): Dropout on the CLS tokens before the
            classifiers. Defaults to 0.
        init_cfg (dict, optional): Defaults to trunc-normal(0.02) weights
            and zero biases for the classifiers.
        **kwargs: ``loss``, ``topk``, ``cal_acc`` of mmpretrain's
            ``ClsHead``.

    Raises:
        ValueError: If ``num_classes`` is not positive or ``in_channels`` is
            empty.

    Example:
        >>> import torch
        >>> head = CrossViTClsHead(num_classes=10, in_channels=(96, 192))
        >>> feats = ((torch.rand(2, 96), torch.rand(2, 192)), )
        >>> tuple(head(feats).shape)
        (2, 10)
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int],
                 dropout_rate: float = 0.,
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='Linear', std=.02, bias=0.),
                 **kwargs):
        super().__init__(init_cfg=init_cfg, **kwargs)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be positive')
        in_channels = [int(c) for c in in_channels]
        if not in_channels:
            raise ValueError('in_channels needs one entry per branch')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.dropout = nn.Dropout(dropout_rate)
        self.fcs = nn.ModuleList(
            nn.Linear(c, num_classes) for c in in_channels)

    def pre_logits(self, feats) -> Tuple[torch.Tensor, ...]:
        """The branches' CLS tokens of the last backbone output."""
        tokens = feats[-1]
        if isinstance(tokens, torch.Tensor) or \
                len(tokens) != len(self.fcs):
            raise ValueError(
                f'CrossViTClsHead expects the last backbone output to hold '
                f'{len(self.fcs)} CLS tokens (one per branch, out_type='
                f"'cls_token'), got {type(tokens).__name__}")
        return tuple(tokens)

    def forward(self, feats) -> torch.Tensor:
        """Mean of the per-branch logits, (B, num_classes)."""
        tokens = self.pre_logits(feats)
        logits = [fc(self.dropout(t)) for fc, t in zip(self.fcs, tokens)]
        return torch.stack(logits).mean(0)
