"""Mixed precision on CPU.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts that a GPU (or NPU / MLU /
MUSA) is present. On a CPU, PyTorch autocasts to bfloat16, which has the
exponent range of float32 and so needs no loss scaling: this wrapper runs
the forward pass under ``torch.autocast('cpu', dtype=torch.bfloat16)`` and
is otherwise mmengine's plain ``OptimWrapper``. ``tools/train.py --amp``
selects it when CUDA is not available.

mmcv 2.1.0's CPU kernels of ``nms`` and ``roi_align`` accept float32 only
(its CUDA kernels also take fp16), so two-stage detectors would fail under
CPU autocast ("expected scalar type Float but found BFloat16"). Inside the
autocast region, :func:`fp32_mmcv_ops` therefore routes both through
wrappers that compute in float32 and cast the results back (autograd-tracked
casts) and leaves everything else as it is.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from mmcrossformer.registry import OPTIM_WRAPPERS


@contextmanager
def fp32_mmcv_ops():
    """Run mmcv's ``nms`` and ``roi_align`` in float32 inside the block
    (results are cast back to the input dtype).

    They are looked up as module globals by their callers (``batched_nms``
    and ``RoIAlign.forward``), so the originals are swapped for wrappers for
    the duration of the block and restored afterwards.
    """
    import sys
    try:
        import mmcv.ops  # noqa: F401
    except ImportError:  # mmcv without compiled ops
        yield
        return
    # the package re-exports functions named like these submodules
    nms_mod = sys.modules['mmcv.ops.nms']
    roi_mod = sys.modules['mmcv.ops.roi_align']
    nms, roi_align = nms_mod.nms, roi_mod.roi_align

    def nms_fp32(boxes, scores, *args, **kwargs):
        if not isinstance(boxes, torch.Tensor) or boxes.dtype == torch.float:
            return nms(boxes, scores, *args, **kwargs)
        dets, inds = nms(boxes.float(), scores.float(), *args, **kwargs)
        return dets.to(boxes.dtype), inds

    def roi_align_fp32(input, rois, *args, **kwargs):
        out = roi_align(input.float(), rois.float(), *args, **kwargs)
        return out.to(input.dtype)

    nms_mod.nms, roi_mod.roi_align = nms_fp32, roi_align_fp32
    try:
        yield
    finally:
        nms_mod.nms, roi_mod.roi_align = nms, roi_align


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
                'cpu', dtype=self.cast_dtype), fp32_mmcv_ops():
            yield
