"""Mixed precision on CPU.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts that a GPU (or NPU / MLU /
MUSA) is present. :class:`CPUAutocastOptimWrapper` runs the forward pass
under ``torch.autocast('cpu', dtype=...)`` instead:

* bfloat16 (the default) has the exponent range of float32 and needs no
  loss scaling; the wrapper is then mmengine's plain ``OptimWrapper`` plus
  autocast.
* float16 runs the same low-precision code paths as CUDA AMP, so a GPU run
  can be rehearsed on a CPU. Its range ends at 65504 and gradients below
  about 6e-8 flush to zero, so the loss is scaled as mmengine's
  ``AmpOptimWrapper`` scales it, by ``torch.amp.GradScaler('cpu')``
  (dynamic by default: steps with an inf / NaN gradient are skipped and
  halve the scale, which doubles after ``growth_interval`` clean steps).

``tools/train.py --amp`` selects the wrapper when CUDA is not available
(``--amp-dtype float16`` for the scaled fp16 path); see
``docs/en/mixed_precision.md``.

mmcv 2.1.0's CPU ``nms`` accepts float32 only and its CPU ``roi_align``
float32 or float16 features with rois of the same dtype, bfloat16 not at
all (its CUDA kernels take fp16 and mixed inputs), so two-stage detectors
fail under CPU autocast ("expected scalar type Float but found BFloat16" /
"... Half but found Float"). Inside the autocast region,
:func:`fp32_mmcv_ops` therefore routes both through wrappers that compute
in float32 and cast the results back (autograd-tracked casts) and leaves
everything else as it is.
"""
from contextlib import contextmanager
from typing import Optional, Tuple, Union

import torch
from mmengine.logging import MessageHub
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


#: Autocast dtypes the CPU wrapper accepts.
CPU_AMP_DTYPES = ('bfloat16', 'float16')


def build_cpu_grad_scaler(
        loss_scale: Union[str, float, dict, None]
) -> Tuple[Optional[torch.amp.GradScaler], Optional[float]]:
    """The loss scaler of :class:`CPUAutocastOptimWrapper`.

    Args:
        loss_scale (str | float | dict | None): ``'dynamic'``
            (``torch.amp.GradScaler('cpu')`` with its defaults: initial
            scale 2**16, x2 after 2000 clean steps, x0.5 and the step
            skipped on an inf / NaN gradient), a float (a static scale), a
            dict (``GradScaler`` arguments, e.g. ``init_scale``,
            ``growth_interval``) or None (no scaling).

    Returns:
        tuple: ``(scaler, static_scale)``; ``scaler`` is None without
        scaling, ``static_scale`` is the float of a static scale, passed to
        every ``scaler.update`` so that it never changes.

    Raises:
        ValueError: For another ``loss_scale``.
    """
    if loss_scale is None:
        return None, None
    if loss_scale == 'dynamic':
        return torch.amp.GradScaler('cpu'), None
    if isinstance(loss_scale, (int, float)) and not isinstance(
            loss_scale, bool) and loss_scale > 0:
        return torch.amp.GradScaler(
            'cpu', init_scale=float(loss_scale)), float(loss_scale)
    if isinstance(loss_scale, dict):
        return torch.amp.GradScaler('cpu', **loss_scale), None
    raise ValueError(f"loss_scale must be 'dynamic', a positive float, a "
                     f'dict of GradScaler arguments or None, got '
                     f'{loss_scale!r}')


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """OptimWrapper with CPU autocast in :meth:`optim_context` and, for
    float16, loss scaling as mmengine's ``AmpOptimWrapper`` does on CUDA.

    With a scaler, the scale after each step is logged as ``grad_scale``
    (``train/grad_scale`` in the message hub) and saved in checkpoints
    under ``optim_wrapper``'s ``'loss_scaler'`` key, as ``AmpOptimWrapper``
    saves it, so a resumed run continues with it.

    Args:
        dtype (str | torch.dtype): Autocast dtype, ``'bfloat16'`` (default)
            or ``'float16'``.
        loss_scale (str | float | dict | None): ``'auto'`` (default):
            ``'dynamic'`` for float16, no scaling for bfloat16; otherwise
            as :func:`build_cpu_grad_scaler`.
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.

    Raises:
        ValueError: For another dtype or ``loss_scale``.
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 loss_scale: Union[str, float, dict, None] = 'auto',
                 **kwargs):
        super().__init__(**kwargs)
        name = dtype if isinstance(dtype, str) else str(dtype).replace(
            'torch.', '')
        if name not in CPU_AMP_DTYPES:
            raise ValueError(f'CPU autocast dtype must be one of '
                             f'{CPU_AMP_DTYPES}, got {dtype!r}')
        self.cast_dtype = getattr(torch, name)
        if loss_scale == 'auto':
            loss_scale = 'dynamic' if name == 'float16' else None
        self.loss_scaler, self._static_scale = build_cpu_grad_scaler(
            loss_scale)

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Back-propagate the (scaled) loss.

        Args:
            loss (Tensor): The loss of the iteration (a scalar).
            **kwargs: Passed to :meth:`torch.Tensor.backward`.
        """
        if self.loss_scaler is None:
            return super().backward(loss, **kwargs)
        self.loss_scaler.scale(loss).backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        """Unscale the gradients (before clipping), step unless one of them
        is inf / NaN, and update the scale.

        Args:
            **kwargs: Passed to :meth:`torch.optim.Optimizer.step`.
        """
        if self.loss_scaler is None:
            return super().step(**kwargs)
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._static_scale)
        MessageHub.get_current_instance().update_scalar(
            'train/grad_scale', self.loss_scaler.get_scale())

    def state_dict(self) -> dict:
        """The optimizer's state dict, plus ``'loss_scaler'`` (the
        scaler's state) with a scaler."""
        state = super().state_dict()
        if self.loss_scaler is not None:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load :meth:`state_dict`'s result (also ``AmpOptimWrapper``'s).

        A ``'loss_scaler'`` entry restores the scaler and is ignored
        without one (a bf16 run resumed from an fp16 checkpoint).
        """
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.cast_dtype), fp32_mmcv_ops():
            yield
