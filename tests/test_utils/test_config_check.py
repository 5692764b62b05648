"""mmcrossformer.utils.config_check: a config whose channels do not fit
its backbone, or whose data is missing, stops with the bad value named."""
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmcrossformer.testing import CONFIGS, REPO, TOOLS
from mmcrossformer.utils.config_check import (
    check_data_roots,
    check_in_channels,
)

RETINANET = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py')


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


def test_stage_channels_without_building():
    from mmcrossformer.models import CrossFormer
    assert CrossFormer.stage_channels('s', (1, -1)) == [192, 768]
    assert CrossFormer.stage_channels('pp-s') == [64, 128, 256, 512]
    with pytest.raises(ValueError, match='out_indices entry 4'):
        CrossFormer.stage_channels('t', (0, 4))
