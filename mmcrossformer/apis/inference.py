"""Build a model from a config, optionally load its weights, for inference.

Works for the configs of every family (mmpretrain classifiers, mmdet
detectors, mmseg segmentors): the model is built by the registry of the
config's ``default_scope`` package.
"""
import copy
import importlib
from pathlib import Path
from typing import Optional, Union

import torch.nn as nn
from mmengine.config import Config


def _registry(scope: Optional[str]):
    """The model registry of ``scope`` (ours when the config names none)."""
    if scope in (None, 'mmcrossformer'):
        from mmcrossformer.registry import MODELS
        return MODELS
    try:
        return importlib.import_module(f'{scope}.registry').MODELS
    except ImportError as err:
        raise ValueError(f'cannot build a model of default_scope={scope!r}: '
                         f'{err}') from err


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """A config's model in eval mode, with the weights of ``checkpoint``.

    The model is built in the config's ``default_scope``. Pretrained weights
    that the config names (``pretrained``, the backbone's ``init_cfg``) are
    not fetched: the weights are those of ``checkpoint``, or the freshly
    built ones when it is None. A SyncBN layer becomes a plain BatchNorm,
    so that the model runs without a process group.

    Local checkpoints are read by the loader of
    :mod:`mmcrossformer.utils.checkpoint`: a file from a training work_dir
    is unpickled in full, any other with ``torch.load(weights_only=True)``.

    Args:
        config (str | Path | Config): Config file or object. A Config
            object is copied, not changed.
        checkpoint (str, optional): Weights to load (a path or an URL that
            mmengine reads). Every parameter and buffer of the model must be
            in it, with the right shape. Defaults to None.
        device (str): Device of the returned model. Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` (the config used)
        and, when the checkpoint's meta has it, ``dataset_meta``.

    Raises:
        TypeError: If ``config`` is neither a path nor a Config.
        ValueError: If the scope's package cannot be imported.
        RuntimeError: If the checkpoint does not fit the model.
    """
    if isinstance(config, (str, Path)):
        cfg = Config.fromfile(str(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError(f'config must be a file name or a Config, got '
                        f'{type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)

    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    scope = cfg.get('default_scope')
    if scope is not None:
        init_default_scope(scope)
    import mmcrossformer  # noqa: F401  (registers our modules)
    model_cfg = cfg.model
    if 'init_cfg' in model_cfg.get('backbone', {}):
        model_cfg.backbone.init_cfg = None
    model_cfg.pop('pretrained', None)
    model = revert_sync_batchnorm(_registry(scope).build(model_cfg))

    if checkpoint is not None:
        from mmengine.runner.checkpoint import (
            CheckpointLoader,
            load_checkpoint,
        )

        from mmcrossformer.utils.checkpoint import load_local_checkpoint
        CheckpointLoader.register_scheme(
            prefixes='', loader=load_local_checkpoint, force=True)
        ckpt = load_checkpoint(
            model, checkpoint, map_location='cpu', strict=True)
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        if 'dataset_meta' in meta:
            model.dataset_meta = {
                key.lower(): value
                for key, value in meta['dataset_meta'].items()
            }
    model.cfg = cfg
    model.to(device)
    return model.eval()
