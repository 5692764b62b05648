"""tools/model_converters/crossformer_to_mmcf.py on official key layouts.

The official model code cannot live in this repo, so the official names and
shapes are a recorded fixture: the state dict of cheerss/CrossFormer's
CrossFormer++-S classifier (``tests/data/crossformer_official_keys.json.gz``,
recorded by ``record_official_fixture.py --keys``). Detection /
segmentation files are that backbone under ``backbone.`` plus the neck
and head keys of mmdet 2.x / mmseg 0.x, which kept their names in mmdet
3.x / mmseg 1.x.
"""
import gzip
import json
import os.path as osp
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch

from mmcrossformer.apis.conversion import conversion_model, crossformer_config
from mmcrossformer.models.utils.ckpt_convert import (
    crossformer_converter,
    crossformer_rename_key,
    detect_crossformer_arch,
    detect_crossformer_task,
)
from mmcrossformer.testing import CONFIGS, REPO, TOOLS, run_tool
from mmcrossformer.utils.state_dict import load_converted_strictly

SCRIPT = 'model_converters/crossformer_to_mmcf.py'
FIXTURE = osp.join(REPO, 'tests', 'data', 'crossformer_official_keys.json.gz')
PP_S_CLS = osp.join(CONFIGS, 'crossformerpp_s_in1k.py')


def official_shapes():
    with gzip.open(FIXTURE, 'rt') as f:
        doc = json.load(f)
    return OrderedDict((k, tuple(s)) for k, s in doc['archs']['pp-s'])


def official_state(seed=0, backbone_only=False):
    """Random tensors under the official names and shapes."""
    gen = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    for key, shape in official_shapes().items():
        if backbone_only and key.split('.')[0] in ('norm', 'head'):
            continue
        state[key] = torch.randn(shape, generator=gen)
    return state


def test_script_runs_the_package_converter():
    """The tool renames with the package's functions, not a copy."""
    source = open(osp.join(TOOLS, SCRIPT)).read()
    assert 'from mmcrossformer.models.utils.ckpt_convert import' in source
    for name in ('crossformer_converter', 'crossformer_rename_key',
                 'detect_crossformer_arch'):
        assert name in source and f'def {name}' not in source


def test_fixture_describes_official_pp_s():
    shapes = official_shapes()
    assert 'layers.0.downsample.reductions.1.weight' in shapes
    assert 'layers.2.blocks.2.ex_conv.weight' in shapes
    assert shapes['head.weight'] == (1000, 512)
    state = official_state()
    assert detect_crossformer_task(state, 'model') == 'cls'
    assert detect_crossformer_arch(crossformer_converter(state,
                                                         'cls')) == 'pp-s'


def test_rename_rules():
    cases = {
        'patch_embed.projs.3.weight': 'backbone.patch_embed.projs.3.weight',
        'layers.0.blocks.1.attn.qkv.bias':
        'backbone.stages.0.blocks.1.attn.qkv.bias',
        'layers.2.blocks.5.attn.pos.pos3.2.weight':
        'backbone.stages.2.blocks.5.attn.dpb.pos3.2.weight',
        'layers.1.blocks.0.mlp.fc1.weight':
        'backbone.stages.1.blocks.0.ffn.layers.0.0.weight',
        'layers.1.blocks.0.mlp.fc2.bias':
        'backbone.stages.1.blocks.0.ffn.layers.1.bias',
        'layers.2.blocks.2.ex_conv.weight':
        'backbone.stages.2.blocks.2.acl.conv.weight',
        'layers.2.blocks.2.ex_ln.bias':
        'backbone.stages.2.blocks.2.acl.norm.bias',
        # merging at the end of official stage i = start of our stage i+1
        'layers.0.downsample.reductions.1.weight':
        'backbone.stages.1.downsample.projs.1.weight',
        'layers.2.downsample.norm.weight':
        'backbone.stages.3.downsample.norm.weight',
        'norm.bias': 'backbone.norm.bias',
        'head.weight': 'head.fc.weight',
        'module.head.bias': 'head.fc.bias',
    }
    for key, new in cases.items():
        assert crossformer_rename_key(key, 'cls') == new, key
    # recomputed buffers are dropped
    for key in ('layers.0.blocks.0.attn.biases',
                'layers.0.blocks.0.attn.relative_position_index',
                'layers.0.blocks.1.attn_mask'):
        assert crossformer_rename_key(key, 'cls') is None
    # dense files: backbone renamed, neck / heads unchanged
    assert crossformer_rename_key('backbone.layers.3.blocks.1.norm2.weight',
                                'det') == \
        'backbone.stages.3.blocks.1.norm2.weight'
    assert crossformer_rename_key('neck.fpn_convs.0.conv.weight', 'det') == \
        'neck.fpn_convs.0.conv.weight'
    assert crossformer_rename_key('layers.1.blocks.0.norm1.weight',
                                'backbone') == \
        'backbone.stages.1.blocks.0.norm1.weight'
    for key in ('norm.weight', 'head.bias', 'backbone.norm.bias',
                'neck.fpn_convs.0.conv.weight'):
        assert crossformer_rename_key(key, 'backbone') is None
    # unknown keys are kept for the strict load to report
    assert list(crossformer_converter({'foo.bar': torch.zeros(1)})) == \
        ['backbone.foo.bar']
    with pytest.raises(ValueError, match='task must be one of'):
        crossformer_rename_key('norm.weight', 'video')


def test_classifier_loads_strictly():
    state = official_state()
    converted = crossformer_converter(state, 'cls')
    assert len(converted) == len(state)
    model = conversion_model(PP_S_CLS, 'cls')
    load_converted_strictly(model, converted)
    assert torch.equal(model.head.fc.weight, state['head.weight'])
    assert torch.equal(
        model.backbone.stages[1].downsample.projs[0].weight,
        state['layers.0.downsample.reductions.0.weight'])
    assert crossformer_config('cls', 'pp-s', converted, CONFIGS) == PP_S_CLS


@pytest.mark.parametrize('task,config', [
    ('det', 'retinanet_crossformerpp_s_coco.py'),
    ('seg', 'upernet_crossformerpp_s_ade20k.py'),
])
def test_dense_checkpoints_load_strictly(task, config):
    config = osp.join(CONFIGS, config)
    model = conversion_model(config, task)
    # an mmdet 2.x / mmseg 0.x file: official backbone names under
    # 'backbone.', neck and head names as in mmdet 3.x / mmseg 1.x
    source = OrderedDict(
        ('backbone.' + k, v)
        for k, v in official_state(backbone_only=True).items())
    heads = {
        k: torch.randn_like(v) if v.is_floating_point() else v.clone()
        for k, v in model.state_dict().items()
        if not k.startswith('backbone.')
    }
    source.update(heads)
    source['backbone.layers.0.blocks.0.attn.relative_position_index'] = \
        torch.zeros(49, 49, dtype=torch.long)
    assert detect_crossformer_task(source, 'state_dict') == task
    converted = crossformer_converter(source, task)
    assert detect_crossformer_arch(converted) == 'pp-s'
    assert crossformer_config(task, 'pp-s', converted, CONFIGS) == config
    load_converted_strictly(model, converted)
    for key, value in heads.items():
        assert converted[key] is value


def test_backbone_task_initialises_dense_backbone(tmp_path):
    from mmcrossformer.models.backbones.crossformer import CrossFormer
    assert detect_crossformer_task(
        official_state(backbone_only=True)) == 'backbone'
    # a classification file: the final norm and the head are dropped
    state = official_state()
    converted = crossformer_converter(state, 'backbone')
    assert len(converted) == len(state) - 4
    assert all(k.startswith('backbone.') for k in converted)
    assert 'backbone.norm.weight' not in converted
    # a detector file gives the same backbone
    det = OrderedDict(('backbone.' + k, v) for k, v in state.items()
                      if not k.startswith(('norm.', 'head.')))
    det['neck.fpn_convs.0.conv.weight'] = torch.zeros(1)
    assert list(crossformer_converter(det, 'backbone')) == list(converted)
    path = str(tmp_path / 'backbone.pth')
    torch.save(dict(state_dict=converted), path)
    backbone = CrossFormer(
        arch='pp-s',
        group_size=[7, 7, 7, 7],
        interval=[8, 4, 2, 1],
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='backbone.'))
    backbone.init_weights()
    own = backbone.state_dict()
    assert set(own) == {k[len('backbone.'):] for k in converted}
    for key, value in own.items():
        assert torch.equal(value, converted['backbone.' + key]), key
    # and the script checks it against the dense backbone
    src = str(tmp_path / 'cls.pth')
    torch.save(dict(model=state), src)
    out = run_tool(SCRIPT, src, path, '--task', 'backbone')
    assert 'norm.weight (dropped: not part of a dense backbone)' in out
    assert 'head.bias (dropped: not part of a dense backbone)' in out
    assert 'loaded strictly' in out


def test_script_converts_and_rejects_mismatch(tmp_path):
    state = official_state()
    src = str(tmp_path / 'crossformerpp-s.pth')
    torch.save(dict(model=state, epoch=299, max_accuracy=83.2), src)
    dst = str(tmp_path / 'out.pth')
    out = run_tool(SCRIPT, src, dst)
    assert 'layers.0.downsample.reductions.0.weight -> ' \
        'backbone.stages.1.downsample.projs.0.weight' in out
    assert 'layers.2.blocks.2.ex_ln.weight -> ' \
        'backbone.stages.2.blocks.2.acl.norm.weight' in out
    assert "task 'cls'" in out and "detected variant 'pp-s'" in out
    assert 'loaded strictly' in out and 'crossformerpp_s_in1k.py' in out
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['arch'] == 'pp-s'
    assert torch.equal(saved['state_dict']['head.fc.weight'],
                       state['head.weight'])

    bad = OrderedDict(state)
    del bad['norm.weight']
    bad['layers.0.blocks.0.extra.weight'] = torch.zeros(3)
    bad['head.bias'] = torch.zeros(10)
    torch.save(bad, src)
    proc = subprocess.run(
        [sys.executable, osp.join(TOOLS, SCRIPT), src, dst, '--arch',
         'pp-small'],
        capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    assert 'missing (1)' in err and 'backbone.norm.weight' in err
    assert 'unexpected (1)' in err and \
        'backbone.stages.0.blocks.0.extra.weight' in err
    assert 'wrong shape (1)' in err and 'head.fc.bias' in err

    # an official training checkpoint (its config beside the weights) is
    # read as data; a file pickling other objects is refused
    torch.save(dict(model=state, config=argparse_namespace()), src)
    proc = subprocess.run([sys.executable, osp.join(TOOLS, SCRIPT), src, dst],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    torch.save(dict(model=state, config=Note()), src)
    proc = subprocess.run([sys.executable, osp.join(TOOLS, SCRIPT), src, dst],
                          capture_output=True, text=True, cwd=osp.dirname(
                              osp.abspath(__file__)))
    assert proc.returncode == 1
    assert 'crossformerpp-s.pth holds other objects than weights' \
        in proc.stderr


class Note:
    """Some class of the user's (not data)."""


def argparse_namespace():
    import argparse
    return argparse.Namespace(lr=1e-3)
