"""Fully-connected layers on oneDNN's matrix products (CPU, fp32).

PyTorch runs an fp32 ``F.linear`` on the CPU through the BLAS it was built
with (MKL in the x86 wheels) and its backward through ``mm``. On the AMD
EPYC (Zen 4, AVX-512) that the benchmarks of ``docs/en/benchmarks.md`` ran
on, MKL's sgemm reached about 45% of what oneDNN's matrix product
(``torch.ops.mkldnn._linear_pointwise``, the kernel PyTorch's own inference
fusions and ``torch.compile`` use on the CPU) reaches for the same shapes.
:func:`linear` computes ``F.linear`` with oneDNN's product for the forward
pass and for both products of the backward pass (input and weight
gradients); the values equal ``F.linear``'s up to the order of the fp32
summation (tested).

It is taken only on the CPU, in fp32, outside autocast, ``torch.compile``
and ``torch.jit`` tracing, and where oneDNN is available and reproduces
``F.linear`` (:func:`onednn_linear_available`); everywhere else
:func:`linear` is ``F.linear``.
"""
from functools import lru_cache
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


@lru_cache(maxsize=1)
def onednn_linear_available() -> bool:
    """Whether this PyTorch build has oneDNN's fused linear kernels and they
    reproduce ``F.linear`` (plain, + GELU, + addition) on a small example
    (checked once; False on builds or machines where they are missing or
    differ)."""
    if not (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, '_linear_pointwise')):
        return False
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(3, 8, generator=gen)
        w = torch.randn(4, 8, generator=gen)
        b = torch.randn(4, generator=gen)
        other = torch.randn(3, 4, generator=gen)
        with torch.no_grad():
            ops = torch.ops.mkldnn._linear_pointwise
            plain = ops(x, w, b, 'none', [], '')
            gelu = ops(x, w, b, 'gelu', [], 'none')
            add = ops.binary(x, other, w, b, 'add')
            ref = F.linear(x, w, b)
        return bool(
            torch.allclose(plain, ref, atol=1e-5)
            and torch.allclose(gelu, F.gelu(ref), atol=1e-5)
            and torch.allclose(add, ref + other, atol=1e-5))
    except Exception:  # a kernel not built for this machine
        return False


def _matmul_t(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b.T`` for 2-D fp32 CPU tensors (views allowed) on oneDNN."""
    return torch.ops.mkldnn._linear_pointwise(a, b, None, 'none', [], '')


class OneDNNLinearFunction(torch.autograd.Function):
    """``F.linear(x, weight, bias)`` with oneDNN's products in the forward
    and the backward pass (see the module docstring).

    ``x`` is (M, C_in) (2-D: the result must not be a view, which in-place
    operations after the function could not follow), ``weight``
    (C_out, C_in), ``bias`` (C_out, ) or None; the result (M, C_out). Not
    twice differentiable.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
        out = torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'none',
                                                 [], '')
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(
        ctx, grad: torch.Tensor
    ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor],
               Optional[torch.Tensor]]:
        flat, weight = ctx.saved_tensors
        if not grad.is_contiguous():
            grad = grad.contiguous()
        need_x, need_w, need_b = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if need_x:
            # (M, C_out) @ (C_out, C_in)
            grad_x = _matmul_t(grad, weight.t())
        if need_w:
            # (C_out, M) @ (M, C_in); oneDNN is fastest with the wider of
            # the two outputs' sides as rows (measured), so a wide layer
            # computes the transposed product (C_in, C_out)
            if weight.shape[0] > weight.shape[1]:
                grad_w = _matmul_t(flat.t(), grad.t()).t()
            else:
                grad_w = _matmul_t(grad.t(), flat.t())
        if need_b and ctx.has_bias:
            grad_b = grad.sum(0)
        return grad_x, grad_w, grad_b


def use_onednn_linear(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether :func:`linear` takes oneDNN's path for these tensors."""
    if (torch.compiler.is_compiling() or torch.jit.is_tracing()
            or torch.jit.is_scripting()):
        return False
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and weight.dtype == torch.float32 and x.numel() > 0
            and not torch.is_autocast_enabled('cpu')
            and onednn_linear_available())


def linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(x)`` for an ``nn.Linear``, on oneDNN where
    :func:`use_onednn_linear` allows (same values up to fp32 rounding).

    Args:
        x (Tensor): Input (..., C_in).
        layer (nn.Linear): The layer whose ``weight`` / ``bias`` to apply.

    Returns:
        Tensor: (..., C_out).
    """
    if not use_onednn_linear(x, layer.weight):
        return layer(x)
    out = OneDNNLinearFunction.apply(
        x.reshape(-1, x.shape[-1]), layer.weight, layer.bias)
    return out.view(*x.shape[:-1], out.shape[-1])
