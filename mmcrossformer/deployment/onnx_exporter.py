"""Run mmdeploy's ONNX export on torch >= 2.9 (the TorchScript exporter).

mmdeploy 1.3.1 exports through ``torch.onnx.export`` and builds on the
TorchScript exporter: its rewriters patch ``torch.onnx`` symbolic
functions, its custom ops are TorchScript ``symbolic`` methods, and it
reads the traced graph. From torch 2.9 on, ``torch.onnx.export`` defaults
to the dynamo exporter (``dynamo=True``), which ignores all of that (on
the CrossFormer++-S classifier it had not finished after 15 minutes).
torch 2.9 also moved the TorchScript exporter's symbolic functions to
``torch.onnx._internal`` and keeps only their public names in
``torch.onnx.symbolic_opset9`` and friends, while mmdeploy's RoIAlign
symbolic (Mask R-CNN's RoI heads, ONNX Runtime) imports the private
``torch.onnx.symbolic_opset9._cast_Long``.
:func:`torchscript_onnx_export` switches the default back and puts the
private names mmdeploy needs back in place, for the duration of a ``with``
block; mmdeploy's files are not touched.

Example:
    >>> from mmdeploy.apis import torch2onnx
    >>> from mmcrossformer.deployment import torchscript_onnx_export
    >>> with torchscript_onnx_export():
    ...     torch2onnx(img, work_dir, 'end2end.onnx', deploy_cfg,
    ...                model_cfg, checkpoint, device='cpu')

Details and measured results: docs/en/deployment.md.
"""
import contextlib
import functools
import importlib
import inspect
from typing import Callable, Iterator, List, Tuple

import torch.onnx

__all__ = ['torchscript_onnx_export', 'exporter_takes_dynamo']

# (public module, name, module that holds it in torch >= 2.9): private
# symbolic helpers that mmdeploy 1.3.1 imports from the public modules on
# the ONNX Runtime path (mmdeploy/mmcv/ops/roi_align.py)
_MOVED_SYMBOLICS = (
    ('torch.onnx.symbolic_opset9', '_cast_Long',
     'torch.onnx._internal.torchscript_exporter.symbolic_opset9'),
)


def _restore_moved_symbolics() -> List[Tuple[object, str]]:
    """Set the names of ``_MOVED_SYMBOLICS`` that the public modules lack.

    Returns:
        list[tuple[module, str]]: What was set, to be deleted on exit.
    """
    added = []
    for public, name, private in _MOVED_SYMBOLICS:
        try:
            module = importlib.import_module(public)
            source = importlib.import_module(private)
        except ImportError:  # an older or newer torch: nothing to restore
            continue
        if not hasattr(module, name) and hasattr(source, name):
            setattr(module, name, getattr(source, name))
            added.append((module, name))
    return added


def _keep_method_descriptors() -> Tuple[Callable, List[tuple]]:
    """Make mmdeploy's function rewriter keep static / class methods.

    mmdeploy 1.3.1 restores a rewritten method on exit with the function it
    read through the class, so a ``staticmethod`` comes back as a plain
    function and is bound from then on (after one export, mmpretrain's
    Swin fails: ``ShiftWindowMSA.get_attn_mask() got multiple values for
    argument 'window_size'``). This wraps mmdeploy's ``_set_func`` to note
    each class attribute it replaces, as it was, so that the block's exit
    can put the descriptors back.

    Returns:
        tuple: (the original ``_set_func`` or None without mmdeploy, the
        list of ``(class, name, descriptor)`` noted so far).
    """
    try:
        rewriter = importlib.import_module(
            'mmdeploy.core.rewriters.function_rewriter')
    except ImportError:
        return None, []
    original = rewriter._set_func
    noted = []

    def set_func(origin_func_path, *args, **kwargs):
        parts = origin_func_path.split('.')
        owner = None
        for i in range(len(parts) - 1, 0, -1):
            try:
                owner = importlib.import_module('.'.join(parts[:i]))
            except ImportError:
                continue
            for part in parts[i:-1]:
                owner = getattr(owner, part, None)
            break
        raw = owner.__dict__.get(parts[-1]) if isinstance(owner,
                                                          type) else None
        if isinstance(raw, (staticmethod, classmethod)) and not any(
                o is owner and n == parts[-1] for o, n, _ in noted):
            noted.append((owner, parts[-1], raw))
        return original(origin_func_path, *args, **kwargs)

    rewriter._set_func = set_func
    return original, noted


def exporter_takes_dynamo(export: Callable = None) -> bool:
    """Whether ``torch.onnx.export`` has the ``dynamo`` switch (torch >= 2.5).

    Args:
        export (Callable, optional): The function to inspect. Defaults to
            ``torch.onnx.export``.

    Returns:
        bool: True if ``export`` takes a ``dynamo`` keyword argument.
    """
    export = torch.onnx.export if export is None else export
    try:
        return 'dynamo' in inspect.signature(export).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


@contextlib.contextmanager
def torchscript_onnx_export() -> Iterator[Callable]:
    """Make ``torch.onnx.export`` default to the TorchScript exporter.

    Inside the block, a call of ``torch.onnx.export`` without a ``dynamo``
    argument runs with ``dynamo=False``; an explicit ``dynamo=True`` is
    refused, because mmdeploy's rewrites only act on the TorchScript
    exporter. On a torch without the switch (< 2.5) the block changes
    nothing. Private symbolic helpers that mmdeploy imports from
    ``torch.onnx.symbolic_opset9`` (``_cast_Long``) are made available
    there when torch has moved them. Static and class methods that
    mmdeploy's rewriter replaced come back as such (mmdeploy 1.3.1 leaves
    them plain functions). Everything is restored on exit, also after an
    error. Blocks may be nested.

    Yields:
        Callable: The function ``torch.onnx.export`` is inside the block.

    Raises:
        ValueError: If code inside the block calls ``torch.onnx.export``
            with ``dynamo=True``.
    """
    original = torch.onnx.export
    if not exporter_takes_dynamo(original):
        yield original
        return

    @functools.wraps(original)
    def export(*args, **kwargs):
        if kwargs.get('dynamo', False):
            raise ValueError(
                'torch.onnx.export(dynamo=True) was called inside '
                'torchscript_onnx_export(); mmdeploy needs the TorchScript '
                'exporter (dynamo=False). Call it outside the block.')
        kwargs['dynamo'] = False
        return original(*args, **kwargs)

    torch.onnx.export = export
    added = _restore_moved_symbolics()
    set_func, noted = _keep_method_descriptors()
    try:
        yield export
    finally:
        torch.onnx.export = original
        for module, name in added:
            delattr(module, name)
        if set_func is not None:
            importlib.import_module(
                'mmdeploy.core.rewriters.function_rewriter'
            )._set_func = set_func
        for owner, name, raw in noted:
            setattr(owner, name, raw)
