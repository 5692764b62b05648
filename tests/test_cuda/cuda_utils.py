"""Marks and helpers shared by the CUDA lane (``tests/test_cuda``).

Every test that needs a GPU carries ``CUDA_MARKS``: the ``cuda`` marker
(``pytest -m cuda`` selects the lane) and a skip, with :data:`NO_CUDA` as
its reason, where ``torch.cuda.is_available()`` is false.
"""
import contextlib

import pytest
import torch

NO_CUDA = ('CUDA lane: no CUDA device (torch.cuda.is_available() is False); '
           'run `pytest -m cuda` on a machine with a GPU')
CUDA_MARKS = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
]
#: device parameters: the CPU variant runs everywhere, the CUDA one is part
#: of the lane
DEVICES = ['cpu', pytest.param('cuda', marks=CUDA_MARKS, id='cuda')]


@contextlib.contextmanager
def full_fp32():
    """Matmuls and convolutions in full fp32 (TF32 off) inside the block;
    the previous settings are restored afterwards."""
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32,
             torch.get_float32_matmul_precision())
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision('highest')
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved[0]
        torch.backends.cudnn.allow_tf32 = saved[1]
        torch.set_float32_matmul_precision(saved[2])


def max_rel_error(got: torch.Tensor, ref: torch.Tensor) -> float:
    """``max |got - ref|`` over ``max(1, max |ref|)``, computed in float64
    on the CPU (0 for two empty tensors)."""
    got, ref = got.detach().double().cpu(), ref.detach().double().cpu()
    if got.shape != ref.shape:
        raise AssertionError(f'shapes differ: {tuple(got.shape)} vs '
                             f'{tuple(ref.shape)}')
    if ref.numel() == 0:
        return 0.
    scale = max(1., float(ref.abs().max()))
    return float((got - ref).abs().max()) / scale
