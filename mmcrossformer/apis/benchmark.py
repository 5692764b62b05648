"""Throughput, peak memory and roofline of model configs, side by side.

The library behind ``tools/analysis_tools/benchmark.py`` (its module
docstring describes the measurements and the table). For every row (a
config and its overrides) and every part (``backbone``:
``model.backbone(images)``; ``model``: the whole model's ``forward(images,
data_samples, mode='tensor')``) :func:`benchmark` times

* ``fwd``: a forward pass in eval mode under ``torch.no_grad()``;
* ``fwd+bwd``: a forward pass in train mode and a backward pass from the
  sum of the means of all floating outputs (the optimizer step is not
  included).

and :func:`format_table` prints the result. The timing, CUDA peak memory
and precision helpers are :mod:`mmcrossformer.utils.benchmark`'s; the CPU
peak memory is measured in a fresh child process
(:func:`cpu_peak_memory`), which runs this module::

    python -m mmcrossformer.apis.benchmark JOB_JSON

(:func:`memory_worker`; it prints ``MEMORY <json>``).
"""
import contextlib
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import ConfigDict

from ..utils.benchmark import (
    PeakMemory,
    amp_dtype,
    autocast,
    matmul_peak,
    measure,
    require_cuda,
    set_tf32,
    time_call,
)
from .flops import DEFAULT_SHAPES, check_shape, count_flops, tensor_forward
from .inference import build_model

PARTS = ('backbone', 'model')
PASSES = ('fwd', 'fwd+bwd')


def _float_tensors(obj) -> List[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj] if obj.is_floating_point() else []
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _float_tensors(item)]
    return []


def part_callable(model: nn.Module, part: str, scope: str) -> Callable:
    """``images -> outputs`` of a part (``'backbone'`` or ``'model'``).

    Raises:
        ValueError: For another part.
    """
    if part == 'backbone':
        return model.backbone
    if part != 'model':
        raise ValueError(f'part must be one of {PARTS}, got {part!r}')
    return tensor_forward(model, scope)


def make_step(model: nn.Module,
              scope: str,
              part: str,
              pass_: str,
              images: torch.Tensor,
              amp=False,
              compile: Union[bool, dict] = False) -> Callable[[], object]:
    """One pass (``'fwd'`` or ``'fwd+bwd'``) of a part of a built model on
    ``images``, as a function without arguments; sets the model's mode.

    With ``compile`` (True, or a dict of ``torch.compile`` arguments, as
    mmengine's Runner takes a config's ``compile``), the part runs through
    ``torch.compile`` (default: the inductor backend, automatic dynamic
    shapes); the first call compiles. In ``'fwd+bwd'`` the backward of the
    compiled part is compiled too (AOTAutograd's joint graph); the loss
    (a sum of means) and ``backward()``'s call stay eager.

    Raises:
        ValueError: For an unknown part or pass.
    """
    if pass_ not in PASSES:
        raise ValueError(f'pass must be one of {PASSES}, got {pass_!r}')
    device = images.device
    fn = part_callable(model, part, scope)
    if compile:
        fn = torch.compile(fn, **(compile if isinstance(compile, dict) else
                                  {}))
    if pass_ == 'fwd':
        model.eval()

        def step():
            with torch.no_grad(), autocast(device, amp):
                return fn(images)

        return step
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]

    def step():
        with autocast(device, amp):
            outs = _float_tensors(fn(images))
            loss = sum(o.float().mean() for o in outs if o.requires_grad)
        if not torch.is_tensor(loss):
            raise RuntimeError(f'the {part} of this config has no '
                               f'differentiable output')
        loss.backward()
        for p in params:
            p.grad = None

    return step


def cpu_peak_memory(config: str, options: Optional[dict],
                    shape: Tuple[int, int], batch: int, parts: Sequence[str],
                    passes: Sequence[str], amp) -> Dict[str, int]:
    """Peak memory of each part / pass on the CPU, in bytes.

    Measured in a fresh child process,
    ``python -m mmcrossformer.apis.benchmark JOB_JSON`` (which runs
    :func:`memory_worker`), where glibc serves every allocation of 64
    KiB or more with ``mmap`` (``MALLOC_MMAP_THRESHOLD_=65536``), so that
    freed tensors leave the resident set at once and its peak (``VmHWM``)
    follows the live memory rather than the allocator's cache: one untimed
    pass, then the peak over a second pass minus the resident size before
    it.

    Args:
        config (str): Config file.
        options (dict, optional): Its overrides (dotted keys).
        shape (tuple[int, int]): Input (H, W).
        batch (int): Images per pass.
        parts, passes (Sequence[str]): Of :data:`PARTS` / :data:`PASSES`.
        amp (bool | str): As :func:`benchmark` takes it.

    Returns:
        dict: Peak bytes by ``'part/pass'``.

    Raises:
        RuntimeError: If the child process fails (its output attached).
    """
    job = dict(config=config, options=options, shape=list(shape),
               batch=batch, parts=list(parts), passes=list(passes), amp=amp)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536')
    proc = subprocess.run(
        [sys.executable, '-m', 'mmcrossformer.apis.benchmark',
         json.dumps(job)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)
    lines = [ln for ln in proc.stdout.splitlines()
             if ln.startswith('MEMORY ')]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'memory measurement of {config} failed:\n'
                           f'{proc.stdout[-4000:]}')
    return json.loads(lines[-1][len('MEMORY '):])


def memory_worker(job: dict) -> Dict[str, int]:
    """The measurement of :func:`cpu_peak_memory`, in this process.

    Builds the model of ``job['config']`` (with ``job['options']``), runs
    each part / pass once untimed and once inside
    :class:`~mmcrossformer.utils.benchmark.PeakMemory`, and prints the
    result as one line ``MEMORY <json>``. Meant for the child process that
    ``python -m mmcrossformer.apis.benchmark JOB_JSON`` starts, where glibc
    returns freed blocks at once; in another process the figures include
    the allocator's cache.

    Args:
        job (dict): ``config``, ``options`` (dict or None), ``shape`` (H,
            W), ``batch``, ``parts``, ``passes`` and ``amp``, as
            :func:`cpu_peak_memory` writes them.

    Returns:
        dict: Peak bytes by ``'part/pass'``.
    """
    from ..utils.runtime import flush_denormals_on_cpu
    flush_denormals_on_cpu()
    model = build_model(job['config'], job['options'])
    scope = model.cfg.get('default_scope')
    images = torch.randn(job['batch'], 3, *job['shape'])
    out = {}
    for part in job['parts']:
        if part == 'backbone' and not hasattr(model, 'backbone'):
            continue
        for pass_ in job['passes']:
            step = make_step(model, scope, part, pass_, images, job['amp'])
            step()
            with PeakMemory(torch.device('cpu')) as peak:
                step()
            out[f'{part}/{pass_}'] = peak.value
    print('MEMORY ' + json.dumps(out), flush=True)
    return out


def benchmark(rows: Sequence[Tuple[str, Optional[dict]]],
              shape: Optional[Sequence[int]] = None,
              batch: int = 1,
              device: str = 'cpu',
              parts: Sequence[str] = PARTS,
              passes: Sequence[str] = PASSES,
              warmup: int = 2,
              repeat: int = 10,
              amp=False,
              compile: bool = False,
              tf32: Optional[bool] = None,
              roofline: bool = True,
              memory_pass: bool = True,
              log: Callable[[str], None] = print) -> Dict[str, object]:
    """Measure configs; the tables :func:`format_table` prints.

    Args:
        rows (Sequence[tuple]): ``(config path, cfg overrides or None)``
            or ``(config path, overrides, label)``; the label (default: the
            file name) names the row.
        shape (Sequence[int], optional): Input (H, W) or (S, ) in pixels;
            defaults to the first config's task size (224, 1280 x 800 or
            512 x 2048).
        batch (int): Images per pass.
        device (str): ``'cpu'`` or ``'cuda'``.
        parts, passes (Sequence[str]): See the module docstring.
        warmup, repeat (int): Untimed and (about) timed calls, see
            :func:`mmcrossformer.utils.benchmark.measure`.
        amp (bool | str): Run under autocast: True (bf16 on CPU, fp16 on
            CUDA), ``'fp16'`` or ``'bf16'``.
        compile (bool): Time every row ``torch.compile``-d. A row whose
            config sets ``compile`` (mmengine's Runner option: True or a
            dict of ``torch.compile`` arguments, e.g. a ``--variant
            compile=True`` row) is compiled with it in any case. A compiled
            row makes at least one warm-up call, which compiles and is
            timed alone (``first_call_s``).
        tf32 (bool, optional): On CUDA, allow (True) or forbid (False) TF32
            in matmuls and convolutions; None keeps PyTorch's settings.
        roofline (bool): Count FLOPs and measure the matmul peak.
        memory_pass (bool): On the CPU, measure peak memory in a child
            process (:func:`cpu_peak_memory`; eager rows only: a compiled
            row's CPU memory is not measured).
        log (Callable): Receives a progress line before each measurement.

    Returns:
        dict: ``results`` (one dict per row / part / pass: ``name``,
        ``part``, ``pass_``, ``measurement`` (a ``torch.utils.benchmark``
        ``Measurement``, seconds per call, labelled part / name / pass),
        ``median_s``, ``iqr_s``, ``images_per_s``, ``peak_bytes``,
        ``flops`` (forward multiply-adds of one image; None for
        ``fwd+bwd``), ``compiled`` (the ``torch.compile`` setting of the
        row or False), ``first_call_s`` (compiled rows: seconds of the
        first call, which compiles; else None)), ``peak_flops``
        (multiply-adds per second or None),
        ``shape``, ``batch``, ``device``, ``amp`` (the autocast dtype's
        name or None), ``compile``, ``tf32`` (CUDA: whether TF32 was
        allowed in matmuls / convolutions; CPU: None).

    Raises:
        ValueError: On a bad shape, batch, part, pass, amp or device, or
            CUDA asked for without a usable GPU.
    """
    if batch < 1:
        raise ValueError(f'batch must be >= 1, got {batch}')
    bad = [p for p in parts if p not in PARTS]
    bad += [p for p in passes if p not in PASSES]
    if bad:
        raise ValueError(f'unknown parts / passes {bad}; parts are {PARTS}'
                         f', passes {PASSES}')
    dev = torch.device(device)
    require_cuda(dev)
    dtype = amp_dtype(dev, amp)
    tf32_used = None
    if dev.type == 'cuda':
        if tf32 is not None:
            set_tf32(tf32)
        tf32_used = (torch.backends.cuda.matmul.allow_tf32,
                     torch.backends.cudnn.allow_tf32)
    if dev.type == 'cpu':
        from ..utils.runtime import flush_denormals_on_cpu
        flush_denormals_on_cpu()
    results = []
    for index, row in enumerate(rows):
        config, options = row[:2]
        model = build_model(config, options, device=dev)
        scope = model.cfg.get('default_scope')
        if shape is None:
            shape = DEFAULT_SHAPES[scope]
        shape = check_shape(shape)
        name = row[2] if len(row) > 2 else osp.splitext(
            osp.basename(config))[0]
        torch.manual_seed(index)
        images = torch.randn(batch, 3, *shape, device=dev)
        row_compile = model.cfg.get('compile') or compile
        if isinstance(row_compile, ConfigDict):
            row_compile = row_compile.to_dict()
        memory = {}
        if memory_pass and dev.type == 'cpu' and not row_compile:
            log(f'measuring the memory of {name} ...')
            memory = cpu_peak_memory(config, options, shape, batch, parts,
                                     passes, amp)
        for part in parts:
            if part == 'backbone' and not hasattr(model, 'backbone'):
                continue
            flops = None
            if roofline and 'fwd' in passes:
                model.eval()
                flops = count_flops(model, part_callable(model, part, scope),
                                    images[:1])[0]
            for pass_ in passes:
                log(f'timing {name} / {part} / {pass_} ...')
                step = make_step(model, scope, part, pass_, images, amp,
                                 row_compile)
                meter = PeakMemory(dev)
                first_call_s = None
                with meter if dev.type == 'cuda' else contextlib.nullcontext():
                    if row_compile:
                        torch._dynamo.reset()
                        first_call_s = time_call(step, dev)
                    timed = measure(
                        step,
                        max(warmup - 1, 0) if row_compile else warmup,
                        repeat,
                        label=part,
                        sub_label=name,
                        description=pass_)
                results.append(
                    dict(
                        name=name,
                        part=part,
                        pass_=pass_,
                        measurement=timed,
                        median_s=timed.median,
                        iqr_s=timed.iqr,
                        images_per_s=batch / timed.median,
                        peak_bytes=meter.value if dev.type == 'cuda' else
                        memory.get(f'{part}/{pass_}'),
                        flops=flops if pass_ == 'fwd' else None,
                        compiled=row_compile,
                        first_call_s=first_call_s))
        del model
    peak_flops = None
    if roofline:
        peak_flops = matmul_peak(dev, dtype or torch.float32)
    return dict(
        results=results,
        peak_flops=peak_flops,
        shape=shape,
        batch=batch,
        device=dev.type,
        amp=None if dtype is None else str(dtype).split('.')[-1],
        compile=compile,
        tf32=tf32_used)


def format_table(report: Dict[str, object]) -> str:
    """The report as text: ``torch.utils.benchmark.Compare``'s table of the
    median times, then one row per config / part / pass with images per
    second, the ratio to the first config's images per second (same part
    and pass), the peak memory, for forward rows the roofline and, when a
    row was compiled, the seconds of its first call (which compiles)."""
    from torch.utils.benchmark import Compare
    results = report['results']
    compare = Compare([r['measurement'] for r in results])
    compare.highlight_warnings()
    first = {}
    for r in results:
        first.setdefault((r['part'], r['pass_']), r['images_per_s'])
    peak = report['peak_flops']
    width = max([52] + [len(r['name']) for r in results])
    head = (f'{"config":<{width}} {"part":<8} {"pass":<7} {"img/s":>8} '
            f'{"ratio":>6} {"peak MiB":>9}')
    if peak:
        head += f' {"GFLOPs":>8} {"GFLOP/s":>8} {"of peak":>7}'
    compiled = any(r.get('first_call_s') is not None for r in results)
    if compiled:
        head += f' {"1st call s":>10}'
    lines = [str(compare).rstrip(), '', head, '-' * len(head)]
    for r in results:
        ratio = r['images_per_s'] / first[(r['part'], r['pass_'])]
        mem = ('n/a' if r['peak_bytes'] is None else
               f'{r["peak_bytes"] / 2**20:.0f}')
        line = (f'{r["name"]:<{width}} {r["part"]:<8} {r["pass_"]:<7} '
                f'{r["images_per_s"]:>8.2f} {ratio:>6.2f} {mem:>9}')
        if peak and r['flops']:
            rate = r['flops'] * report['batch'] / r['median_s']
            line += (f' {r["flops"] * report["batch"] / 1e9:>8.1f} '
                     f'{rate / 1e9:>8.1f} {rate / peak:>7.0%}')
        if r.get('first_call_s') is not None:  # the last column
            line = f'{line:<{len(head) - 11}} {r["first_call_s"]:>10.1f}'
        lines.append(line)
    h, w = report['shape']
    lines.append('')
    precision = f'autocast {report["amp"]}' if report['amp'] else 'fp32'
    tf32 = report.get('tf32')
    if tf32 is not None:
        precision += (f', TF32 matmul {"on" if tf32[0] else "off"} / conv '
                      f'{"on" if tf32[1] else "off"}')
    lines.append(f'input {report["batch"]} x 3 x {h} x {w}, device '
                 f'{_device_name(report["device"])}, threads '
                 f'{torch.get_num_threads()}, {precision}'
                 f'{", torch.compile" if report.get("compile") else ""}')
    if peak:
        lines.append(f'matmul peak measured in this run: {peak / 1e9:.1f} '
                     f'GFLOP/s (1 FLOP = 1 multiply-add, as the GFLOPs '
                     f'column)')
    return '\n'.join(lines)


def _device_name(device: str) -> str:
    if device == 'cuda':
        return (f'{torch.cuda.get_device_name()} (CUDA {torch.version.cuda}'
                f', torch {torch.__version__})')
    return f'cpu ({os.cpu_count()} logical cores)'


def variant_label(config: str, options: Dict[str, object]) -> str:
    """Row name of ``config`` timed with the overrides ``options``: the
    file name and the last component of each key, e.g.
    ``'retinanet_crossformerpp_s_coco [with_cp=True]'``."""
    return osp.splitext(osp.basename(config))[0] + ' [' + ','.join(
        f'{k.split(".")[-1]}={v}' for k, v in options.items()) + ']'


__all__ = [
    'PARTS', 'PASSES', 'part_callable', 'make_step', 'cpu_peak_memory',
    'memory_worker', 'benchmark', 'format_table', 'variant_label'
]

if __name__ == '__main__':
    memory_worker(json.loads(sys.argv[1]))
