"""Import a model file of an official implementation from a user's clone.

The official code (https://github.com/cheerss/CrossFormer,
https://github.com/IBM/CrossViT) is not part of this project and is never
copied into it. ``tools/analysis_tools/benchmark_official.py`` and
``tools/model_converters/record_official_fixture.py`` import its model files
from a clone that the user passes, with the shims below for the names of
older libraries that those files import.
"""
import contextlib
import importlib.util
import os.path as osp
import sys
import types
from typing import Iterator


@contextlib.contextmanager
def legacy_openmmlab_names() -> Iterator[None]:
    """Let the mmcv 1.x / mmdet 2.x names of the official CrossFormer
    detection file resolve while it is imported.

    ``models/crossformer_backbone_det.py`` imports ``mmcv.runner``
    (``BaseModule``, ``ModuleList``, ``load_checkpoint``,
    ``_load_checkpoint``), ``mmcv.cnn`` (``constant_init``,
    ``trunc_normal_init`` besides today's names),
    ``mmcv.cnn.utils.weight_init.trunc_normal_`` and
    ``mmdet.utils.get_root_logger``. Inside the ``with`` block these modules
    are stand-ins holding the mmengine / mmcv 2.x counterparts; afterwards
    ``sys.modules`` holds what it held before.
    """
    import mmcv.cnn
    import mmcv.cnn.bricks.transformer  # noqa: F401 (real, imported first)
    import mmdet  # noqa: F401
    from mmengine.logging import MMLogger
    from mmengine.model import BaseModule, ModuleList, weight_init
    from mmengine.runner import checkpoint as ckpt

    runner = types.ModuleType('mmcv.runner')
    runner.BaseModule, runner.ModuleList = BaseModule, ModuleList
    runner.load_checkpoint = ckpt.load_checkpoint
    runner._load_checkpoint = ckpt._load_checkpoint
    cnn = types.ModuleType('mmcv.cnn')
    cnn.__dict__.update(vars(mmcv.cnn))
    cnn.constant_init = weight_init.constant_init
    cnn.trunc_normal_init = weight_init.trunc_normal_init
    cnn_utils = types.ModuleType('mmcv.cnn.utils')
    init = types.ModuleType('mmcv.cnn.utils.weight_init')
    init.trunc_normal_ = weight_init.trunc_normal_
    det_utils = types.ModuleType('mmdet.utils')
    det_utils.get_root_logger = lambda *a, **k: MMLogger.get_current_instance()
    stand_ins = {
        'mmcv.runner': runner,
        'mmcv.cnn': cnn,
        'mmcv.cnn.utils': cnn_utils,
        'mmcv.cnn.utils.weight_init': init,
        'mmdet.utils': det_utils,
    }
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def import_official_file(root: str, relpath: str, module_name: str,
                         repo: str) -> types.ModuleType:
    """Import ``relpath`` of the clone at ``root`` as ``module_name``.

    Args:
        root (str): Root of the clone.
        relpath (str): The model file inside it, e.g.
            ``'models/crossformer.py'``.
        module_name (str): Name of the new module (not added to
            ``sys.modules``).
        repo (str): URL of the official repository, for the error message.

    Returns:
        module: The executed file.

    Raises:
        FileNotFoundError: When the clone does not have the file.
    """
    path = osp.join(root, relpath)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: {root} must be the root of a clone of '
            f'{repo}')
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


__all__ = ['legacy_openmmlab_names', 'import_official_file']
