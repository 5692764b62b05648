"""Mixed precision on CPU.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts that a GPU (or NPU / MLU /
MUSA) is present. On a CPU, PyTorch autocasts to bfloat16, which has the
exponent range of float32 and so needs no loss scaling: this wrapper runs
the forward pass under ``torch.autocast('cpu', dtype=torch.bfloat16)`` and
is otherwise mmengine's plain ``OptimWrapper``. ``tools/train.py --amp``
selects it when CUDA is not available.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from mmcrossformer.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """OptimWrapper with CPU autocast in :meth:`optim_context`.

    Args:
        dtype (str | torch.dtype): Autocast dtype; ``'bfloat16'`` (default)
            or ``'float16'`` (needs a CPU and PyTorch build that support
            it).
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.

    Raises:
        ValueError: For another dtype.
    """

    def __init__(self, dtype='bfloat16', **kwargs):
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype, None)
        if dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f'CPU autocast dtype must be bfloat16 or '
                             f'float16, got {dtype}')
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.cast_dtype):
            yield
