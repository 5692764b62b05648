"""Smoke + sanity tests of the CrossFormer++ analysis tools."""
import glob
import os.path as osp
import re

import numpy as np
import torch

from mmcrossformer.apis.analysis import (
    attention_regions,
    block_amplitudes,
    load_backbone,
    load_image,
    region_size,
)
from mmcrossformer.testing import CONFIGS, run_tool

CONFIG = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')


def _image(demo_coco):
    return sorted(glob.glob(osp.join(demo_coco, 'val2017', '*.jpg')))[0]


def test_functions(demo_coco):
    model, norm = load_backbone(CONFIG)
    img = load_image(_image(demo_coco), (96, 128), norm)
    assert img.shape == (1, 3, 96, 128)
    amps = block_amplitudes(model, img)
    assert len(amps) == sum(len(s.blocks) for s in model.stages) == 24
    assert all(v > 0 and np.isfinite(v) for _, _, v in amps)
    maps = attention_regions(model, img)
    assert len(maps) == 8  # last SDA + last LDA block of 4 stages
    for (s, b), heat in maps.items():
        assert heat.shape == (96 // 4 // 2**s, 128 // 4 // 2**s)
        assert abs(heat.sum() - 1) < 1e-4
        assert 1 <= region_size(heat) <= 49  # within one 7x7 group
    no_acl, _ = load_backbone(CONFIG, use_acl=False)
    assert all(b.acl is None for s in no_acl.stages for b in s.blocks)
    # --cfg-options of the tools; backbone overrides are applied after them
    no_acl, _ = load_backbone(
        CONFIG, cfg_options={'model.backbone.use_acl': False})
    assert all(b.acl is None for s in no_acl.stages for b in s.blocks)
    acl, _ = load_backbone(
        CONFIG, cfg_options={'model.backbone.use_acl': False}, use_acl=True)
    assert any(b.acl is not None for s in acl.stages for b in s.blocks)


def test_tools_write_pngs(demo_coco, tmp_path):
    model, _ = load_backbone(CONFIG)
    ckpt = tmp_path / 'backbone.pth'
    torch.save({f'backbone.{k}': v for k, v in model.state_dict().items()},
               ckpt)
    out = run_tool('analysis_tools/amplitude.py', CONFIG, str(ckpt), '--img',
                   _image(demo_coco), '--size', '64', '64', '--out-dir',
                   str(tmp_path / 'amp'))
    rows = re.findall(r'^\s+\d+\s+\d\s+[0-9.]+\s+[0-9.]+$', out, re.M)
    assert len(rows) == 24, out[-2000:]
    assert osp.getsize(tmp_path / 'amp' / 'amplitude.png') > 1000
    out = run_tool('analysis_tools/attention_regions.py', CONFIG, '--img',
                   _image(demo_coco), '--size', '64', '64', '--out-dir',
                   str(tmp_path / 'attn'), '--cfg-options',
                   'model.backbone.use_acl=False')
    assert len(re.findall(r'^\s+\d\s+\d+\s+(sda|lda)', out, re.M)) == 8
    assert osp.getsize(tmp_path / 'attn' / 'attention_regions.png') > 1000
