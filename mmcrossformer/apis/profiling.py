"""Where a training step's time goes: by operator and by brick.

The library behind ``tools/analysis_tools/profile_step.py``. One training
step of a config's backbone (train mode, a backward pass from the sum of
the means of its outputs, as :mod:`.benchmark` times it) is measured twice:

* :func:`operator_profile`: ``torch.profiler`` over the forward pass and,
  separately, over the backward pass; self CPU time per operator.
* :func:`brick_profile`: wall time of the forward and the backward pass of
  every module of the kinds in :data:`BRICKS` (CrossFormer's CEL, blocks,
  L/SDA, norms, ACL; CrossViT's layers and fusions; Swin's patch embedding
  / merging, blocks, window attention and FFN), measured inside one
  ordinary step. The forward time of a module runs from its call to its
  return; its backward time from the moment the gradient of its output
  arrives to the moment the gradient of its input leaves, taken by two
  identity autograd functions placed around it (CPU: PyTorch's autograd
  engine runs one node at a time, the nodes of a module between those
  two). Nested kinds (an L/SDA inside a block) are included in the outer
  module's time as well.
"""
import time
from collections import OrderedDict
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
from torch.profiler import ProfilerActivity, profile

# (label, 'package.module:Class') of the bricks timed by brick_profile
BRICKS: Tuple[Tuple[str, str], ...] = (
    ('CEL', 'mmcrossformer.models.layers.cel:CrossScaleEmbedding'),
    ('block', 'mmcrossformer.models.backbones.crossformer:CrossFormerBlock'),
    ('L/SDA', 'mmcrossformer.models.layers.lsda:LSDAttention'),
    ('ACL', 'mmcrossformer.models.layers.acl:AmplitudeCoolingLayer'),
    ('DPB', 'mmcrossformer.models.layers.dpb:DynamicPositionBias'),
    ('ViT layer', 'mmcrossformer.models.layers.attention:TransformerLayer'),
    ('cross-attention fusion',
     'mmcrossformer.models.layers.cross_attention:CrossAttentionFusion'),
    ('patch embedding', 'mmdet.models.layers:PatchEmbed'),
    ('patch merging', 'mmdet.models.layers:PatchMerging'),
    ('block', 'mmdet.models.backbones.swin:SwinBlock'),
    ('window attention', 'mmdet.models.backbones.swin:ShiftWindowMSA'),
    ('LayerNorm', 'torch.nn:LayerNorm'),
)


def _brick_classes() -> List[Tuple[str, type]]:
    import importlib
    found = []
    for label, path in BRICKS:
        module, name = path.split(':')
        try:
            found.append((label, getattr(importlib.import_module(module),
                                         name)))
        except (ImportError, AttributeError):  # a package not installed
            continue
    return found


def training_step(fn: Callable, images: torch.Tensor) -> Callable[[], None]:
    """``fn(images)``, then backward from the sum of the outputs' means."""

    def outputs():
        out = fn(images)
        stack, tensors = [out], []
        while stack:
            item = stack.pop()
            if torch.is_tensor(item):
                if item.requires_grad:
                    tensors.append(item)
            elif isinstance(item, (list, tuple)):
                stack.extend(item)
        return sum(t.float().mean() for t in tensors)

    return outputs


def operator_profile(fn: Callable, images: torch.Tensor,
                     row_limit: int = 15) -> Dict[str, str]:
    """torch.profiler tables of one training step's forward and backward.

    Args:
        fn (Callable): The part, in train mode (``images -> outputs``).
        images (Tensor): Input (B, 3, H, W).
        row_limit (int): Operators per table, by self CPU time.

    Returns:
        dict: ``'forward'`` and ``'backward'``: the tables as text.
    """
    loss_of = training_step(fn, images)
    loss_of().backward()  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as fwd:
        loss = loss_of()
    with profile(activities=[ProfilerActivity.CPU]) as bwd:
        loss.backward()
    return {
        name: prof.key_averages().table(
            sort_by='self_cpu_time_total', row_limit=row_limit)
        for name, prof in (('forward', fwd), ('backward', bwd))
    }


class _Stamp(torch.autograd.Function):
    """Identity whose backward calls ``note()`` when the gradient passes."""

    @staticmethod
    def forward(ctx, x, note):
        ctx.note = note
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        ctx.note()
        return grad, None


def _first_tensor(obj):
    if torch.is_tensor(obj):
        return obj
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def brick_profile(model: nn.Module,
                  fn: Callable,
                  images: torch.Tensor,
                  repeat: int = 3) -> 'OrderedDict[str, Dict[str, float]]':
    """Forward and backward wall time per brick kind in training steps.

    Args:
        model (nn.Module): The module whose submodules are timed (e.g. the
            backbone), in train mode.
        fn (Callable): ``images -> outputs`` running ``model``.
        images (Tensor): Input (B, 3, H, W), CPU.
        repeat (int): Timed steps after one warm-up; the median step's
            times are reported.

    Returns:
        OrderedDict: label -> ``{'count', 'forward_s', 'backward_s'}``
        (modules of the kind called per step and their summed times;
        ``backward_s`` is None for a kind whose input needs no gradient,
        e.g. a stem on the images: where its backward ends is not
        observable), and ``'step'`` -> the whole step's forward / backward
        seconds.

    Raises:
        ValueError: If ``images`` is not on the CPU (CUDA runs
            asynchronously; wall times per module would be wrong).
    """
    if images.device.type != 'cpu':
        raise ValueError(f'brick_profile times on the CPU only, got images '
                         f'on {images.device}')
    kinds = _brick_classes()
    labels: Dict[nn.Module, str] = {}
    inner = set()  # norms inside DPB MLPs: part of DPB, not a brick
    for module in model.modules():
        if type(module).__name__ == 'DynamicPositionBias':
            inner.update(m for m in module.modules() if m is not module)
    for module in model.modules():
        for label, cls in kinds:
            if isinstance(module, cls) and module not in inner:
                labels[module] = label
                break
    times: Dict[str, List[float]] = {}
    counts: Dict[str, int] = {}
    pending_bwd: Dict[int, float] = {}
    starts: Dict[int, float] = {}
    untimed = set()  # kinds with an input that needs no gradient

    def pre_hook(module, args):
        starts[id(module)] = time.perf_counter()
        x = _first_tensor(args)
        if x is None or not x.requires_grad or not torch.is_grad_enabled():
            untimed.add(labels[module])
            return None
        key = id(module)

        def leave():  # the gradient of the input leaves the module
            start = pending_bwd.pop(key, None)
            if start is not None:
                times[labels[module]][1] += time.perf_counter() - start

        marked = _Stamp.apply(x, leave)
        return tuple(marked if a is x else a for a in args)

    def post_hook(module, args, out):
        label = labels[module]
        times.setdefault(label, [0., 0.])
        times[label][0] += time.perf_counter() - starts.pop(id(module))
        counts[label] = counts.get(label, 0) + 1
        y = _first_tensor(out)
        if y is None or not y.requires_grad or label in untimed:
            return None
        key = id(module)

        def arrive():  # the gradient of the output arrives
            pending_bwd[key] = time.perf_counter()

        marked = _Stamp.apply(y, arrive)
        if torch.is_tensor(out):
            return marked
        if isinstance(out, tuple) and out and out[0] is y:
            return (marked, ) + tuple(out[1:])
        return None  # another structure: backward not timed

    handles = []
    for module in labels:
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    loss_of = training_step(fn, images)
    steps = []
    try:
        loss_of().backward()  # warm-up
        for _ in range(max(repeat, 1)):
            times.clear()
            counts.clear()
            start = time.perf_counter()
            loss = loss_of()
            mid = time.perf_counter()
            loss.backward()
            end = time.perf_counter()
            steps.append((end - start, mid - start, end - mid,
                          {k: list(v) for k, v in times.items()},
                          dict(counts)))
            model.zero_grad(set_to_none=True)
    finally:
        for handle in handles:
            handle.remove()
    steps.sort(key=lambda s: s[0])
    _, fwd, bwd, step_times, step_counts = steps[len(steps) // 2]
    report = OrderedDict()
    for label, (f, b) in step_times.items():
        report[label] = dict(count=step_counts[label], forward_s=f,
                             backward_s=None if label in untimed else b)
    report['step'] = dict(count=1, forward_s=fwd, backward_s=bwd)
    return report


def format_bricks(reports: Sequence[Tuple[str, Dict[str, Dict[str, float]]]]
                  ) -> str:
    """A Markdown table of :func:`brick_profile` reports (ms)."""
    lines = ['| config | brick | calls | forward ms | backward ms |',
             '| --- | --- | --: | --: | --: |']
    for name, report in reports:
        for label, row in report.items():
            bwd = row['backward_s']
            bwd = 'n/a' if bwd is None else f'{bwd * 1e3:.0f}'
            lines.append(f"| {name} | {label} | {row['count']} | "
                         f"{row['forward_s'] * 1e3:.0f} | {bwd} |")
    return '\n'.join(lines)
