"""Export a classifier, detector, segmentor or bare backbone to ONNX, and
check the file in onnxruntime against PyTorch.

The library of ``tools/deployment/pytorch2onnx.py`` (which adds only its
command line); :func:`pytorch2onnx` builds, exports and checks in one call.
It imports neither mmdeploy nor mmcrossformer's mmdeploy compatibility
(:mod:`mmcrossformer.deployment.onnx_exporter`, for mmdeploy's own export).

What is exported (input ``'input'``: float images (B, 3, H, W), normalised as
the model's data preprocessor would do it, which is *not* part of the graph):

* mmpretrain classifiers: ``model(input, mode='tensor')``, the head's
  logits (B, num_classes) before softmax, output ``'output'``;
* mmseg segmentors: ``model(input, mode='tensor')``, the decode head's
  logits (B, num_classes, H / 4, W / 4) before the resize to the image size,
  output ``'output'``;
* mmdet single-stage detectors: ``model(input, mode='tensor')``, the raw
  outputs of the head per FPN level before box decoding and NMS (RetinaNet:
  ``cls_score_<l>`` (B, A * classes, h_l, w_l), ``bbox_pred_<l>``
  (B, A * 4, h_l, w_l)). Two-stage detectors cannot be exported as a whole
  here (their tensor mode runs NMS on the proposals, an mmcv op without an
  ONNX export outside mmdeploy): export their backbone (``backbone_only``);
* ``backbone_only``: the backbone's feature maps, ``feat_<i>`` per output
  (CrossViT: ``feat_<i>_<branch>``).

A checkpoint must fit the model the config builds (all keys and shapes);
without one the weights are random (``init_weights``), which is enough to
check the export. A dynamic export makes batch, height and width dynamic
(axis names ``batch``, ``height``, ``width`` as mmdeploy's configs); a model
whose forward branches in Python on the input size (so that a graph traced
at one size is wrong at another) stops with an error naming the size it
cannot take; export it statically, once per size. The check runs the file
in onnxruntime (CPU) at the export size and at other sizes (with a dynamic
export through the same file; otherwise a second static export) and
compares with PyTorch (max |diff| <= ``atol``).

The exporter: ``dynamo`` (``torch.onnx.export(..., dynamo=True)``:
torch.export + onnxscript, opset 18) or ``torchscript`` (``dynamo=False``:
the tracer, opset 17); ``auto`` (default) takes dynamo for a dynamic export
(the tracer freezes the size-dependent Python branches) and the much faster
tracer for a static one. See docs/en/deployment.md.

Example:
    >>> from mmcrossformer.deployment.onnx_export import pytorch2onnx
    >>> result = pytorch2onnx('configs/crossformerpp_s_in1k.py',
    ...                       shape=(64, 96), out='pp_s.onnx',
    ...                       verify_shapes=[(72, 100)])
    >>> [c['shape'] for c in result['checks']]
    [(64, 96), (72, 100)]
"""
import math
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

__all__ = [
    'SCOPES', 'EXPORTERS', 'DEFAULT_OPSET', 'ExportError', 'build_model',
    'export_module', 'output_names', 'check_shape', 'export_onnx',
    'failed_guards', 'run_onnxruntime', 'max_abs_diff', 'check_onnx',
    'pytorch2onnx'
]

SCOPES = ('mmpretrain', 'mmdet', 'mmseg')
EXPORTERS = ('auto', 'dynamo', 'torchscript')
#: default opset per exporter: the dynamo exporter's own default; for the
#: tracer the newest opset whose symbolic functions torch 2.9 ships for all
#: operators used here (scaled_dot_product_attention needs >= 14)
DEFAULT_OPSET = dict(dynamo=18, torchscript=17)


class ExportError(RuntimeError):
    """A model (or part) that cannot be exported as asked; says why."""


# ----------------------------------------------------------------------
# model
def build_model(config, checkpoint: Optional[str] = None,
                cfg_options: Optional[dict] = None) -> Tuple[nn.Module, str]:
    """The config's model in eval mode (``mmcrossformer.apis.init_model``)
    and its scope.

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): Weights for the whole model (a training
            checkpoint's ``state_dict`` or a plain state dict); they must
            fit exactly. None: the model's ``init_weights`` without
            pretrained backbone weights.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        tuple[nn.Module, str]: The model and ``'mmpretrain'``, ``'mmdet'``
        or ``'mmseg'``.

    Raises:
        ValueError: For a config of another scope, or a checkpoint that does
            not fit (missing / unexpected / wrong-shape keys listed).
        FileNotFoundError: If ``config`` or ``checkpoint`` does not exist.
    """
    from mmcrossformer.apis import init_model
    if isinstance(config, str) and not osp.isfile(config):
        raise FileNotFoundError(f'config {config} does not exist')
    model = init_model(config, checkpoint, cfg_options=cfg_options)
    scope = model.cfg.get('default_scope')
    if scope not in SCOPES:
        raise ValueError(f'Cannot export a config with default_scope='
                         f'{scope!r}; expected one of {list(SCOPES)}')
    if checkpoint is None:
        model.init_weights()
    return model.eval(), scope


def _flatten(outputs) -> List[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    flat = []
    for item in outputs:
        flat.extend(_flatten(item))
    return flat


class _TensorOutputs(nn.Module):
    """``fn(input)`` with its (nested) tensor outputs flattened to a tuple,
    the form both ONNX exporters take."""

    def __init__(self, module: nn.Module, call: str):
        super().__init__()
        self.module = module
        self.call = call

    def nested(self, input: torch.Tensor):
        """The module's outputs as it returns them (lists per level)."""
        if self.call == 'backbone':
            return self.module(input)
        return self.module(input, None, mode='tensor')

    def forward(self, input: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(_flatten(self.nested(input)))


def export_module(model: nn.Module, scope: str,
                  backbone_only: bool = False) -> Tuple[nn.Module, str]:
    """The module to export (images in, a flat tuple of tensors out) and
    what it is: ``'classifier'``, ``'detector'``, ``'segmentor'`` or
    ``'backbone'``.

    Raises:
        ExportError: For a two-stage detector without ``backbone_only``, or
            ``backbone_only`` on a model without a backbone.
    """
    if backbone_only:
        if not isinstance(getattr(model, 'backbone', None), nn.Module):
            raise ExportError(f'{type(model).__name__} has no backbone')
        return _TensorOutputs(model.backbone, 'backbone').eval(), 'backbone'
    if scope == 'mmdet' and (getattr(model, 'with_rpn', False)
                             or hasattr(model, 'roi_head')):
        raise ExportError(
            f'{type(model).__name__} is a two-stage detector: its tensor '
            f'mode runs NMS on the RPN proposals (mmcv.ops.nms, which has no '
            f'ONNX export outside mmdeploy) before the RoI head. Export the '
            f'backbone with --backbone-only, or the whole detector with '
            f'mmdeploy (see docs/en/deployment.md).')
    kind = dict(mmpretrain='classifier', mmseg='segmentor',
                mmdet='detector')[scope]
    return _TensorOutputs(model, 'tensor').eval(), kind


def output_names(kind: str, nested, model: nn.Module) -> List[str]:
    """ONNX output names from the module's nested outputs: ``output``
    (classifier, segmentor); for a detector one name per head output and
    level, ``cls_score_<l>`` / ``bbox_pred_<l>`` for a head with these two
    outputs (RetinaNet), else ``head<j>_<l>``; ``feat_<i>`` for a backbone
    (``feat_<i>_<b>`` for CrossViT's per-branch maps)."""
    n = len(_flatten(nested))
    if kind in ('classifier', 'segmentor'):
        return ['output'] if n == 1 else [f'output_{i}' for i in range(n)]
    if kind == 'detector' and not isinstance(nested, torch.Tensor):
        groups = [len(_flatten(g)) for g in nested]
        prefixes = ['cls_score', 'bbox_pred'] if len(groups) == 2 else [
            f'head{j}' for j in range(len(groups))]
        return [f'{p}_{lvl}' for p, count in zip(prefixes, groups)
                for lvl in range(count)]
    backbone = model.backbone
    branches = getattr(backbone, 'num_branches', None)
    indices = getattr(backbone, 'out_indices', range(n))
    if branches and n == len(indices) * branches:
        return [f'feat_{i}_{b}' for i in indices for b in range(branches)]
    if n == len(indices):
        return [f'feat_{i}' for i in indices]
    return [f'feat_{i}' for i in range(n)]


# ----------------------------------------------------------------------
# export
def check_shape(shape: Sequence[int],
                what: str = '--shape') -> Tuple[int, int]:
    """An image size as (H, W).

    Args:
        shape (Sequence[int]): (H, W), or (S, ) for a square.
        what (str): The name the error message gives the size. Defaults to
            ``'--shape'``.

    Returns:
        tuple[int, int]: (H, W).

    Raises:
        ValueError: If ``shape`` has not one or two sizes, or one is < 1
            (the message names the value).
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        shape = shape * 2
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'{what} must be H W (or one size for a square) of '
                         f'positive ints, got {shape}')
    return shape


def _dynamic_axes(names: Sequence[str], outputs: Sequence[torch.Tensor]):
    axes = {'input': {0: 'batch', 2: 'height', 3: 'width'}}
    for name, out in zip(names, outputs):
        axes[name] = {0: 'batch'}
        if out.dim() == 4:
            axes[name].update({2: f'{name}_height', 3: f'{name}_width'})
    return axes


def export_onnx(module: nn.Module,
                inputs: torch.Tensor,
                out: str,
                names: Sequence[str],
                dynamic: bool = False,
                exporter: str = 'auto',
                opset: Optional[int] = None) -> Dict:
    """Write ``module(inputs)`` as an ONNX file.

    Args:
        module (nn.Module): Returns a tuple of tensors.
        inputs (Tensor): Example input (B, 3, H, W).
        out (str): Output file.
        names (Sequence[str]): Output names.
        dynamic (bool): Dynamic batch, height and width.
        exporter (str): ``'dynamo'``, ``'torchscript'`` or ``'auto'``
            (dynamo for a dynamic export, torchscript for a static one).
        opset (int, optional): ONNX opset; the exporter's default if None.

    Returns:
        dict: ``seconds`` (export time), ``opset``, ``exporter`` and, for a
        dynamic export (dynamo), ``ranges`` (``{'height': (lo, hi), ...}``,
        hi None: unbounded) and ``guards`` (all conditions on the input size
        the graph assumes, see :func:`failed_guards`).

    Raises:
        ExportError: If the export fails; for a dynamic export that the
            model's size-dependent Python branches prevent, the message says
            so and suggests a static export.
        ValueError: For an unknown exporter.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f'exporter must be one of {list(EXPORTERS)}, got '
                         f'{exporter!r}')
    if exporter == 'auto':
        exporter = 'dynamo' if dynamic else 'torchscript'
    opset = opset or DEFAULT_OPSET[exporter]
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    start = time.perf_counter()
    info = dict(exporter=exporter, opset=opset, shape=tuple(inputs.shape))
    if exporter == 'torchscript':
        _export_torchscript(module, inputs, out, names, dynamic, opset)
    else:
        info.update(_export_dynamo(module, inputs, out, names, dynamic,
                                   opset))
    info['seconds'] = time.perf_counter() - start
    return info


def _export_torchscript(module, inputs, out, names, dynamic, opset):
    import warnings
    with torch.no_grad():
        outputs = module(inputs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            torch.onnx.export(
                module, (inputs, ),
                out,
                dynamo=False,
                opset_version=opset,
                input_names=['input'],
                output_names=list(names),
                dynamic_axes=_dynamic_axes(names, outputs)
                if dynamic else None,
                do_constant_folding=True)
        except Exception as err:  # noqa: BLE001  (re-raised with context)
            hint = ''
            if 'adaptive_avg_pool2d' in str(err):
                hint = (' (The tracer exports adaptive average pooling only '
                        'when the output size divides the input size, e.g. '
                        'for UPerNet\'s pyramid pooling at scales 1, 2, 3, '
                        '6 the stride-32 map must be a multiple of 6 on '
                        'both sides: choose --shape accordingly, or try '
                        '--exporter dynamo.)')
            raise ExportError(f'torch.onnx.export(dynamo=False) failed: '
                              f'{type(err).__name__}: {str(err)[:2000]}'
                              f'{hint}') from err
    frozen = sorted({
        f'{osp.basename(w.filename)}:{w.lineno}'
        for w in caught if issubclass(w.category, torch.jit.TracerWarning)
    })
    if dynamic and frozen:
        raise ExportError(
            'The TorchScript exporter traced Python values computed from '
            'the input size (TracerWarning at ' + ', '.join(frozen) + '): '
            'the dynamic graph would be wrong at other sizes. Use the '
            'dynamo exporter (--exporter dynamo) or a static export '
            '(without --dynamic).')


def _export_dynamo(module, inputs, out, names, dynamic, opset) -> Dict:
    from torch.export import Dim
    dynamic_shapes = None
    if dynamic:
        dynamic_shapes = ({2: Dim.DYNAMIC, 3: Dim.DYNAMIC}, )
    try:
        program = torch.onnx.export(
            module, (inputs, ),
            dynamo=True,
            opset_version=opset,
            input_names=['input'],
            output_names=list(names),
            dynamic_shapes=dynamic_shapes,
            optimize=True,
            verbose=False)
    except Exception as err:  # noqa: BLE001  (re-raised with context)
        text = f'{type(err).__name__}: {err}'
        if dynamic:
            raise ExportError(
                f'Dynamic export failed; the model\'s forward probably '
                f'branches in Python on the input size. Export it '
                f'statically (without --dynamic), once per input size. '
                f'torch.export said: {text[:3000]}') from err
        raise ExportError(f'torch.onnx.export(dynamo=True) failed: '
                          f'{text[:3000]}') from err
    info = {}
    if dynamic:
        info['ranges'] = _input_ranges(program, inputs)
        info['guards'] = list(
            getattr(program.exported_program, '_guards_code', None) or [])
        _rename_input_dims(program)
    program.save(out)
    return info


class _InputShape:
    """Stands for the input tensor in torch.export's guard expressions,
    which read ``L['<forward argument>'].size()[axis]``."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]


class _AnyInput(dict):
    """``L[name]`` for the one input, whatever the argument is called."""

    def __init__(self, shape):
        super().__init__()
        self.input = _InputShape(shape)

    def __getitem__(self, name):
        return self.input


def failed_guards(guards: Sequence[str],
                  shape: Sequence[int]) -> List[str]:
    """The guards of a dynamic export that an input of ``shape``
    (B, C, H, W) violates.

    torch.export records, besides simple ranges, every condition on the
    input size that the model's Python code branched on while it was traced
    (``ExportedProgram._guards_code``, Python expressions such as
    ``min((3 + L['input'].size()[2]) // 4, ...) > 4``). The ONNX graph does
    not check them: at a size that violates one, onnxruntime runs the branch
    the export size took and returns wrong results (or fails on a shape).
    A guard that cannot be evaluated here counts as violated.
    """
    scope = {'L': _AnyInput(shape), '__builtins__': {}, 'math': math,
             'torch': torch, 'min': min, 'max': max, 'abs': abs, 'int': int,
             'float': float, 'round': round, 'bool': bool}
    failed = []
    for guard in guards:
        try:
            ok = bool(eval(guard, scope))  # noqa: S307 (torch's own text)
        except Exception:  # noqa: BLE001
            ok = False
        if not ok:
            failed.append(guard)
    return failed


def _input_ranges(program, inputs) -> Dict[str, Tuple[int, Optional[int]]]:
    """The (height, width) ranges the exported program is valid for (from
    torch.export's range constraints of the input's symbolic sizes).

    Raises:
        ExportError: If height or width was specialised to one value.
    """
    ep = program.exported_program
    node = next(n for n in ep.graph.nodes if n.op == 'placeholder'
                and n.name not in ep.graph_signature.inputs_to_parameters
                and n.name not in ep.graph_signature.inputs_to_buffers
                and n.name not in
                ep.graph_signature.inputs_to_lifted_tensor_constants)
    sizes = node.meta['val'].shape
    ranges = {}
    for axis, name in ((2, 'height'), (3, 'width')):
        size = sizes[axis]
        if not isinstance(size, torch.SymInt):
            raise ExportError(
                f'The input {name} was specialised to {int(size)} while '
                f'exporting: the model\'s forward takes a branch that holds '
                f'only for this {name}. Export statically (without '
                f'--dynamic), once per input size.')
        symbol = size.node.expr
        bounds = ep.range_constraints.get(symbol)
        lo = int(bounds.lower) if bounds is not None else 0
        hi = None
        if bounds is not None:
            try:
                hi = int(bounds.upper)
            except (TypeError, ValueError, OverflowError, AttributeError):
                hi = None  # unbounded (torch's int_oo)
        ranges[name] = (lo, hi)
    return ranges


def _rename_input_dims(program) -> None:
    """Name the input's dynamic dims ``batch``, ``height``, ``width`` (the
    exporter names them after torch.export's symbols)."""
    graph_input = program.model.graph.inputs[0]
    shape = graph_input.shape
    if shape is None:
        return
    import onnx_ir as ir
    dims = list(shape.dims)
    for axis, name in ((0, 'batch'), (2, 'height'), (3, 'width')):
        if isinstance(dims[axis], ir.SymbolicDim):
            dims[axis] = name
    graph_input.shape = ir.Shape(dims)


# ----------------------------------------------------------------------
# onnxruntime
def run_onnxruntime(path: str, inputs: torch.Tensor,
                    repeat: int = 0) -> Tuple[List[np.ndarray], float]:
    """Outputs of the ONNX file in onnxruntime (CPU) and, with ``repeat``,
    the mean seconds per run over ``repeat`` runs after one warm-up."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])
    feed = {session.get_inputs()[0].name: inputs.numpy()}
    outputs = session.run(None, feed)
    seconds = float('nan')
    if repeat:
        start = time.perf_counter()
        for _ in range(repeat):
            session.run(None, feed)
        seconds = (time.perf_counter() - start) / repeat
    return outputs, seconds


def max_abs_diff(expected: Sequence[torch.Tensor],
                 actual: Sequence[np.ndarray]) -> float:
    """Largest |difference| over all outputs.

    Raises:
        ExportError: If the number of outputs or a shape differs.
    """
    if len(expected) != len(actual):
        raise ExportError(f'ONNX model gives {len(actual)} outputs, PyTorch '
                          f'{len(expected)}')
    worst = 0.
    for i, (e, a) in enumerate(zip(expected, actual)):
        if tuple(e.shape) != tuple(a.shape):
            raise ExportError(f'output {i}: ONNX shape {tuple(a.shape)}, '
                              f'PyTorch {tuple(e.shape)}')
        if e.numel():
            worst = max(worst, float(np.abs(e.numpy() - a).max()))
    return worst


def check_onnx(module: nn.Module,
               path: str,
               inputs: torch.Tensor,
               info: Optional[Dict] = None,
               atol: float = 1e-4,
               repeat: int = 0) -> Dict:
    """Run an exported file in onnxruntime and compare with PyTorch.

    Args:
        module (nn.Module): The exported module (tuple of tensors out).
        path (str): Its ONNX file.
        inputs (Tensor): Images (B, 3, H, W).
        info (dict, optional): What :func:`export_onnx` returned; with the
            ``guards`` of a dynamic export the size is checked first.
        atol (float): Largest max |diff| accepted. Defaults to 1e-4.
        repeat (int): Also time this many runs of each (seconds per run).

    Returns:
        dict: ``shape`` (H, W), ``file``, ``max_abs_diff``, ``ort_seconds``
        and ``torch_seconds`` (NaN without ``repeat``).

    Raises:
        ExportError: If the size violates a guard of the dynamic export (the
            graph would run a branch the model does not take at this size),
            an output's number or shape differs, or max |diff| > ``atol``.
    """
    hw = tuple(inputs.shape[2:])
    guards = (info or {}).get('guards')
    if guards:
        failed = failed_guards(guards, tuple(inputs.shape))
        if failed:
            h, w = info['shape'][2:]
            raise ExportError(
                f'The dynamic graph exported at {h}x{w} is not valid at '
                f'{hw[0]}x{hw[1]}: the model branches in Python on the '
                f'input size and takes another branch there ({len(failed)} '
                f'of {len(guards)} torch.export guards fail, e.g. '
                f'{failed[0]}). Export at a size that takes the same '
                f'branches, or statically per size.')
    with torch.no_grad():
        expected = _flatten(module(inputs))
    actual, ort_seconds = run_onnxruntime(path, inputs, repeat)
    diff = max_abs_diff(expected, actual)
    if not diff <= atol:
        raise ExportError(
            f'onnxruntime differs from PyTorch at {hw[0]}x{hw[1]} by max '
            f'|diff| = {diff:.3g} > {atol:g} ({path})')
    return dict(
        shape=hw,
        file=path,
        max_abs_diff=diff,
        ort_seconds=ort_seconds,
        torch_seconds=_time_torch(module, inputs, repeat)
        if repeat else float('nan'))


def _time_torch(module, inputs, repeat):
    with torch.no_grad():
        module(inputs)
        start = time.perf_counter()
        for _ in range(repeat):
            module(inputs)
    return (time.perf_counter() - start) / repeat


def _write_guards(out: str, shape, batch: int, names, info: Dict) -> None:
    """``<out>.json`` beside a dynamic export: names, export size, the
    simple size ranges and every torch.export guard on the input size (see
    :func:`failed_guards`), for deployments that feed other sizes."""
    import json
    meta = dict(
        exporter=info['exporter'],
        opset=info['opset'],
        input_names=['input'],
        output_names=list(names),
        export_shape=[batch, 3, *shape],
        dynamic_axes={'input': {0: 'batch (static here)', 2: 'height',
                                3: 'width'}},
        ranges={k: [lo, hi] for k, (lo, hi) in info['ranges'].items()},
        guards=info['guards'],
        note='The graph is valid for input sizes that satisfy every guard '
        "(Python expressions over L['input'].size()); onnxruntime does "
        'not check them.')
    with open(osp.splitext(out)[0] + '.json', 'w') as f:
        json.dump(meta, f, indent=1)


def _check_neighbours(info: Dict, batch: int, shape, out: str) -> None:
    """Sets ``info['restricted']`` to the sizes one pixel away from the
    export size that the dynamic graph does not serve, and warns when there
    are any: the model then branches on the exact size (e.g. "pad only if
    the size is not a multiple of the patch"), and the graph serves only a
    lattice of sizes."""
    import warnings
    h, w = shape
    near = [(h - 1, w), (h + 1, w), (h, w - 1), (h, w + 1)]
    bad = [(a, b) for a, b in near
           if min(a, b) > 0 and failed_guards(info['guards'],
                                              (batch, 3, a, b))]
    info['restricted'] = bad
    if bad:
        example = failed_guards(info['guards'], (batch, 3, *bad[0]))[0]
        warnings.warn(
            f'The dynamic graph does not serve sizes next to the export size '
            f'{h}x{w} (' + ', '.join(f'{a}x{b}' for a, b in bad) + '): the '
            f'model branches in Python on the exact input size (e.g. '
            f'{example}), so the graph is valid only for the sizes that '
            f'satisfy every guard in {osp.splitext(out)[0]}.json. For other '
            f'sizes export statically, once per size.')


def pytorch2onnx(config,
                 checkpoint: Optional[str] = None,
                 shape: Sequence[int] = (224, 224),
                 out: Optional[str] = None,
                 dynamic: bool = False,
                 backbone_only: bool = False,
                 exporter: str = 'auto',
                 opset: Optional[int] = None,
                 verify_shapes: Sequence[Sequence[int]] = (),
                 atol: float = 1e-4,
                 batch: int = 1,
                 repeat: int = 0,
                 cfg_options: Optional[dict] = None,
                 seed: int = 0) -> Dict:
    """Build, export and (optionally) check a model; see the module doc.

    Args:
        config (str | Config): Model config.
        checkpoint (str, optional): Weights for the whole model.
        shape (Sequence[int]): Export input (H, W) (or (S, )).
        out (str, optional): ONNX file; defaults to
            ``<config name>[_backbone].onnx`` in the current directory.
        dynamic (bool): Dynamic batch, height and width.
        backbone_only (bool): Export ``model.backbone`` alone.
        exporter (str): ``'auto'`` (dynamo when ``dynamic``, else
            torchscript), ``'dynamo'`` or ``'torchscript'``.
        opset (int, optional): ONNX opset (exporter default if None).
        verify_shapes (Sequence[Sequence[int]]): Sizes (H, W) at which to
            compare onnxruntime with PyTorch. The export size is one of them
            whenever any is given. With ``dynamic`` all run through the
            exported file; otherwise each other size is exported again
            (statically) to ``<out>_<H>x<W>.onnx``.
        atol (float): Largest max |diff| accepted. Defaults to 1e-4.
        batch (int): Batch size of the example and check inputs.
        repeat (int): With checks, also time ``repeat`` runs of onnxruntime
            and PyTorch per size (seconds per run). 0: no timing.
        cfg_options (dict, optional): Config overrides.
        seed (int): Seed of the random example images.

    Returns:
        dict: ``out``, ``names``, ``kind``, ``export`` (see
        :func:`export_onnx`; a dynamic export also writes ``<out>.json``
        with its guards) and
        ``checks``: one dict per verified size with ``shape``, ``file``,
        ``max_abs_diff``, ``ort_seconds``, ``torch_seconds``.

    Raises:
        ExportError: If the export fails or a check exceeds ``atol`` (the
            message names size and difference), or a verify size lies
            outside the range a dynamic export is valid for.
        ValueError: For a bad shape, batch or config.
    """
    shape = check_shape(shape)
    verify_shapes = [check_shape(s, 'verify shape') for s in verify_shapes]
    if verify_shapes and shape not in verify_shapes:
        verify_shapes.insert(0, shape)
    if int(batch) < 1:
        raise ValueError(f'batch must be >= 1, got {batch}')
    model, scope = build_model(config, checkpoint, cfg_options)
    module, kind = export_module(model, scope, backbone_only)
    if out is None:
        stem = osp.splitext(osp.basename(str(config)))[0]
        out = stem + ('_backbone' if backbone_only else '') + '.onnx'
    generator = torch.Generator().manual_seed(seed)

    def images(hw):
        return torch.randn(batch, 3, *hw, generator=generator)

    example = images(shape)
    with torch.no_grad():
        nested = module.nested(example)  # also checks that the size is valid
    names = output_names(kind, nested, model)
    info = export_onnx(module, example, out, names, dynamic, exporter, opset)
    if dynamic:
        _write_guards(out, shape, batch, names, info)
        _check_neighbours(info, batch, shape, out)
    checks = []
    for hw in verify_shapes:
        path = out
        if not dynamic and hw != shape:
            path = f'{osp.splitext(out)[0]}_{hw[0]}x{hw[1]}.onnx'
            x = images(hw)
            export_onnx(module, x, path, names, False, exporter, opset)
        else:
            x = example if hw == shape else images(hw)
        checks.append(check_onnx(module, path, x, info, atol, repeat))
    return dict(out=out, names=names, export=info, checks=checks,
                kind=kind)
