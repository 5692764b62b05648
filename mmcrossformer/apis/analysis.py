"""The CrossFormer++ paper's two analyses, as functions for the tools.

* :func:`block_amplitudes` -- the maximum absolute output of every block
  (CrossFormer++ Sec. 3.4, Fig. 5: amplitudes grow with depth, the motivation
  for ACL).
* :func:`attention_regions` -- the batch- and head-averaged attention map of
  one query token in chosen blocks (CrossFormer++ Sec. 3.3: attention regions
  grow with depth, the motivation for PGS).

``tools/analysis_tools/amplitude.py`` and ``attention_regions.py`` wrap them;
:func:`load_backbone` builds the backbone they analyse from a config.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from mmcrossformer.models.backbones.crossformer import (
    CrossFormer,
    CrossFormerBlock,
)

from .inference import build_model

__all__ = [
    'load_backbone', 'load_image', 'block_amplitudes', 'attention_regions',
    'region_size'
]

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def load_backbone(config: str,
                  checkpoint: Optional[str] = None,
                  cfg_options: Optional[dict] = None,
                  **overrides) -> Tuple[CrossFormer, dict]:
    """The CrossFormer backbone of ``config`` in eval mode.

    The config's model is built by :func:`mmcrossformer.apis.build_model`
    (without pretrained weights); its backbone is initialised by its
    ``init_weights`` and, with ``checkpoint``, loaded.

    Args:
        config (str): Any mmcrossformer config with a CrossFormer backbone.
        checkpoint (str, optional): A local checkpoint of that config (keys
            ``backbone.*``), a bare backbone state dict or an official file
            as released (read as data, see
            :mod:`mmcrossformer.utils.checkpoint`). Loaded strictly,
            except that keys the overridden model lacks (or has extra, e.g.
            ACL layers toggled by ``use_acl``) are skipped.
        cfg_options (dict, optional): Config overrides (dotted keys, as
            ``--cfg-options`` gives them), merged before ``overrides``.
            Defaults to None.
        **overrides: Backbone arguments to change, e.g. ``use_acl=False``.

    Returns:
        tuple: The backbone and the normalisation dict (mean, std, to_rgb).

    Raises:
        ValueError: If the config's backbone is not a CrossFormer, or the
            checkpoint does not fit it (without ``overrides``).
    """
    options = dict(cfg_options or {})
    options.update({f'model.backbone.{k}': v for k, v in overrides.items()})
    built = build_model(config, options)
    model = getattr(built, 'backbone', None)
    if not isinstance(model, CrossFormer):
        raise ValueError(f'{config} has no CrossFormer backbone')
    model.init_weights()
    if checkpoint:
        from mmengine.runner.checkpoint import CheckpointLoader

        from mmcrossformer.models.utils.ckpt_convert import unwrap_state_dict
        from mmcrossformer.models.utils.ckpt_load import backbone_state
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        prefix = 'backbone.' if any(
            k.startswith('backbone.')
            for k in unwrap_state_dict(ckpt)[0]) else None
        state = backbone_state(ckpt, model, checkpoint, prefix)
        if overrides:
            own = model.state_dict()
            state = {k: v for k, v in state.items()
                     if k in own and v.shape == own[k].shape}
            model.load_state_dict(state, strict=False)
        else:
            from mmcrossformer.utils.state_dict import load_state_dict_strict
            load_state_dict_strict(model, state, checkpoint)
    pre = built.cfg.model.get('data_preprocessor') or {}
    norm = dict(
        mean=tuple(pre.get('mean', IMAGENET_MEAN)),
        std=tuple(pre.get('std', IMAGENET_STD)),
        to_rgb=bool(pre.get('to_rgb', pre.get('bgr_to_rgb', True))))
    return model.eval(), norm


def load_image(path: str, size: Sequence[int], norm: dict) -> torch.Tensor:
    """Read ``path``, resize to ``size`` = (H, W), normalise: (1, 3, H, W).

    Raises:
        FileNotFoundError: If the image cannot be read.
    """
    import mmcv
    img = mmcv.imread(path)  # BGR, HWC
    if img is None:
        raise FileNotFoundError(f'cannot read image {path}')
    img = mmcv.imresize(img, (size[1], size[0]))
    if norm['to_rgb']:
        img = img[..., ::-1]
    img = (img.astype(np.float32) - norm['mean']) / norm['std']
    return torch.from_numpy(img.transpose(2, 0, 1).copy())[None].float()


@torch.no_grad()
def block_amplitudes(model: CrossFormer,
                     img: torch.Tensor) -> List[Tuple[int, int, float]]:
    """``(stage, block, max |output|)`` of every block, in order.

    The output of a block is taken after its ACL when it has one, i.e. what
    the next block receives.
    """
    records: List[Tuple[int, int, float]] = []
    handles = []
    for s, stage in enumerate(model.stages):
        for b, block in enumerate(stage.blocks):
            handles.append(
                block.register_forward_hook(
                    lambda m, i, o, s=s, b=b: records.append(
                        (s, b, float(o.abs().max())))))
    try:
        model(img)
    finally:
        for h in handles:
            h.remove()
    return records


@torch.no_grad()
def attention_regions(
        model: CrossFormer,
        img: torch.Tensor,
        blocks: Optional[Sequence[Tuple[int, int]]] = None,
        query: Optional[Tuple[float, float]] = None
) -> Dict[Tuple[int, int], np.ndarray]:
    """Attention map of one query token, averaged over batch and heads.

    Args:
        model (CrossFormer): The backbone.
        img (Tensor): (B, 3, H, W) normalised images.
        blocks (list[tuple[int, int]], optional): ``(stage, block)`` pairs;
            by default the last SDA and the last LDA block of every stage.
        query (tuple[float, float], optional): Query position as fractions
            (y, x) of the map; default the centre (0.5, 0.5).

    Returns:
        dict: ``(stage, block) -> (h, w)`` array on the block's token grid,
        the query's attention weight on every token (zero outside its
        group); it sums to 1.
    """
    if blocks is None:
        blocks = []
        for s, stage in enumerate(model.stages):
            for mode in ('sda', 'lda'):
                found = [b for b, blk in enumerate(stage.blocks)
                         if blk.attn.mode == mode]
                if found:
                    blocks.append((s, found[-1]))
    fy, fx = query or (0.5, 0.5)
    inputs: Dict[Tuple[int, int], torch.Tensor] = {}
    handles = []
    for s, b in blocks:
        block: CrossFormerBlock = model.stages[s].blocks[b]
        handles.append(
            block.attn.register_forward_pre_hook(
                lambda m, args, key=(s, b): inputs.__setitem__(key, args[0])))
    try:
        model(img)
    finally:
        for h in handles:
            h.remove()
    maps = {}
    for (s, b), x in inputs.items():
        attn = model.stages[s].blocks[b].attn
        _, h, w, _ = x.shape
        weights = attn.attention_weights(x).mean(dim=(0, 2))  # G, N, N
        groups = attn.token_groups(h, w)
        qy, qx = min(int(fy * h), h - 1), min(int(fx * w), w - 1)
        g, p = groups[:, qy, qx].tolist()
        row = weights[g, p]  # (N,)
        heat = torch.where(groups[0] == g, row[groups[1]],
                           torch.zeros(()))
        maps[(s, b)] = heat.numpy()
    return maps


def region_size(heat: np.ndarray, mass: float = 0.9) -> int:
    """Number of tokens that hold ``mass`` of the attention (largest
    first): a scalar size of the attended region."""
    values = np.sort(heat.ravel())[::-1]
    return int(np.searchsorted(np.cumsum(values), mass * values.sum()) + 1)
