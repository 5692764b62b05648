"""Exact --resume with RandomStateHook
(mmcrossformer/engine/hooks/random_state_hook.py).

The demo detection config, with the full configs' drop path 0.2 set back
(the demo itself trains without), keeps what makes a run random: drop path
in the backbone (main process), RandomFlip(0.5) in a persistent data-loader
worker (num_workers=1, as shipped), validation after every epoch (as the
real recipe; the validation loader's start draws from torch's generator).
2 epochs in one go must equal 1 epoch + --resume + 1 epoch bit for bit; a
resume from a checkpoint without the states must still run, warn, and
(because the streams restart) end elsewhere: the check that the first
comparison can fail.
"""
import ast
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmcrossformer.testing import CONFIGS, coco_data_options, run_tool

DEMO = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')
FULL_DROP_PATH = Config.fromfile(
    osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py')
).model.backbone.drop_path_rate
HOOK = 'mmcrossformer.RandomStateHook'


def _training_configs():
    return sorted(glob.glob(osp.join(CONFIGS, '*.py')))


def _hook_source(path):
    """The file whose ``custom_hooks`` a config ends up with, following
    repository-relative ``_base_`` files (read, not executed: parsing all
    50 configs with mmengine takes ~40 s); None if none sets it."""
    tree = ast.parse(open(path).read())
    values = {
        t.id: node.value
        for node in tree.body if isinstance(node, ast.Assign)
        for t in node.targets if isinstance(t, ast.Name)
    }
    if 'custom_hooks' in values:
        return path, values['custom_hooks']
    bases = ast.literal_eval(values.get('_base_', ast.List(elts=[])))
    for base in [bases] if isinstance(bases, str) else bases:
        if base.startswith('.'):
            found = _hook_source(osp.normpath(
                osp.join(osp.dirname(path), base)))
            if found:
                return found
    return None


@pytest.mark.parametrize(
    'config', _training_configs(), ids=lambda p: osp.basename(p)[:-3])
def test_every_training_config_has_the_hook(config):
    found = _hook_source(config)
    assert found, f'{config}: no custom_hooks in it or its _base_ files'
    source, value = found
    types = [
        kw.value.value for call in getattr(value, 'elts', [])
        for kw in getattr(call, 'keywords', []) if kw.arg == 'type'
    ]
    assert types.count(HOOK) == 1, (source, ast.unparse(value))


@pytest.mark.parametrize('config', [
    'retinanet_crossformerpp_s_coco.py',
    'mask_rcnn_crossformerpp_s_coco.py',
    'mask_rcnn_crossformerpp_s_coco_3x.py',
    'upernet_crossformerpp_s_ade20k.py',
    'fpn_crossformerpp_s_ade20k.py',
    'crossformerpp_s_in1k.py',
    'crossvit_15_in1k.py',
])
def test_parsed_configs_have_the_hook(config):
    """One config per base, parsed by mmengine (inheritance as it runs)."""
    hooks = Config.fromfile(osp.join(CONFIGS, config)).custom_hooks
    assert [h['type'] for h in hooks].count(HOOK) == 1, hooks


def _options(root):
    return [
        *coco_data_options(root),
        # the fixture's 160 x 128 images as they are (the demo scale is 2x)
        'train_dataloader.dataset.pipeline.2.scale=(160,128)',
        'val_dataloader.dataset.pipeline.1.scale=(160,128)',
        'train_cfg.val_interval=1',
        'randomness.deterministic=True',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=3',
        # the demo trains without drop path; the full configs' rate, so
        # that the drop-path random stream is exercised
        f'model.backbone.drop_path_rate={FULL_DROP_PATH}',
    ]


def _weights(path):
    return torch.load(path, weights_only=False)['state_dict']


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item()
               for k in a if a[k].is_floating_point())


def test_resume_repeats_the_uninterrupted_run(demo_coco, tmp_path):
    cfg = Config.fromfile(DEMO)
    # what the test relies on, as shipped
    assert FULL_DROP_PATH > 0
    assert cfg.train_dataloader.dataset.pipeline[3] == dict(
        type='RandomFlip', prob=0.5)
    assert cfg.train_dataloader.num_workers == 1
    assert cfg.train_dataloader.persistent_workers
    opts = _options(demo_coco)
    straight, split = str(tmp_path / 'straight'), str(tmp_path / 'split')
    run_tool('train.py', DEMO, '--work-dir', straight, '--cfg-options',
             'train_cfg.max_epochs=2', *opts)
    run_tool('train.py', DEMO, '--work-dir', split, '--cfg-options',
             'train_cfg.max_epochs=1', *opts)
    first = torch.load(osp.join(split, 'epoch_1.pth'), weights_only=False)
    states = first['random_states']
    assert states['iter'] == first['meta']['iter'] == 2
    assert sorted(states['workers']) == [0]  # the one persistent worker
    out = run_tool('train.py', DEMO, '--work-dir', split, '--cfg-options',
                   'train_cfg.max_epochs=2', *opts, '--resume',
                   osp.join(split, 'epoch_1.pth'))
    assert 'resumed epoch: 1' in out, out[-3000:]
    assert 'RandomStateHook: restored the random states' in out, out[-3000:]
    a = _weights(osp.join(straight, 'epoch_2.pth'))
    b = _weights(osp.join(split, 'epoch_2.pth'))
    for key, value in a.items():
        assert torch.equal(value, b[key]), (key, _max_diff(a, b))
    assert _max_diff(a, first['state_dict']) > 0  # epoch 2 trained

    # the same resume from a checkpoint without the states (as saved before
    # the hook existed): it runs, says the streams restart, and ends
    # elsewhere than the uninterrupted run
    old = str(tmp_path / 'old')
    del first['random_states']
    os.makedirs(old)
    torch.save(first, osp.join(old, 'epoch_1.pth'))
    out = run_tool('train.py', DEMO, '--work-dir', old, '--cfg-options',
                   'train_cfg.max_epochs=2', *opts, '--resume',
                   osp.join(old, 'epoch_1.pth'))
    assert 'holds no random states' in out, out[-3000:]
    assert 'restart from the seed' in out
    assert _max_diff(a, _weights(osp.join(old, 'epoch_2.pth'))) > 0


def test_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    from mmcrossformer.engine.hooks import (
        capture_random_states,
        restore_random_states,
    )
    states = capture_random_states()
    first = (torch.rand(4), np.random.rand(3), random.random())
    torch.save({'random_states': states}, tmp_path / 'ckpt.pth')
    loaded = torch.load(tmp_path / 'ckpt.pth', weights_only=True)
    assert restore_random_states(loaded['random_states'])[:3] == [
        'torch', 'numpy', 'random'
    ]
    again = (torch.rand(4), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0])
    assert np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_incomplete_states_are_refused():
    from mmcrossformer.engine.hooks import (
        capture_random_states,
        restore_random_states,
    )
    states = capture_random_states()
    del states['numpy']
    with pytest.raises(ValueError, match=r"lack \['numpy'\]"):
        restore_random_states(states)
