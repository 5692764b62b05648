"""Official checkpoints load as released, on every loading path.

The files are built in the official layouts: CrossFormer keys and shapes
from the recorded official key lists
(``tests/data/crossformer_official_keys.json.gz``, written by
``record_official_fixture.py --keys`` from cheerss/CrossFormer), wrapped as
its ``main.py`` saves them (``model`` beside the optimizer, the scheduler
and the yacs ``config``); mmdet 2.x / mmseg 0.x files put that backbone
under ``backbone.`` beside neck and head keys (whose names mmdet 3.x /
mmseg 1.x kept); CrossViT files are timm's state dicts (timm names) and the
same under IBM's names, wrapped with ``args`` as IBM's ``main.py`` saves
them. Seeded random tensors throughout. Each must give exactly what the
same weights converted offline give, and each wrong file must stop with an
error naming the file, what it holds and what the config builds.
"""
import argparse
import gzip
import http.server
import json
import os.path as osp
import re
import sys
import threading
import types
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config

from mmcrossformer.apis import build_model, init_model
from mmcrossformer.models.utils.ckpt_convert import (
    crossformer_converter,
    crossvit_converter,
)
from mmcrossformer.testing import CONFIGS, REPO

KEYS = json.load(
    gzip.open(
        osp.join(REPO, 'tests', 'data', 'crossformer_official_keys.json.gz'),
        'rt'))['archs']
CF_CONFIGS = {
    't': 'crossformer_t_in1k.py',
    's': 'crossformer_s_in1k.py',
    'b': 'crossformer_b_in1k.py',
    'l': 'crossformer_l_in1k.py',
    'pp-s': 'crossformerpp_s_in1k.py',
    'pp-b': 'crossformerpp_b_in1k.py',
    'pp-l': 'crossformerpp_l_in1k.py',
    'pp-h': 'crossformerpp_h_in1k.py',
}
CV_ARCHS = [
    'tiny', 'small', 'base', '9', '15', '18', '9-dagger', '15-dagger',
    '18-dagger'
]


def seeded(shapes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return OrderedDict(
        (k, torch.randn(tuple(s), generator=gen)) for k, s in shapes)


def official_crossformer(arch, seed=0):
    """An official classifier (``'det-s'`` / ``'det-pp-s'``: detection
    backbone) state dict under the recorded names and shapes."""
    return seeded(KEYS[arch], seed)


def yacs_config():
    """A yacs ``CfgNode`` as the official ``main.py`` stores it, pickled
    under its real name by a stand-in module that is removed afterwards
    (the loader must not need yacs)."""
    module = types.ModuleType('yacs.config')

    class CfgNode(dict):
        pass

    CfgNode.__module__ = 'yacs.config'
    CfgNode.__qualname__ = 'CfgNode'
    module.CfgNode = CfgNode
    node = CfgNode(MODEL=CfgNode(TYPE='cross-scale', DROP_PATH_RATE=0.2))
    node.__dict__['__immutable__'] = True
    return module, node


def save_released_crossformer(path, state):
    """Save ``state`` as cheerss/CrossFormer ``utils.save_checkpoint``."""
    module, node = yacs_config()
    saved = {k: sys.modules.get(k) for k in ('yacs', 'yacs.config')}
    sys.modules.update({'yacs': types.ModuleType('yacs'),
                        'yacs.config': module})
    try:
        torch.save(
            dict(
                model=state,
                optimizer=dict(state={}, param_groups=[dict(lr=1e-3)]),
                lr_scheduler=dict(t_initial=300, base_values=[1e-3]),
                max_accuracy=83.2,
                epoch=299,
                config=node), path)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    return str(path)


def save_offline(path, converted):
    torch.save(dict(state_dict=converted), path)
    return str(path)


def assert_same_weights(model, converted):
    own = model.state_dict()
    assert set(own) == set(converted)
    for key, value in own.items():
        assert torch.equal(value, converted[key]), key


# ---------------------------------------------------------------------------
# CrossFormer / CrossFormer++ ImageNet classifiers, all eight archs
@pytest.mark.parametrize('arch', list(CF_CONFIGS))
def test_crossformer_classifier_as_released(arch, tmp_path):
    """Every weight as the offline converter gives it (so the same outputs,
    checked for ++S below)."""
    state = official_crossformer(arch)
    released = save_released_crossformer(tmp_path / f'{arch}.pth', state)
    model = init_model(osp.join(CONFIGS, CF_CONFIGS[arch]), released)
    assert_same_weights(model, crossformer_converter(state, 'cls'))


def test_crossformer_classifier_outputs_as_offline(tmp_path):
    state = official_crossformer('pp-s')
    released = save_released_crossformer(tmp_path / 'pp-s.pth', state)
    offline = save_offline(tmp_path / 'offline.pth',
                           crossformer_converter(state, 'cls'))
    config = osp.join(CONFIGS, CF_CONFIGS['pp-s'])
    model = init_model(config, released)
    reference = init_model(config, offline)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x, mode='tensor')
        ref = reference(x, mode='tensor')
    assert ref.std() > 0  # not a degenerate comparison
    assert torch.equal(out, ref)


def test_released_classifier_log_line(tmp_path):
    from mmengine.logging import MMLogger
    released = save_released_crossformer(tmp_path / 'pp-s.pth',
                                         official_crossformer('pp-s'))
    logger = MMLogger.get_instance('test_log_line',
                                   log_file=str(tmp_path / 'log.txt'))
    init_model(osp.join(CONFIGS, CF_CONFIGS['pp-s']), released)
    for handler in logger.handlers:
        handler.flush()
    log = open(tmp_path / 'log.txt').read()
    assert log.count('recognised a cheerss/CrossFormer ImageNet classifier '
                     '(CrossFormer++-S); converted') == 1, log


# ---------------------------------------------------------------------------
# mmdet 2.x / mmseg 0.x files into the Runner (load_from, tools/test.py)
def released_dense(path, model, backbone_arch):
    """An mmdet 2.x / mmseg 0.x checkpoint for ``model``: the official
    detection backbone under ``backbone.``, heads under today's names."""
    state = OrderedDict(
        ('backbone.' + k, v)
        for k, v in official_crossformer(backbone_arch, seed=2).items())
    gen = torch.Generator().manual_seed(3)
    for key, value in model.state_dict().items():
        if not key.startswith('backbone.'):
            state[key] = torch.randn(value.shape, generator=gen) \
                if value.is_floating_point() else value.clone()
    meta = dict(mmdet_version='2.11.0', CLASSES=('a', 'b'),
                config='model = dict(...)')
    torch.save(dict(meta=meta, state_dict=state, optimizer={}), path)
    return str(path), state


def runner_of(config, work_dir, **options):
    from mmcrossformer.utils.cli import build_runner
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(options)
    return build_runner(cfg)


DENSE = [
    ('retinanet_crossformer_s_coco.py', 'det-s', 'det'),
    ('mask_rcnn_crossformerpp_s_coco.py', 'det-pp-s', 'det'),
    ('upernet_crossformer_s_ade20k.py', 'det-s', 'seg'),
    ('fpn_crossformerpp_s_ade20k.py', 'det-pp-s', 'seg'),
]


@pytest.mark.parametrize('config,arch,task', DENSE)
def test_dense_file_as_released_in_runner(config, arch, task, tmp_path):
    config = osp.join(CONFIGS, config)
    released = str(tmp_path / 'official.pth')
    runner = runner_of(config, tmp_path / 'run', load_from=released)
    _, state = released_dense(released, runner.model, arch)
    converted = crossformer_converter(state, task)
    runner.load_checkpoint(released)
    reference = init_model(config,
                           save_offline(tmp_path / 'offline.pth', converted))
    assert_same_weights(runner.model, converted)
    runner.model.eval()
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ours = runner.model.extract_feat(x)
        ref = reference.extract_feat(x)
    assert all(torch.equal(a, b) for a, b in zip(ours, ref))


def test_classifier_into_detector_load_from(tmp_path):
    released = save_released_crossformer(tmp_path / 'crossformer-s.pth',
                                         official_crossformer('s'))
    config = osp.join(CONFIGS, 'retinanet_crossformer_s_coco.py')
    runner = runner_of(config, tmp_path / 'run', load_from=released)
    with pytest.raises(ValueError) as err:
        runner.load_checkpoint(released)
    message = str(err.value)
    assert 'crossformer-s.pth holds a cheerss/CrossFormer ImageNet ' \
        'classifier (CrossFormer-S)' in message
    assert 'the config builds RetinaNet with CrossFormer-S (a detector)' \
        in message
    assert "model.backbone.init_cfg=dict(type='Pretrained'" in message


def test_partial_own_checkpoint_refused_by_runner(tmp_path):
    config = osp.join(CONFIGS, 'retinanet_crossformer_s_coco.py')
    state = build_model(config).state_dict()
    del state['bbox_head.retina_cls.weight']
    path = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state), path)
    runner = runner_of(config, tmp_path / 'run', load_from=path)
    with pytest.raises(ValueError, match=r"partial\.pth does not fit the "
                       r"model \(RetinaNet\): 1 missing keys: "
                       r"\['bbox_head\.retina_cls\.weight'\]"):
        runner.load_checkpoint(path)


# ---------------------------------------------------------------------------
# a backbone's init_cfg: any official file, with or without a prefix
@pytest.mark.parametrize('config,source,prefix', [
    ('retinanet_crossformerpp_s_coco.py', 'pp-s', 'backbone.'),
    ('upernet_crossformer_s_ade20k.py', 's', None),
    ('mask_rcnn_crossformer_s_coco.py', 'det-s', 'backbone.'),
])
def test_backbone_init_cfg_as_released(config, source, prefix, tmp_path):
    state = official_crossformer(source)
    if source.startswith('det-'):
        path = str(tmp_path / 'mmdet2.pth')
        torch.save(
            dict(state_dict={'backbone.' + k: v
                             for k, v in state.items()}), path)
    else:
        path = save_released_crossformer(tmp_path / 'cls.pth', state)
    model = build_model(
        osp.join(CONFIGS, config), {
            'model.backbone.init_cfg':
            dict(type='Pretrained', checkpoint=path, prefix=prefix)
        })
    model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix=prefix)
    model.backbone.init_weights()
    offline = crossformer_converter(state, 'backbone')
    assert_same_weights(
        model.backbone,
        {k[len('backbone.'):]: v
         for k, v in offline.items()})


def test_classifier_init_cfg_as_released(tmp_path):
    """Fine-tuning a classifier: the backbone keeps its final norm."""
    state = official_crossformer('pp-s')
    path = save_released_crossformer(tmp_path / 'cls.pth', state)
    model = build_model(osp.join(CONFIGS, CF_CONFIGS['pp-s']))
    model.backbone.init_cfg = dict(type='Pretrained', checkpoint=path)
    model.backbone.init_weights()
    assert torch.equal(model.backbone.norm.weight, state['norm.weight'])


# ---------------------------------------------------------------------------
# CrossViT: timm and IBM/CrossViT files, all nine archs
def timm_state(arch, seed=0, size=240):
    timm = pytest.importorskip('timm')
    torch.manual_seed(seed)
    model = timm.create_model(f'crossvit_{arch.replace("-", "_")}_{size}')
    return model.state_dict()


def to_ibm(state):
    return {
        re.sub(r'^(cls_token|pos_embed)_(\d+)$', r'\1.\2', k): v
        for k, v in state.items()
    }


@pytest.mark.parametrize('arch', CV_ARCHS)
def test_crossvit_as_released(arch, tmp_path):
    state = timm_state(arch)
    converted = crossvit_converter(state)
    config = osp.join(CONFIGS, f'crossvit_{arch.replace("-", "_")}_in1k.py')
    timm_file = str(tmp_path / 'timm.pth')
    torch.save(state, timm_file)  # timm's files are bare state dicts
    ibm_file = str(tmp_path / 'ibm.pth')
    torch.save(
        dict(
            model=to_ibm(state),
            epoch=299,
            args=argparse.Namespace(model=f'crossvit_{arch}_224')), ibm_file)
    model = init_model(config, timm_file)
    assert_same_weights(model, converted)
    model = init_model(config, ibm_file)
    assert_same_weights(model, converted)


@pytest.mark.parametrize('arch', ['15-dagger', '18-dagger'])
def test_crossvit_384_as_released(arch, tmp_path):
    """The 384 releases (timm's ``crossvit_*_dagger_408``: branches at 408 /
    384) load into the 384 configs."""
    state = timm_state(arch, size=408)
    path = str(tmp_path / f'crossvit_{arch}_384.pth')
    torch.save(dict(model=to_ibm(state)), path)
    config = f'crossvit_{arch.replace("-", "_")}_384_in1k.py'
    model = init_model(osp.join(CONFIGS, config), path)
    assert_same_weights(model, crossvit_converter(state))


def test_crossvit_dense_backbone_as_released(tmp_path):
    """An IBM file initialises the dense CrossViT of a detector (the last
    encoder's fusions and the head are left out)."""
    state = timm_state('15-dagger')
    path = str(tmp_path / 'crossvit_15_dagger_224.pth')
    torch.save(dict(model=to_ibm(state)), path)
    model = build_model(
        osp.join(CONFIGS, 'retinanet_crossvit_15_dagger_coco.py'))
    model.backbone.init_cfg = dict(type='Pretrained', checkpoint=path)
    model.backbone.init_weights()
    converted = crossvit_converter(state)
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, converted['backbone.' + key]), key


def test_crossvit_file_into_crossformer_config(tmp_path):
    path = str(tmp_path / 'crossvit_9_224.pth')
    torch.save(timm_state('9'), path)
    with pytest.raises(ValueError) as err:
        init_model(osp.join(CONFIGS, CF_CONFIGS['s']), path)
    assert 'crossvit_9_224.pth holds an IBM/CrossViT or timm ImageNet ' \
        'classifier (CrossViT-9), but the config builds ImageClassifier ' \
        'with CrossFormer-S' in str(err.value)


def test_small_into_base_config(tmp_path):
    path = save_released_crossformer(tmp_path / 'crossformer-s.pth',
                                     official_crossformer('s'))
    with pytest.raises(ValueError) as err:
        init_model(osp.join(CONFIGS, CF_CONFIGS['b']), path)
    assert ('crossformer-s.pth holds a cheerss/CrossFormer ImageNet '
            'classifier (CrossFormer-S), but the config builds '
            'ImageClassifier with CrossFormer-B') in str(err.value)
    # and as a dense backbone's init_cfg
    model = build_model(osp.join(CONFIGS, 'retinanet_crossformer_b_coco.py'))
    model.backbone.init_cfg = dict(type='Pretrained', checkpoint=path)
    with pytest.raises(ValueError, match=r'CrossFormer-S\), but the config '
                       r'builds the backbone CrossFormer-B'):
        model.backbone.init_weights()


# ---------------------------------------------------------------------------
# URLs, served from a loopback HTTP server
@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / 'www'
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    try:
        yield root, f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        torch.hub.set_dir(hub)
        server.shutdown()


def test_urls(http_root):
    root, url = http_root
    state = official_crossformer('pp-s')
    save_released_crossformer(root / 'crossformer_pp-s.pth', state)
    config = osp.join(CONFIGS, CF_CONFIGS['pp-s'])
    model = init_model(config, f'{url}/crossformer_pp-s.pth')
    assert_same_weights(model, crossformer_converter(state, 'cls'))
    dense = build_model(osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py'))
    dense.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=f'{url}/crossformer_pp-s.pth')
    dense.backbone.init_weights()
    assert torch.equal(dense.backbone.patch_embed.projs[0].weight,
                       state['patch_embed.projs.0.weight'])


# ---------------------------------------------------------------------------
# fine-tuning from a detector of another class count (load_from)
def test_finetune_load_from_other_class_count(demo_coco, tmp_path):
    """While training, head entries of another shape are left out with a
    warning (mmdet's fine-tuning recipe); when testing they stop the run."""
    config = osp.join(CONFIGS, 'retinanet_crossformer_s_coco.py')
    coco = build_model(config)  # 80 classes
    path = str(tmp_path / 'coco.pth')
    torch.save(dict(state_dict=coco.state_dict()), path)
    root = demo_coco
    options = {
        'model.bbox_head.num_classes': 3,
        'train_dataloader.dataset.data_root': root,
        'train_dataloader.batch_size': 1,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'load_from': path,
    }
    runner = runner_of(config, tmp_path / 'run', **options)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner.load_checkpoint(path)
    model = runner.model
    assert torch.equal(model.backbone.patch_embed.projs[0].weight,
                       coco.backbone.patch_embed.projs[0].weight)
    assert torch.equal(model.bbox_head.retina_reg.weight,
                       coco.bbox_head.retina_reg.weight)
    assert model.bbox_head.retina_cls.weight.shape[0] == 9 * 3
    tester = runner_of(config, tmp_path / 'test', **options)
    with pytest.raises(ValueError, match=r'1 wrong shape keys|2 wrong shape '
                       r'keys'):
        tester.load_checkpoint(path)


# ---------------------------------------------------------------------------
# the fine-tuning configs start from the released ImageNet files as they are
@pytest.mark.parametrize('config', [
    'crossformerpp_s_custom_folder.py',
    'retinanet_crossformerpp_s_custom_coco.py',
    'mask_rcnn_crossformerpp_s_custom_coco.py',
    'upernet_crossformerpp_s_custom_seg.py',
    'crossvit_15_dagger_custom_folder.py',
])
def test_finetune_configs_start_from_released_files(config, tmp_path):
    cfg = Config.fromfile(osp.join(CONFIGS, 'finetune', config))
    if 'crossvit' in config:
        state = timm_state('15-dagger')
        path = str(tmp_path / 'crossvit_15_dagger_224.pth')
        torch.save(dict(model=to_ibm(state)), path)
        expected = crossvit_converter(state)
    else:
        state = official_crossformer('pp-s')
        path = save_released_crossformer(tmp_path / 'crossformerpp-s.pth',
                                         state)
        expected = crossformer_converter(state, 'cls')
    model = build_model(cfg)
    init_cfg = cfg.model.backbone.init_cfg
    assert init_cfg.type == 'Pretrained' and init_cfg.checkpoint
    model.backbone.init_cfg = dict(init_cfg, checkpoint=path)
    model.backbone.init_weights()
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, expected['backbone.' + key]), key


def test_other_layouts_are_not_taken_for_official_files():
    """A Swin file also has ``layers.*.blocks.*`` keys; it is nobody's
    official CrossFormer file (a strict load then reports its keys)."""
    from mmcrossformer.models.utils.ckpt_load import recognise
    timm = pytest.importorskip('timm')
    swin = timm.create_model('swin_tiny_patch4_window7_224').state_dict()
    assert any(k.startswith('layers.0.blocks.0.') for k in swin)
    assert recognise(swin) is None
    assert recognise({'backbone.' + k: v for k, v in swin.items()}) is None
    assert recognise(official_crossformer('det-s')) == ('crossformer',
                                                        'backbone')
    assert recognise(timm_state('9')) == ('crossvit', 'cls')
