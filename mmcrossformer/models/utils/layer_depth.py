"""Layer depths of backbone parameters for layer-wise learning-rate decay.

mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` asks the model for
``get_layer_depth(param_name) -> (depth, num_layers)`` and scales each
parameter's learning rate by ``layer_decay_rate ** (num_layers - depth -
1)``. The convention (mmpretrain's ViT and Swin backbones): depth 0 is the
stem, the transformer blocks follow in the order they run, and
``num_layers - 1`` is everything after the backbone (neck, heads, final
norms), which keeps the base learning rate.

The rules live here as plain functions of the architecture numbers, so that a
backbone's ``get_layer_depth`` method is one line and the rules can be tested
without building a model.
"""
from functools import partial
from typing import Callable, Sequence, Tuple

import torch.nn as nn

#: ``param_name -> (depth, num_layers)``
LayerDepthFn = Callable[[str], Tuple[int, int]]


def _split(param_name: str, prefix: str):
    """The name without ``prefix`` split at dots, or None when the name does
    not start with ``prefix`` (a parameter outside the backbone)."""
    if not isinstance(param_name, str):
        raise TypeError(f'param_name must be a str, got {param_name!r}')
    if not param_name.startswith(prefix):
        return None
    return param_name[len(prefix):].split('.')


def _index(parts, pos: int, count: int, what: str, param_name: str) -> int:
    """``int(parts[pos])`` checked against ``[0, count)``."""
    try:
        index = int(parts[pos])
    except (IndexError, ValueError):
        raise ValueError(f'{param_name!r}: expected a {what} index at '
                         f'position {pos} of the dotted name') from None
    if not 0 <= index < count:
        raise ValueError(f'{param_name!r}: {what} index {index} is out of '
                         f'range (the backbone has {count})')
    return index


def crossformer_layer_depth(param_name: str,
                            depths: Sequence[int],
                            prefix: str = '') -> Tuple[int, int]:
    """Layer depth of a :class:`~mmcrossformer.models.CrossFormer` parameter.

    With ``L = sum(depths)`` blocks there are ``L + 2`` depths:

    * 0: the stem (``patch_embed``, CEL);
    * ``sum(depths[:i]) + j + 1``: block ``j`` of stage ``i``
      (``stages.i.blocks.j``, its DPB and ACL included);
    * ``sum(depths[:i])``: the CEL patch merging at the start of stage ``i``
      (``stages.i.downsample``), i.e. the depth of the block before it (the
      rule mmpretrain's Swin applies to its merging layers, which it stores
      at the end of the previous stage);
    * ``L + 1``: the final ``norm`` and every parameter whose name does not
      start with ``prefix`` (neck, heads).

    Args:
        param_name (str): Parameter name, e.g.
            ``'backbone.stages.2.blocks.3.attn.qkv.weight'``.
        depths (Sequence[int]): Blocks per stage, e.g. ``[2, 2, 18, 2]``.
        prefix (str): Prefix of the backbone's parameters in the model,
            e.g. ``'backbone.'``. Defaults to ``''`` (a bare backbone).

    Returns:
        tuple[int, int]: ``(depth, L + 2)``.

    Raises:
        ValueError: For a name under ``prefix`` that is no CrossFormer
            parameter (unknown part, stage or block index out of range);
            the message names it.
    """
    depths = [int(d) for d in depths]
    num_layers = sum(depths) + 2
    parts = _split(param_name, prefix)
    if parts is None:
        return num_layers - 1, num_layers
    if parts[0] == 'patch_embed':
        return 0, num_layers
    if parts[0] == 'norm':
        return num_layers - 1, num_layers
    if parts[0] == 'stages':
        stage = _index(parts, 1, len(depths), 'stage', param_name)
        before = sum(depths[:stage])
        if len(parts) > 2 and parts[2] == 'downsample':
            return before, num_layers
        if len(parts) > 2 and parts[2] == 'blocks':
            block = _index(parts, 3, depths[stage], 'block', param_name)
            return before + block + 1, num_layers
    raise ValueError(
        f'{param_name!r} is not a CrossFormer parameter name (after the '
        f'prefix {prefix!r}: patch_embed.*, stages.<i>.downsample.*, '
        f'stages.<i>.blocks.<j>.* or norm.*)')


def crossvit_layer_depth(param_name: str,
                         num_encoders: int,
                         depths: Sequence[int],
                         prefix: str = '') -> Tuple[int, int]:
    """Layer depth of a :class:`~mmcrossformer.models.CrossViT` parameter.

    Depths follow the backbone's stochastic-depth schedule, which numbers
    ``K * D`` layer positions (``K`` multi-scale encoders, ``D =
    max(depths)``): layer ``l`` of every branch of encoder ``k`` sits at
    position ``k * D + l``, the encoder's cross-attention fusions at its last
    position ``k * D + D - 1``. The depth is the position plus one, so with
    ``K * D + 2`` depths:

    * 0: the stem (``patch_embeds``, ``cls_tokens``, ``pos_embeds``);
    * ``k * D + l + 1``: ``encoders.k.branches.b.l`` (any branch ``b``);
    * ``(k + 1) * D``: ``encoders.k.fusions.*``;
    * ``K * D + 1``: the final ``norms`` and every parameter whose name does
      not start with ``prefix`` (neck, heads).

    For CrossViT-15 (K = 3, depths (1, 5)): 17 depths; the small branch's
    single layer of encoder ``k`` shares its depth with the large branch's
    first layer.

    Args:
        param_name (str): Parameter name, e.g.
            ``'backbone.encoders.1.branches.1.3.ffn.layers.0.0.weight'``.
        num_encoders (int): K.
        depths (Sequence[int]): Layers per branch, e.g. ``(1, 5)``.
        prefix (str): Prefix of the backbone's parameters in the model.
            Defaults to ``''``.

    Returns:
        tuple[int, int]: ``(depth, K * D + 2)``.

    Raises:
        ValueError: For a name under ``prefix`` that is no CrossViT parameter
            (unknown part, encoder, branch or layer index out of range).
    """
    depths = [int(d) for d in depths]
    span = max(depths)
    num_layers = int(num_encoders) * span + 2
    parts = _split(param_name, prefix)
    if parts is None:
        return num_layers - 1, num_layers
    if parts[0] in ('patch_embeds', 'cls_tokens', 'pos_embeds'):
        return 0, num_layers
    if parts[0] == 'norms':
        return num_layers - 1, num_layers
    if parts[0] == 'encoders':
        k = _index(parts, 1, num_encoders, 'encoder', param_name)
        if len(parts) > 2 and parts[2] == 'fusions':
            return (k + 1) * span, num_layers
        if len(parts) > 2 and parts[2] == 'branches':
            branch = _index(parts, 3, len(depths), 'branch', param_name)
            layer = _index(parts, 4, depths[branch], 'layer', param_name)
            return k * span + layer + 1, num_layers
    raise ValueError(
        f'{param_name!r} is not a CrossViT parameter name (after the prefix '
        f'{prefix!r}: patch_embeds.*, cls_tokens.*, pos_embeds.*, '
        f'encoders.<k>.branches.<b>.<l>.*, encoders.<k>.fusions.* or '
        f'norms.*)')


def find_layer_depth(model: nn.Module,
                     prefix: str = 'backbone.') -> LayerDepthFn:
    """The depth rule ``name -> (depth, num_layers)`` for a model's params.

    ``model.backbone.get_layer_depth`` with ``prefix`` when the model has a
    backbone (classifiers, detectors and segmentors with CrossFormer,
    CrossViT, mmpretrain's ViT / Swin / ...), else ``model.get_layer_depth``
    (e.g. a bare backbone).

    Args:
        model (nn.Module): The model (a DDP wrapper is unwrapped).
        prefix (str): Name prefix of the backbone's parameters.
            Defaults to ``'backbone.'``.

    Returns:
        Callable[[str], tuple[int, int]]: Maps a parameter name of ``model``
        to ``(depth, num_layers)``; names outside the backbone get
        ``num_layers - 1``.

    Raises:
        NotImplementedError: If neither has the method (the message names
            the model's and the backbone's types).
    """
    model = getattr(model, 'module', model)
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, nn.Module) and hasattr(backbone,
                                                   'get_layer_depth'):
        return partial(backbone.get_layer_depth, prefix=prefix)
    if hasattr(model, 'get_layer_depth') and backbone is None:
        return model.get_layer_depth
    raise NotImplementedError(
        f'Layer-wise learning-rate decay needs a depth rule: '
        f'{type(model).__name__} has no get_layer_depth method and its '
        f'backbone {type(backbone).__name__} neither; add '
        f'get_layer_depth(param_name, prefix) to the backbone')
