"""The training-step profile: every brick of a real backbone counted once
per call, nested bricks inside their parents, and both tables printed."""
import os.path as osp

import torch

from mmcrossformer.apis.profiling import (
    brick_profile,
    format_bricks,
    operator_profile,
)
from mmcrossformer.models import CrossFormer
from mmcrossformer.testing import CONFIGS, run_tool


def tiny_backbone():
    torch.manual_seed(0)
    return CrossFormer(
        arch=dict(embed_dims=32, depths=[2, 2, 4, 1], num_heads=[1, 2, 4, 8],
                  group_size=[4] * 4, interval=[4, 2, 1, 1], use_acl=True),
        drop_path_rate=0.).train()


def test_bricks_counted_and_nested():
    model = tiny_backbone()
    report = brick_profile(model, model, torch.randn(1, 3, 64, 96),
                           repeat=1)
    counts = {label: row['count'] for label, row in report.items()}
    # 9 blocks, each with one L/SDA, one DPB and two norms; 4 CEL (the stem
    # with a norm, three merges with a pre-norm each); one ACL (with its
    # norm) after block 3 of stage 3 (every third block but a stage's last)
    assert counts == {'CEL': 4, 'LayerNorm': 2 * 9 + 4 + 1, 'block': 9,
                      'L/SDA': 9, 'DPB': 9, 'ACL': 1, 'step': 1}
    block, lsda = report['block'], report['L/SDA']
    step = report['step']
    assert 0 < lsda['forward_s'] < block['forward_s'] < step['forward_s']
    assert 0 < lsda['backward_s'] < block['backward_s'] < step['backward_s']
    # the stem reads the images, which need no gradient: its backward end
    # is not observable, and the table says so
    assert report['CEL']['backward_s'] is None
    table = format_bricks([('tiny', report)])
    assert '| tiny | CEL | 4 |' in table and '| n/a |' in table
    # the hooks are gone: the model trains as before
    model(torch.randn(1, 3, 64, 96))[0].mean().backward()


def test_operator_tables_split_forward_and_backward():
    model = tiny_backbone()
    tables = operator_profile(model, torch.randn(1, 3, 64, 64), row_limit=40)
    assert 'aten::native_layer_norm ' in tables['forward']
    assert 'native_layer_norm_backward' in tables['backward']
    assert 'native_layer_norm_backward' not in tables['forward']


def test_tool_prints_bricks_of_two_configs():
    out = run_tool('analysis_tools/profile_step.py',
                   osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py'),
                   '--compare',
                   osp.join(CONFIGS, 'retinanet_crossformer_s_coco.py'),
                   '--shape', '64', '96', '--repeat', '1', '--operators', '3')
    assert '| retinanet_crossformerpp_s_coco | L/SDA | 24 |' in out
    assert '| retinanet_crossformer_s_coco | L/SDA | 12 |' in out
    assert 'backward pass, operators by self CPU time' in out
