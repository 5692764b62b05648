"""Our CrossFormer backbone against the official implementation: equal
weights, equal outputs, then time.

The library behind ``tools/analysis_tools/benchmark_official.py`` (its
module docstring describes the tasks, the comparison and the timing). The
official code (https://github.com/cheerss/CrossFormer) is never part of
this project: :func:`load_official` imports its model file from the user's
clone with the stand-ins of :mod:`mmcrossformer.utils.official`.
"""
import statistics
import types
from typing import Dict, List, Tuple

import torch

from ..models.utils.ckpt_convert import crossformer_converter
from ..utils.benchmark import (
    PeakMemory,
    amp_dtype,
    autocast,
    measure,
    require_cuda,
    set_tf32,
)
from ..utils.official import import_official_file, legacy_openmmlab_names

OFFICIAL_REPO = 'https://github.com/cheerss/CrossFormer'
OFFICIAL_FILES = dict(
    cls='models/crossformer.py', det='models/crossformer_backbone_det.py')
DEFAULTS = dict(cls=((224, 224), 8), det=((800, 1216), 1))
# the official detection configs (detection/configs/*/retinanet_*.py)
DET_GROUPS = dict(group_size=[7, 7, 7, 7], interval=[8, 4, 2, 1])


def load_official(root: str, task: str) -> types.ModuleType:
    """Import the official model file of ``task`` from a clone at ``root``
    (with :func:`mmcrossformer.utils.official.legacy_openmmlab_names`).

    Raises:
        FileNotFoundError: When the clone does not have the file.
    """
    with legacy_openmmlab_names():
        return import_official_file(root, OFFICIAL_FILES[task],
                                    f'official_crossformer_{task}',
                                    OFFICIAL_REPO)


def build_pair(root: str, arch: str, task: str,
               shape: Tuple[int, int]) -> Tuple[torch.nn.Module,
                                                torch.nn.Module]:
    """(official model, our model) with the same weights, in eval mode."""
    from ..models import CrossFormer
    a = dict(CrossFormer.arch_zoo[arch])
    if task == 'det':
        a.update(DET_GROUPS)
    common = dict(
        patch_size=list(a['cel_kernels']) if 'cel_kernels' in a else
        [4, 8, 16, 32],
        embed_dim=a['embed_dims'],
        depths=a['depths'],
        num_heads=a['num_heads'],
        group_size=a['group_size'],
        crs_interval=a['interval'],
        merge_size=[[2, 4]] * 3,
        use_acl=a['use_acl'],
        drop_path_rate=0.)
    module = load_official(root, task)
    if task == 'cls':
        if shape[0] != shape[1]:
            raise ValueError(f'the official classification model takes '
                             f'square inputs only, got {shape}; use --task '
                             f'det for other shapes')
        official = module.CrossFormer(
            img_size=shape[0], num_classes=1000, mlp_ratio=[4.] * 4,
            **common)
        official.forward = official.forward_features
        ours = CrossFormer(
            arch=arch, final_norm=True, out_indices=(3, ), drop_path_rate=0.)
    else:
        official = module.CrossFormer(
            img_size=list(shape), init_cfg=None, mlp_ratio=4., **common)
        ours = CrossFormer(arch=arch, drop_path_rate=0., **DET_GROUPS)
    randomize(official)
    state = crossformer_converter(official.state_dict(),
                                  'cls' if task == 'cls' else 'backbone')
    state = {k[len('backbone.'):]: v for k, v in state.items()
             if k.startswith('backbone.')}
    ours.load_state_dict(state, strict=True)
    return official.eval(), ours.eval()


def randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Random weights of a realistic scale: 2-D / 4-D tensors normal with
    std 0.02 / 0.05, 1-D weights (norms) 1 +- 0.1 noise, biases 0.1 noise."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if p.dim() == 1:
                base = 1. if name.endswith('weight') else 0.
                p.copy_(base + 0.1 * noise)
            else:
                p.copy_(noise * (0.02 if p.dim() == 2 else 0.05))


def run_ours(model: torch.nn.Module, task: str, x: torch.Tensor):
    outs = model(x)
    if task == 'cls':
        return [outs[-1].mean((2, 3))]
    return list(outs)


def run_official(model: torch.nn.Module, task: str, x: torch.Tensor):
    outs = model(x)
    return [outs] if task == 'cls' else list(outs)


def compare(official: torch.nn.Module, ours: torch.nn.Module, task: str,
            x: torch.Tensor, atol: float = 1e-4) -> float:
    """Largest absolute difference of the outputs.

    Raises:
        AssertionError: When it exceeds ``atol`` (relative to the output
            scale) or the shapes differ.
    """
    with torch.no_grad():
        ref = run_official(official, task, x)
        got = run_ours(ours, task, x)
    worst = 0.
    for i, (a, b) in enumerate(zip(ref, got)):
        if a.shape != b.shape:
            raise AssertionError(f'output {i}: official {tuple(a.shape)} vs '
                                 f'ours {tuple(b.shape)}')
        diff = float((a - b).abs().max())
        scale = float(a.abs().max()) or 1.
        if diff > atol * max(1., scale):
            raise AssertionError(f'output {i} differs from the official '
                                 f'one by {diff:.3g} (scale {scale:.3g})')
        worst = max(worst, diff)
    return worst


def benchmark(root: str, arch: str = 'pp-s', task: str = 'cls',
              shape=None, batch=None, warmup: int = 2,
              repeat: int = 10, rounds: int = 3,
              compile: bool = False,
              device: str = 'cpu',
              amp=False,
              tf32: bool = False) -> Dict[str, object]:
    """Check equal outputs (fp32) and time both implementations (fp32, or
    autocast with ``amp``; on CUDA with TF32 off unless ``tf32``).

    With ``compile``, ours runs through ``torch.compile`` (compiled and
    checked against the official outputs before the timing); the official
    model stays eager.

    Args:
        amp (bool | str): Time under autocast: True (fp16 on CUDA, bf16 on
            the CPU), ``'fp16'`` or ``'bf16'``.
        tf32 (bool): On CUDA, allow TF32 for the timing (the comparison
            always runs in full fp32).

    Returns:
        dict: ``max_abs_diff``, ``official_s`` / ``ours_s`` (per-round
        medians, seconds per call), ``official_median_s``,
        ``ours_median_s``, ``speedup``, ``official_peak_bytes`` /
        ``ours_peak_bytes`` (CUDA: peak allocated memory of one call above
        the memory in use before it, bytes; CPU: None), ``shape``,
        ``batch``, ``task``, ``arch``, ``compile``, ``device``, ``amp``
        (dtype name or None), ``tf32`` (CUDA: bool; CPU: None).

    Raises:
        ValueError: On an unknown task or amp dtype, or CUDA asked for
            without a usable GPU.
    """
    from ..utils.runtime import flush_denormals_on_cpu
    if task not in OFFICIAL_FILES:
        raise ValueError(f'task must be cls or det, got {task!r}')
    device = torch.device(device)
    require_cuda(device)
    dtype = amp_dtype(device, amp)
    if device.type == 'cuda':
        set_tf32(False)
    flush_denormals_on_cpu()
    shape = tuple(shape or DEFAULTS[task][0])
    shape = shape * 2 if len(shape) == 1 else shape
    batch = batch or DEFAULTS[task][1]
    official, ours = build_pair(root, arch, task, shape)
    official, ours = official.to(device), ours.to(device)
    torch.manual_seed(1)
    x = torch.randn(batch, 3, *shape).to(device)
    if compile:
        ours = torch.compile(ours)
    diff = compare(official, ours, task, x)
    if device.type == 'cuda' and tf32:
        set_tf32(True)
    models = dict(official=official, ours=ours)

    def call(key):
        def fn():
            with autocast(device, amp):
                return models[key](x)

        return fn

    times: Dict[str, List[float]] = dict(official=[], ours=[])
    peaks: Dict[str, object] = dict(official=None, ours=None)
    with torch.no_grad():
        if device.type == 'cuda':
            for key in models:
                call(key)()  # allocator and kernels warm
                with PeakMemory(device) as peak:
                    call(key)()
                peaks[key] = peak.value
        for _ in range(rounds):
            for key in ('official', 'ours'):
                times[key].append(
                    measure(call(key), warmup, repeat).median)
    off, our = (statistics.median(times[k]) for k in ('official', 'ours'))
    return dict(
        max_abs_diff=diff,
        official_s=times['official'],
        ours_s=times['ours'],
        official_median_s=off,
        ours_median_s=our,
        speedup=off / our,
        official_peak_bytes=peaks['official'],
        ours_peak_bytes=peaks['ours'],
        shape=shape,
        batch=batch,
        task=task,
        arch=arch,
        compile=compile,
        device=device.type,
        amp=None if dtype is None else str(dtype).split('.')[-1],
        tf32=bool(tf32) if device.type == 'cuda' else None)


def profile_table(model: torch.nn.Module, x: torch.Tensor,
                  rows: int = 12) -> str:
    """torch.profiler's table of the operators of one call, by self CPU
    (or, for CUDA inputs, CUDA) time, after one untimed call."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if x.is_cuda:
        activities.append(ProfilerActivity.CUDA)
    with torch.no_grad():
        model(x)
        with profile(activities=activities) as prof:
            model(x)
    key = 'self_cuda_time_total' if x.is_cuda else 'self_cpu_time_total'
    return prof.key_averages().table(sort_by=key, row_limit=rows)


__all__ = [
    'OFFICIAL_REPO', 'OFFICIAL_FILES', 'load_official', 'build_pair',
    'randomize', 'compare', 'benchmark', 'profile_table'
]
