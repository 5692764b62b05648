"""Timing, peak memory and precision settings for the benchmark tools.

Shared by ``tools/analysis_tools/benchmark.py`` and
``benchmark_official.py`` (as mmdet keeps its benchmark helpers in
``mmdet/utils/benchmark.py``). Timing is ``torch.utils.benchmark``'s
(``Timer``, ``Measurement``); the CUDA peak memory is read with mmengine's
``get_max_cuda_memory``.
"""
import contextlib
import time
from typing import Callable, Optional

import torch
from torch.utils.benchmark import Measurement, Timer

#: autocast dtypes by name (``--amp-dtype``)
AMP_DTYPES = dict(fp16=torch.float16, bf16=torch.bfloat16)


def measure(fn: Callable[[], object],
            warmup: int = 2,
            repeat: int = 10,
            label: Optional[str] = None,
            sub_label: Optional[str] = None,
            description: Optional[str] = None) -> Measurement:
    """Time ``fn()`` with ``torch.utils.benchmark.Timer``.

    ``fn`` is called ``warmup`` times untimed, then timed by
    ``Timer.blocked_autorange``: once with a minimal run time (one call,
    which also gives its duration ``t``), then for ``(repeat - 1) * t``
    seconds. Each ``blocked_autorange`` first makes one untimed call to
    choose its block size; a call long enough that the timer's own cost is
    negligible (about 10 ms and more) is timed alone, so that there are
    about ``repeat`` samples; faster calls are timed in blocks and each
    block is one sample (its mean). The timer synchronises the accelerator
    before each reading (wall-clock time of the device's work on CUDA), and
    runs with ``torch.get_num_threads()`` threads.

    Args:
        fn (Callable): The statement, without arguments.
        warmup (int): Untimed calls before the timing. Defaults to 2.
        repeat (int): Timed calls, about (see above). Defaults to 10.
        label, sub_label, description (str, optional): The measurement's
            names, as ``torch.utils.benchmark.Compare`` groups them: table,
            row and column.

    Returns:
        Measurement: Seconds per call (``median``, ``iqr``, ``times``).

    Raises:
        ValueError: When ``repeat < 1`` or ``warmup < 0``.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f'need repeat >= 1 and warmup >= 0, got '
                         f'repeat={repeat}, warmup={warmup}')
    for _ in range(warmup):
        fn()
    timer = Timer(
        'fn()',
        globals=dict(fn=fn),
        label=label,
        sub_label=sub_label,
        description=description,
        num_threads=torch.get_num_threads())
    first = timer.blocked_autorange(min_run_time=1e-9)
    if repeat == 1:
        return first
    rest = timer.blocked_autorange(min_run_time=(repeat - 1) * first.median)
    return Measurement.merge([first, rest])[0]


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Wall-clock seconds of one call ``fn()``, the accelerator synchronised
    before and after (e.g. the first call of a ``torch.compile``-d function,
    which compiles)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def matmul_peak(device: torch.device,
                dtype: torch.dtype = torch.float32,
                size: Optional[int] = None,
                repeat: int = 10) -> float:
    """Measured multiply-adds per second of a square matmul.

    Args:
        device (torch.device): Where to run it.
        dtype (torch.dtype): Element type. Defaults to float32.
        size (int, optional): Matrix side; defaults to 2048 on the CPU and
            8192 on CUDA (large enough for the BLAS to reach its plateau).
        repeat (int): Timed calls (see :func:`measure`). Defaults to 10.

    Returns:
        float: ``size ** 3`` over the median time of one product (one
        multiply-add counts as one FLOP). On the CPU in fp32 the faster of
        PyTorch's ``a @ b`` (the BLAS it was built with) and oneDNN's
        product (``torch.ops.mkldnn._linear_pointwise``, which the
        backbones' fully-connected layers use there), where available.
    """
    size = size or (8192 if device.type == 'cuda' else 2048)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = measure(lambda: a @ b, 2, repeat).median
    onednn = getattr(torch.ops.mkldnn, '_linear_pointwise', None)
    if (device.type == 'cpu' and dtype == torch.float32
            and torch.backends.mkldnn.is_available() and onednn is not None):
        bt = b.t().contiguous()
        try:
            best = min(best, measure(
                lambda: onednn(a, bt, None, 'none', [], ''), 2,
                repeat).median)
        except RuntimeError:  # a kernel not built for this machine
            pass
    return size**3 / best


class PeakMemory:
    """Peak memory of a ``with`` block above the memory in use when it
    starts.

    CUDA: the peak of allocated tensor memory (mmengine's
    ``get_max_cuda_memory``, whole MiB, read and reset at entry and exit).
    CPU (Linux): the peak resident set size (``VmHWM``, reset through
    ``/proc/self/clear_refs``), after glibc has given freed memory back.

    Attributes:
        value (int | None): After the block, in bytes; None where the CPU
            peak cannot be reset (not Linux).
    """

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self.value: Optional[int] = None
        self._base: Optional[int] = None

    @staticmethod
    def _status(field: str) -> int:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024
        raise KeyError(field)

    def __enter__(self):
        if self.device.type == 'cuda':
            from mmengine.device import get_max_cuda_memory
            torch.cuda.synchronize(self.device)
            get_max_cuda_memory(self.device)  # resets the peak
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        _malloc_trim()
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self._base = self._status('VmRSS')
        except OSError:
            self._base = None
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            from mmengine.device import get_max_cuda_memory
            torch.cuda.synchronize(self.device)
            peak = get_max_cuda_memory(self.device) * 2**20
            self.value = max(peak - self._base, 0)
        elif self._base is not None:
            self.value = max(self._status('VmHWM') - self._base, 0)
        return False


def _malloc_trim() -> None:
    """Give memory that glibc keeps after ``free`` back to the system, so
    that the resident size counts live memory only (no-op elsewhere)."""
    try:
        import ctypes
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def amp_dtype(device: torch.device, amp) -> Optional[torch.dtype]:
    """The autocast dtype that ``amp`` asks for.

    Args:
        device (torch.device): The device the passes run on.
        amp (bool | str | None): False / None (no autocast), True (fp16 on
            CUDA, bf16 on the CPU) or a key of :data:`AMP_DTYPES`.

    Returns:
        torch.dtype | None: The dtype, None for no autocast.

    Raises:
        ValueError: On another value.
    """
    if not amp:
        return None
    if amp is True:
        return torch.float16 if device.type == 'cuda' else torch.bfloat16
    if amp not in AMP_DTYPES:
        raise ValueError(f'amp must be a bool or one of {list(AMP_DTYPES)}'
                         f', got {amp!r}')
    return AMP_DTYPES[amp]


def autocast(device: torch.device, amp) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device`` in the dtype of :func:`amp_dtype`
    (disabled when it is None)."""
    dtype = amp_dtype(device, amp)
    if dtype is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=dtype)


def set_tf32(allow: bool) -> None:
    """Allow or forbid TF32 in CUDA matmuls and cuDNN convolutions
    (``allow=False``: full fp32, ``float32_matmul_precision='highest'``)."""
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow
    torch.set_float32_matmul_precision('high' if allow else 'highest')


def require_cuda(device) -> None:
    """Check that a CUDA ``device`` can be used.

    Raises:
        ValueError: When ``device`` is CUDA and no GPU is usable, naming
            the torch build and the likely cause.
    """
    if torch.device(device).type != 'cuda' or torch.cuda.is_available():
        return
    build = torch.version.cuda
    why = ('this torch is a CPU-only build' if build is None else
           f'this torch is built for CUDA {build} but sees no GPU (driver, '
           f'CUDA_VISIBLE_DEVICES?)')
    raise ValueError(f'--device cuda given but CUDA is not available: '
                     f'{why} (torch {torch.__version__})')


__all__ = [
    'AMP_DTYPES', 'measure', 'matmul_peak', 'PeakMemory', 'amp_dtype',
    'autocast', 'set_tf32', 'require_cuda', 'time_call'
]
