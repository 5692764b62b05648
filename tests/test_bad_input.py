"""Bad input gets a clear error naming the bad value (issue #7, item 1).

Unknown / incomplete arch, out_indices, frozen_stages and wrong channels are
covered in tests/test_models/test_backbones/test_crossformer.py."""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmcrossformer.models import CrossFormer
from mmcrossformer.testing import CONFIGS, REPO, TOOLS
from mmcrossformer.utils.config_check import (
    check_data_roots,
    check_in_channels,
)

RETINANET = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py')
TINY = dict(embed_dims=32, depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
            group_size=[4, 4, 4, 4], interval=[2, 2, 1, 1])


def test_input_smaller_than_total_stride():
    model = CrossFormer(arch=copy.deepcopy(TINY)).eval()
    with pytest.raises(ValueError, match='16x64 .*total stride 32'):
        model(torch.rand(1, 3, 16, 64))
    assert len(model(torch.rand(1, 3, 32, 33))) == 4


def test_checkpoint_of_another_arch_or_task(tmp_path):
    other = CrossFormer(arch=dict(TINY, embed_dims=64, num_heads=[2, 4, 8,
                                                                  16]))
    ckpt = tmp_path / 'other_arch.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in other.state_dict().items()}},
               ckpt)
    model = CrossFormer(
        arch=copy.deepcopy(TINY),
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                      prefix='backbone.'))
    with pytest.raises(ValueError, match='wrong shape keys.*patch_embed'):
        model.init_weights()
    # a detector checkpoint whose backbone has ACL layers the model lacks
    acl = CrossFormer(arch=dict(TINY, depths=[1, 1, 4, 1], use_acl=True))
    det = {f'backbone.{k}': v for k, v in acl.state_dict().items()}
    det['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    torch.save({'state_dict': det}, tmp_path / 'det.pth')
    model = CrossFormer(
        arch=dict(TINY, depths=[1, 1, 4, 1]),
        init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'det.pth'),
                      prefix='backbone.'))
    with pytest.raises(ValueError, match=r'unexpected keys.*acl\.conv'):
        model.init_weights()
    model = CrossFormer(
        arch=copy.deepcopy(TINY),
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                      prefix='model.'))
    with pytest.raises(ValueError, match="prefix 'model.'"):
        model.init_weights()


def test_neck_channels_must_match_backbone():
    cfg = Config.fromfile(RETINANET)
    check_in_channels(cfg.model)  # the shipped config is consistent
    cfg.model.neck.in_channels = [96, 192, 384, 768]
    with pytest.raises(ValueError,
                       match=r'\[96, 192, 384, 768\].*\[64, 128, 256, 512\]'):
        check_in_channels(cfg.model)
    seg = Config.fromfile(osp.join(CONFIGS, 'upernet_crossformer_s_ade20k.py'))
    check_in_channels(seg.model)
    seg.model.auxiliary_head.in_channels = 256
    with pytest.raises(ValueError, match='auxiliary_head.in_channels = 256'):
        check_in_channels(seg.model)
    cls = Config.fromfile(osp.join(CONFIGS, 'crossformer_t_in1k.py'))
    check_in_channels(cls.model)
    cls.model.head.in_channels = 768
    with pytest.raises(ValueError, match='768.*512'):
        check_in_channels(cls.model)


def test_missing_dataset_path(tmp_path):
    cfg = Config.fromfile(RETINANET)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        check_data_roots(cfg)
    proc = subprocess.run(
        [sys.executable, osp.join(TOOLS, 'train.py'),
         RETINANET, '--work-dir',
         str(tmp_path / 'w'), '--cfg-options',
         f'train_dataloader.dataset.data_root={tmp_path}/no_coco/'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f'{tmp_path}/no_coco/' in proc.stderr and \
        'does not exist' in proc.stderr
