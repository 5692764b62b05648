"""Inference fast path for mmcv's :class:`~mmcv.cnn.bricks.transformer.FFN`.

``x + fc2(GELU(fc1(x)))`` is, in eager PyTorch on the CPU, four passes over
the hidden activations besides the two matrix products: the bias copy that
``addmm`` makes before each product, the GELU and the residual addition.
oneDNN (PyTorch's ``torch.ops.mkldnn._linear_pointwise``, the kernels
``torch.compile`` uses for the same fusion on the CPU) applies the bias and
GELU, or the bias and the residual addition, inside the matrix product.

The fused path is taken only where it gives the same function: CPU, fp32,
no autograd (``torch.no_grad()`` / ``torch.inference_mode()``), the module
in eval mode (dropout and drop path off), two fully-connected layers with
an exact or tanh GELU between them, no layer scale, oneDNN available, and
neither ``torch.compile`` (which fuses by itself) nor ``torch.jit.trace``
(FLOP counters) running. Elsewhere on the CPU in fp32 (training) the
module's layers run in its own order with both products on oneDNN
(:mod:`.onednn_linear`); everything else runs the module's own forward.
:func:`build_ffn` builds the FFN of both backbones' blocks in that form.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn.bricks.transformer import FFN

from .onednn_linear import linear, onednn_linear_available, use_onednn_linear


def build_ffn(embed_dims: int,
              mlp_ratio: float,
              drop_rate: float = 0.,
              drop_path_rate: float = 0.,
              act_cfg: dict = dict(type='GELU')) -> FFN:
    """The FFN of a pre-norm transformer block as both backbones build it:
    mmcv's two-layer :class:`FFN` of width ``embed_dims * mlp_ratio``,
    dropout ``drop_rate``, drop path ``drop_path_rate`` on the branch and
    the residual added (the form :func:`ffn_forward` can fuse)."""
    return FFN(
        embed_dims=embed_dims,
        feedforward_channels=int(embed_dims * mlp_ratio),
        num_fcs=2,
        ffn_drop=drop_rate,
        dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate)
        if drop_path_rate > 0 else None,
        act_cfg=act_cfg,
        add_identity=True)


def _fusable_gelu(module: nn.Module) -> Optional[str]:
    """oneDNN's name of a GELU's algorithm, or None for other modules."""
    if type(module) is nn.GELU:
        return 'tanh' if module.approximate == 'tanh' else 'none'
    return None


def can_fuse(ffn: FFN, x: torch.Tensor) -> bool:
    """Whether :func:`ffn_forward` may take the fused path for ``x``."""
    if (torch.compiler.is_compiling() or torch.jit.is_tracing()
            or torch.is_autocast_enabled('cpu')):
        return False
    if not (x.device.type == 'cpu' and x.dtype == torch.float32
            and not ffn.training and not torch.is_grad_enabled()):
        return False
    layers = ffn.layers
    return (onednn_linear_available() and ffn.num_fcs == 2
            and ffn.add_identity and len(layers) == 3
            and isinstance(layers[0], nn.Sequential) and len(layers[0]) == 3
            and isinstance(layers[0][0], nn.Linear)
            and _fusable_gelu(layers[0][1]) is not None
            and isinstance(layers[1], nn.Linear)
            and isinstance(ffn.gamma2, nn.Identity))


def ffn_forward(ffn: FFN, x: torch.Tensor,
                identity: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``ffn(x, identity=identity)``, fused where :func:`can_fuse` allows.

    Args:
        ffn (FFN): An mmcv FFN (``layers = [Sequential(Linear, act,
            Dropout), Linear, Dropout]``).
        x (Tensor): Tokens (..., C), channels last.
        identity (Tensor, optional): The residual, shape of the output;
            defaults to ``x``.

    Returns:
        Tensor: (..., C_out), equal to ``ffn(x, identity=identity)``.
    """
    if not can_fuse(ffn, x):
        if _plain_layers(ffn) and use_onednn_linear(
                x, ffn.layers[0][0].weight):
            return _onednn_forward(ffn, x, identity)
        return ffn(x, identity=identity)
    fc1, act, _ = ffn.layers[0]
    fc2 = ffn.layers[1]
    identity = x if identity is None else identity
    hidden = torch.ops.mkldnn._linear_pointwise(x, fc1.weight, fc1.bias,
                                                'gelu', [],
                                                _fusable_gelu(act))
    return torch.ops.mkldnn._linear_pointwise.binary(
        hidden, identity.contiguous(), fc2.weight, fc2.bias, 'add')


def _plain_layers(ffn: FFN) -> bool:
    """Whether ``ffn.layers`` is mmcv's two-layer stack
    ``[Sequential(Linear, act, Dropout), Linear, Dropout]``."""
    layers = ffn.layers
    return (ffn.num_fcs == 2 and len(layers) == 3
            and isinstance(layers[0], nn.Sequential) and len(layers[0]) == 3
            and isinstance(layers[0][0], nn.Linear)
            and isinstance(layers[1], nn.Linear))


def _onednn_forward(ffn: FFN, x: torch.Tensor,
                    identity: Optional[torch.Tensor]) -> torch.Tensor:
    """mmcv's ``FFN.forward`` with both fully-connected layers on oneDNN
    (:func:`~.onednn_linear.linear`): the same modules, dropouts, layer
    scale and drop path, in the same order."""
    fc1, act, drop1 = ffn.layers[0]
    out = drop1(act(linear(x, fc1)))
    out = ffn.gamma2(ffn.layers[2](linear(out, ffn.layers[1])))
    if not ffn.add_identity:
        return ffn.dropout_layer(out)
    return (x if identity is None else identity) + ffn.dropout_layer(out)
