"""A timm model as a backbone, for reference measurements.

mmpretrain's ``TIMMBackbone`` removes the classifier with
``reset_classifier(0, '')``, which timm's CrossViT rejects (it pools only
with ``'token'`` or ``'avg'``). :class:`TimmModel` keeps the model whole, so
that ``configs/reference/timm_crossvit_15_240_in1k.py`` can time timm's
CrossViT next to ours with ``tools/analysis_tools/benchmark.py``.
"""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule

from mmcrossformer.registry import MODELS


@MODELS.register_module()
class TimmModel(BaseModule):
    """``timm.create_model(model_name, **kwargs)`` returning ``(output, )``.

    Args:
        model_name (str): A timm model name, e.g. ``'crossvit_15_240'``.
        pretrained (bool): Load timm's weights (needs a download).
            Defaults to False.
        **kwargs: Passed to ``timm.create_model``.

    Raises:
        ImportError: Without timm installed.
        RuntimeError: On a name timm does not know (timm's message).
    """

    def __init__(self,
                 model_name: str,
                 pretrained: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(init_cfg=init_cfg)
        try:
            import timm
        except ImportError as e:
            raise ImportError('TimmModel needs timm: pip install timm') from e
        self.model_name = model_name
        self.timm_model = timm.create_model(
            model_name, pretrained=pretrained, **kwargs)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """(B, 3, H, W) -> the timm model's output, in a tuple."""
        return (self.timm_model(x), )
