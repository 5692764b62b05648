"""Small models for tests: a tiny CrossFormer, a tiny dense CrossViT, and a
config's model built
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


#: A two-encoder CrossViT small enough for unit tests (branch widths 16 /
#: 32, one and two layers per encoder), with linear patch embeddings; the
#: dagger variant (``multi_conv``, three-convolution embeddings) is wider.
TINY_CROSSVIT = dict(
    embed_dims=(16, 32),
    depths=(1, 2),
    num_heads=(2, 4),
    mlp_ratios=(2, 2),
    num_encoders=2)
TINY_CROSSVIT_DAGGER = dict(TINY_CROSSVIT, embed_dims=(32, 64),
                            multi_conv=True)


def tiny_dense_crossvit(arch: dict = TINY_CROSSVIT, **kwargs) -> nn.Module:
    """A :class:`~mmcrossformer.models.CrossViT` in dense mode (strides 8
    and 16, ``dense_pos_size`` 128 unless given, no drop path),
    initialised, in eval mode.

    Args:
        arch (dict): The arch; defaults to :data:`TINY_CROSSVIT`.
        **kwargs: Further ``CrossViT`` arguments.
    """
    from mmcrossformer.models import CrossViT
    kwargs.setdefault('dense_pos_size', 128)
    model = CrossViT(
        arch=copy.deepcopy(arch), out_type='featmap', dense_strides=(8, 16),
        drop_path_rate=0., **kwargs)
    model.init_weights()
    return model.eval()


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
