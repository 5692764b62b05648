"""Small models for tests: a tiny CrossFormer, and a config's model built
the way mmengine's Runner builds it."""
import copy
import importlib
import os.path as osp
from typing import Tuple

import torch.nn as nn

#: A CrossFormer++-style arch (ACL on) small enough for unit tests: four
#: stages of 32-256 channels, group size 4.
TINY_CROSSFORMER = dict(
    embed_dims=32,
    depths=[1, 2, 3, 2],
    num_heads=[1, 2, 4, 8],
    group_size=[4, 4, 4, 4],
    interval=[4, 2, 2, 1],
    use_acl=True)


def tiny_crossformer(**kwargs) -> nn.Module:
    """A :class:`~mmcrossformer.models.CrossFormer` with
    :data:`TINY_CROSSFORMER` (unless ``arch`` is given), initialised.

    Args:
        **kwargs: Further ``CrossFormer`` arguments.
    """
    from mmcrossformer.models import CrossFormer
    kwargs.setdefault('arch', copy.deepcopy(TINY_CROSSFORMER))
    model = CrossFormer(**kwargs)
    model.init_weights()
    return model


def build_config_model(config: str) -> Tuple[object, nn.Module]:
    """The config and its untrained model, built under the config's
    default scope with the config's data preprocessor (as mmengine's Runner
    does), SyncBN reverted to BN (so it runs in one CPU process).

    Args:
        config (str): A config file; a bare name is looked up in the
            checkout's configs/.

    Returns:
        tuple[Config, nn.Module]
    """
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope

    import mmcrossformer  # noqa: F401 (custom_imports does this in Runner)

    from .runs import CONFIGS
    if not osp.isfile(config):
        config = osp.join(CONFIGS, config)
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    registry = {
        'mmdet': 'mmdet.registry',
        'mmseg': 'mmseg.registry',
        'mmpretrain': 'mmpretrain.registry'
    }[cfg.default_scope]
    models = importlib.import_module(registry).MODELS
    model_cfg = cfg.model
    if cfg.get('data_preprocessor') is not None:  # as mmengine's Runner
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    return cfg, revert_sync_batchnorm(models.build(model_cfg))
