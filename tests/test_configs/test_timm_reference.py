"""configs/reference/timm_crossvit_15_240_in1k.py: timm's crossvit_15_240
through mmpretrain's TimmClassifier, the peer of configs/crossvit_15_in1k.py
in tools/analysis_tools/benchmark.py."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmcrossformer.testing import CONFIGS

timm = pytest.importorskip('timm')

REFERENCE = osp.join(CONFIGS, 'reference', 'timm_crossvit_15_240_in1k.py')
# timm's crossvit_15_240, both heads included; our CrossViT-15 with its
# CrossViTClsHead has as many (tests/test_models/test_backbones/
# test_crossvit.py, TIMM_PARAMS['15'])
PARAMS = 27_528_464


@pytest.fixture(scope='module')
def reference():
    from mmcrossformer.apis import init_model
    torch.manual_seed(0)
    return init_model(REFERENCE)


def test_config_is_timm_classifier_with_the_crossvit_recipe():
    cfg = Config.fromfile(REFERENCE)
    ours = Config.fromfile(osp.join(CONFIGS, 'crossvit_15_in1k.py'))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.type == 'TimmClassifier'
    assert cfg.model.model_name == 'crossvit_15_240'
    assert cfg.model.pretrained is False  # no download
    assert 'backbone' not in cfg.model  # _delete_: no CrossViT leftovers
    # the same loss, batch augments, data and schedule as ours
    assert cfg.model.loss == ours.model.head.loss
    assert cfg.model.train_cfg == ours.model.train_cfg
    for key in ('data_preprocessor', 'train_dataloader', 'val_dataloader',
                'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert cfg[key] == ours[key], key


def test_builds_timm_crossvit_whole(reference):
    from mmpretrain.models import TimmClassifier
    assert isinstance(reference, TimmClassifier)
    assert not reference.training
    assert type(reference.model).__name__ == 'CrossVit'
    assert sum(p.numel() for p in reference.parameters()) == PARAMS
    # mmpretrain saves timm's own keys (no 'model.' prefix)
    keys = set(reference.state_dict())
    assert keys == set(timm.create_model('crossvit_15_240').state_dict())
    assert {'head.0.weight', 'head.1.weight'} <= keys


def test_tensor_mode_gives_logits(reference):
    """What the benchmark's 'model' part calls."""
    for size in (224, 240):
        with torch.no_grad():
            logits = reference(torch.randn(2, 3, size, size), mode='tensor')
        assert logits.shape == (2, 1000)
        assert torch.isfinite(logits).all()


def test_train_step_with_the_runner_data_preprocessor():
    """As the Runner builds it (the config's top-level data_preprocessor
    joins the model): one optimisation step with Mixup / CutMix labels."""
    from mmengine.optim import OptimWrapper
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(REFERENCE)
    model_cfg = cfg.model
    model_cfg.data_preprocessor = cfg.data_preprocessor
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    batch = dict(
        inputs=[torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=[DataSample().set_gt_label(i) for i in (3, 7)])
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = model.model.head[0].weight.detach().clone()
    losses = model.train_step(batch, wrapper)
    assert torch.isfinite(losses['loss'])
    assert not torch.equal(before, model.model.head[0].weight)
