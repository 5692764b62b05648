"""mmcrossformer.apis.build_model / init_model: scope, pretrained weights
left out, weights, files read as data, eval mode."""
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from mmcrossformer.apis import build_model, init_model
from mmcrossformer.testing import CONFIGS


def _classifier_cfg(**backbone):
    backbone = dict(type='mmcrossformer.CrossFormer', arch='pp-s', **backbone)
    return Config(
        dict(
            default_scope='mmpretrain',
            model=dict(
                type='ImageClassifier',
                backbone=backbone,
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead', num_classes=3, in_channels=768))))


@pytest.fixture(scope='module')
def model():
    return init_model(_classifier_cfg())


def test_from_file_in_its_scope():
    cfg_file = osp.join(CONFIGS, 'crossformerpp_s_in1k.py')
    net = init_model(cfg_file, cfg_options={'model.head.num_classes': 7})
    assert type(net).__name__ == 'ImageClassifier'
    assert type(net.backbone).__name__ == 'CrossFormer'
    assert not net.training and not net.backbone.training
    assert net.cfg.model.head.num_classes == 7
    assert net.cfg.model.backbone.get('init_cfg') is None
    assert net.head.fc.out_features == 7


def test_config_object_is_not_changed():
    cfg = _classifier_cfg(init_cfg=dict(type='Pretrained', checkpoint='x'))
    net = init_model(cfg)
    assert cfg.model.backbone.init_cfg.checkpoint == 'x'
    assert net.cfg is not cfg and not net.training


def test_sync_bn_becomes_batch_norm():
    cfg = Config(
        dict(
            default_scope='mmpretrain',
            model=dict(
                type='ImageClassifier',
                backbone=dict(
                    type='ResNet', depth=18, norm_cfg=dict(type='SyncBN')))))
    net = init_model(cfg)
    norms = [m for m in net.modules() if isinstance(m, _BatchNorm)]
    assert norms and not any(
        isinstance(m, torch.nn.SyncBatchNorm) for m in norms)


def test_loads_weights_and_dataset_meta(model, tmp_path):
    state = {k: torch.randn_like(v) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    path = str(tmp_path / 'weights.pth')
    meta = dict(dataset_meta=dict(CLASSES=['a', 'b', 'c']))
    torch.save(dict(state_dict=state, meta=meta), path)
    net = init_model(_classifier_cfg(), checkpoint=path)
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert net.dataset_meta == {'classes': ['a', 'b', 'c']}
    assert not net.training


def test_partial_weights_refused(model, tmp_path):
    state = dict(model.state_dict())
    state.pop('head.fc.weight')
    path = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(ValueError, match=r'partial\.pth does not fit the '
                       r"model \(ImageClassifier\): 1 missing keys: "
                       r"\['head\.fc\.weight'\]"):
        init_model(_classifier_cfg(), checkpoint=path)


class Note:
    """An object of some class in a checkpoint (refused as code)."""


def test_files_are_read_as_data(model, tmp_path):
    """No directory makes a file trusted: one that mmengine's CheckpointHook
    marked as a work_dir (``last_checkpoint``) neither."""
    ckpt = dict(state_dict=model.state_dict(), extra=Note())
    work_dir = tmp_path / 'work_dir'
    work_dir.mkdir()
    torch.save(ckpt, str(work_dir / 'epoch_1.pth'))
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    with pytest.raises(pickle.UnpicklingError, match='epoch_1.pth holds '
                       'other objects than weights'):
        init_model(_classifier_cfg(), checkpoint=str(work_dir / 'epoch_1.pth'))


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match='Config'):
        init_model(dict(model=dict(type='ImageClassifier')))
    with pytest.raises(FileNotFoundError):
        init_model(_classifier_cfg(), checkpoint=str(tmp_path / 'no.pth'))


def test_module_prefix_of_data_parallel_is_ignored(model, tmp_path):
    state = {'module.' + k: v for k, v in model.state_dict().items()}
    path = str(tmp_path / 'dp.pth')
    torch.save(state, path)  # a bare state dict
    net = init_model(_classifier_cfg(), checkpoint=path)
    assert torch.equal(net.head.fc.weight, model.head.fc.weight)


def test_build_model_untrained_without_pretrained_weights():
    """build_model reads no weights: a Pretrained init_cfg (here a file
    that does not exist) is left out, other init_cfg entries are kept, and
    a top-level data_preprocessor goes into the model as the Runner puts
    it."""
    cfg = _classifier_cfg(init_cfg=[
        dict(type='Pretrained', checkpoint='nowhere.pth'),
        dict(type='Constant', layer='LayerNorm', val=1.)
    ])
    cfg.data_preprocessor = dict(
        type='ClsDataPreprocessor', mean=[1., 2., 3.], std=[4., 5., 6.])
    cfg.model.pretrained = 'nowhere.pth'
    net = build_model(cfg)
    assert not net.training and 'pretrained' not in net.cfg.model
    assert net.cfg.model.backbone.init_cfg == [
        dict(type='Constant', layer='LayerNorm', val=1.)
    ]
    assert net.data_preprocessor.mean.flatten().tolist() == [1., 2., 3.]
    net.init_weights()  # nothing to download
    assert cfg.model.pretrained == 'nowhere.pth'  # the caller's copy
