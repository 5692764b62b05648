"""Build a config's model, with or without trained weights.

Works for the configs of every family (mmpretrain classifiers, mmdet
detectors, mmseg segmentors): the model is built by the registry of the
config's ``default_scope`` package, as ``tools/train.py`` builds it.
:func:`build_model` gives the untrained model (mmpretrain's ``get_model``
with ``pretrained=False``), :func:`init_model` the model with the weights of
a checkpoint (mmdet's ``init_detector``, mmpretrain's ``init_model``).
"""
import copy
import importlib
from pathlib import Path
from typing import Optional, Union

import torch.nn as nn
from mmengine.config import Config

ConfigLike = Union[str, Path, Config]


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


def _config(config: ConfigLike, cfg_options: Optional[dict]) -> Config:
    """A private copy of ``config`` with ``cfg_options`` merged in."""
    if isinstance(config, (str, Path)):
        cfg = Config.fromfile(str(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError(f'config must be a file name or a Config, got '
                        f'{type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _without_pretrained(init_cfg):
    """``init_cfg`` without its ``Pretrained`` entries (None if empty)."""
    if isinstance(init_cfg, dict):
        return None if init_cfg.get('type') == 'Pretrained' else init_cfg
    if isinstance(init_cfg, (list, tuple)):
        kept = [c for c in init_cfg if _without_pretrained(c) is not None]
        return kept or None
    return init_cfg


def _build(cfg: Config) -> nn.Module:
    """The model of ``cfg`` (changed in place) on the CPU, in eval mode."""
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    scope = cfg.get('default_scope')
    if scope is not None:
        init_default_scope(scope)
    import mmcrossformer  # noqa: F401  (registers our modules)
    model_cfg = cfg.model
    # as mmengine's Runner: a top-level data_preprocessor is the model's
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    if isinstance(model_cfg.get('backbone'), dict) and \
            'init_cfg' in model_cfg.backbone:
        model_cfg.backbone.init_cfg = _without_pretrained(
            model_cfg.backbone.init_cfg)
    model_cfg.pop('pretrained', None)
    model = revert_sync_batchnorm(_registry(scope).build(model_cfg))
    model.cfg = cfg
    return model.eval()


def build_model(config: ConfigLike,
                cfg_options: Optional[dict] = None,
                device: str = 'cpu') -> nn.Module:
    """A config's model, untrained, in eval mode.

    The model is built in the config's ``default_scope`` (a top-level
    ``data_preprocessor`` goes into the model, as mmengine's Runner does)
    without the pretrained weights that the config names (``pretrained``, a
    ``Pretrained`` entry of the backbone's ``init_cfg``): no download, no
    file read. The weights are those the modules' constructors draw, as
    mmpretrain's ``get_model(pretrained=False)`` and mmdet's
    ``init_detector`` leave them; call ``model.init_weights()`` for the
    initialisation a training run starts from. A SyncBN layer becomes a
    plain BatchNorm, so that the model runs without a process group.

    Args:
        config (str | Path | Config): Config file or object. A Config
            object is copied, not changed.
        cfg_options (dict, optional): Overrides merged into the config.
            Defaults to None.
        device (str): Device of the returned model. Defaults to 'cpu'.

    Returns:
        nn.Module: The model, with ``cfg`` (the config used; its
        ``default_scope`` names the family).

    Raises:
        TypeError: If ``config`` is neither a path nor a Config.
        ValueError: If the scope's package cannot be imported.
    """
    return _build(_config(config, cfg_options)).to(device)


def init_model(config: ConfigLike,
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """A config's model in eval mode, with the weights of ``checkpoint``.

    Built as :func:`build_model` builds it, then the checkpoint's weights
    are loaded strictly. Files are read as data, never unpickled in full
    (:mod:`mmcrossformer.utils.checkpoint`); official files as released
    (cheerss/CrossFormer, IBM/CrossViT, timm) are recognised from their keys
    and converted in memory
    (:func:`~mmcrossformer.models.utils.ckpt_load.model_state`).

    Args:
        config (str | Path | Config): Config file or object. A Config
            object is copied, not changed.
        checkpoint (str, optional): A training checkpoint (its
            ``state_dict``), a plain state dict or an official file, as a
            path or an ``http(s)://`` URL.
            Every parameter and buffer of the model must be in it, with the
            right shape; a leading ``module.`` on the keys is ignored.
            Defaults to None: the model as :func:`build_model` returns it.
        device (str): Device of the returned model. Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config.
            Defaults to None.

    Returns:
        nn.Module: The model, with ``cfg`` (the config used) and, when the
        checkpoint's meta has it, ``dataset_meta`` (keys lower-cased).

    Raises:
        TypeError: If ``config`` is neither a path nor a Config.
        ValueError: If the scope's package cannot be imported, or the
            checkpoint does not fit the model (the message lists the
            missing, unexpected and wrong-shape keys, see
            :func:`mmcrossformer.utils.state_dict.load_state_dict_strict`)
            or is an official file of another family, arch or task.
        FileNotFoundError: If a local checkpoint does not exist.
        pickle.UnpicklingError: If the file holds more than weights.
    """
    model = _build(_config(config, cfg_options))
    if checkpoint is None:
        return model.to(device)
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmcrossformer.models.utils.ckpt_load import model_state
    from mmcrossformer.utils.state_dict import load_state_dict_strict
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise ValueError(f'{checkpoint} holds no state dict but a '
                         f'{type(ckpt).__name__}')
    state = model_state(ckpt, model, checkpoint)
    load_state_dict_strict(model, state, checkpoint)
    meta = ckpt.get('meta') or {}
    if 'dataset_meta' in meta:
        model.dataset_meta = {
            key.lower(): value
            for key, value in meta['dataset_meta'].items()
        }
    elif 'CLASSES' in meta:  # mmdet 2.x / mmseg 0.x checkpoints
        model.dataset_meta = dict(classes=meta['CLASSES'])
        if meta.get('PALETTE') is not None:
            model.dataset_meta['palette'] = meta['PALETTE']
    return model.to(device)
