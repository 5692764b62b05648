"""Checkpoint files are data: a malicious pickle is refused on every loading
path wherever it lies, the project's own training checkpoints still load,
and only an explicitly resumed file is unpickled in full."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmcrossformer.apis import build_model, init_model
from mmcrossformer.testing import CONFIGS, run_tool
from mmcrossformer.utils import is_trusted, safe_load, trust_file


class CreatesFile:
    """Unpickling it creates ``path``: the code a downloaded file could
    run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def malicious(folder, weights):
    """A checkpoint that would create ``folder/pwned`` when unpickled, in a
    folder that looks like a work_dir (it has ``last_checkpoint``)."""
    folder.mkdir(exist_ok=True)
    path = folder / 'epoch_1.pth'
    torch.save(dict(state_dict=weights, meta=CreatesFile(
        str(folder / 'pwned'))), path)
    (folder / 'last_checkpoint').write_text(str(path))
    return str(path), folder / 'pwned'


CLS = osp.join(CONFIGS, 'crossformerpp_s_in1k.py')


@pytest.fixture(scope='module')
def cls_weights():
    return build_model(CLS).state_dict()


def test_malicious_pickle_refused_in_process(cls_weights, tmp_path):
    path, marker = malicious(tmp_path / 'work_dir', cls_weights)
    refused = 'epoch_1.pth holds other objects than weights'
    with pytest.raises(pickle.UnpicklingError, match=refused):
        CheckpointLoader.load_checkpoint(path)  # load_from, resume, ...
    with pytest.raises(pickle.UnpicklingError, match=refused):
        _load_checkpoint(path)  # mmengine's init_cfg loading
    with pytest.raises(pickle.UnpicklingError, match=refused):
        init_model(CLS, path)
    model = build_model(osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py'))
    model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix='backbone.')
    with pytest.raises(pickle.UnpicklingError, match=refused):
        model.backbone.init_weights()
    from mmcrossformer.utils.cli import build_runner
    cfg = Config.fromfile(CLS)
    cfg.work_dir = str(tmp_path / 'run')
    cfg.load_from = path
    with pytest.raises(pickle.UnpicklingError, match=refused):
        build_runner(cfg).load_checkpoint(path)
    assert not marker.exists()


def test_malicious_pickle_refused_by_tools(cls_weights, tmp_path):
    path, marker = malicious(tmp_path / 'downloads', cls_weights)
    data = tmp_path / 'data'
    (data / 'meta').mkdir(parents=True)
    (data / 'meta' / 'val.txt').write_text('a.JPEG 0\n')  # never read
    # tools/test.py: the data are never read (the load comes first)
    with pytest.raises(AssertionError) as err:
        run_tool('test.py', CLS, path, '--work-dir', str(tmp_path / 'test'),
                 '--cfg-options', f'test_dataloader.dataset.data_root={data}',
                 'test_dataloader.dataset.lazy_init=True')
    assert 'epoch_1.pth holds other objects than weights' in str(err.value)
    image = str(tmp_path / 'image.png')
    import mmcv
    mmcv.imwrite(np.zeros((32, 32, 3), np.uint8), image)
    with pytest.raises(AssertionError) as err:
        run_tool('image_demo.py', image, CLS, '--weights', path,
                 '--out-dir', str(tmp_path / 'out'))
    assert 'epoch_1.pth holds other objects than weights' in str(err.value)
    assert not marker.exists()


class Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.fc(inputs)  # default_collate stacks the samples
        if mode == 'loss':
            return dict(loss=(out - labels).pow(2).mean())
        return out


def test_training_checkpoints_load_as_data(tmp_path):
    """What mmengine's Runner (and our RandomStateHook) write into a
    checkpoint loads without full unpickling, the same as with it."""
    from mmengine.runner import Runner
    data = [dict(inputs=torch.randn(2), labels=torch.randn(1))
            for _ in range(8)]
    runner = Runner(
        model=Toy(),
        work_dir=str(tmp_path / 'run'),
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        param_scheduler=dict(type='LinearLR', start_factor=0.1, by_epoch=False,
                             end=4),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        custom_hooks=[dict(type='mmcrossformer.RandomStateHook')],
        randomness=dict(seed=0),
        default_scope='mmengine')
    runner.train()
    path = str(tmp_path / 'run' / 'epoch_1.pth')
    with pytest.raises(pickle.UnpicklingError):  # torch's own allow-list
        torch.load(path, weights_only=True)
    assert not is_trusted(path)
    data_only = safe_load(path)
    full = torch.load(path, weights_only=False)

    def same(a, b):
        if isinstance(a, dict):
            return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(map(same, a, b))
        if isinstance(a, torch.Tensor):
            return torch.equal(a, b)
        if isinstance(a, np.ndarray):
            return np.array_equal(a, b)
        if hasattr(a, '__dict__'):
            return type(a) is type(b) and same(vars(a), vars(b))
        return a == b

    assert same(data_only, full)
    assert 'random_states' in data_only
    scalars = data_only['message_hub']['log_scalars']
    assert scalars['train/loss'].data[0].size == 2  # two iterations logged


class Note:
    """An object of the user's own class in a checkpoint."""

    def __init__(self, text):
        self.text = text


def test_explicit_resume_unpickles_in_full(tmp_path):
    path = str(tmp_path / 'epoch_3.pth')
    torch.save(dict(state_dict={}, extra=Note('mine')), path)
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(path)
    trust_file(osp.join(str(tmp_path), '.', 'epoch_3.pth'))  # --resume
    assert is_trusted(path)
    assert CheckpointLoader.load_checkpoint(path)['extra'].text == 'mine'
    assert not is_trusted(os.path.join(str(tmp_path), 'epoch_4.pth'))
