"""The argument handling shared by tools/train.py and tools/test.py, and
the helpers of the other tools (missing files, the analysis tools' parser)."""
import os
import os.path as osp

import pytest
from mmengine.registry import RUNNERS

from mmcrossformer.utils import is_trusted
from mmcrossformer.utils.cli import (
    analysis_parser,
    build_runner,
    default_work_dir,
    load_tool_config,
    parse_analysis_args,
    parse_test_args,
    parse_tool_args,
    parse_train_args,
    require_files,
    tool_parser,
)

CONFIG = """
model = dict(type='Classifier', neck=dict(in_channels=[8, 16]))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
train_dataloader = dict(dataset=dict(data_root={root!r}))
test_dataloader = dict(dataset=dict(data_root='/nowhere/at/all'))
{extra}
"""


def _parse(argv):
    parser = tool_parser('a tool', 'config file', 'work dir')
    parser.add_argument('--flag', action='store_true')
    return parse_tool_args(parser, argv)


def _config(tmp_path, extra='', root=None):
    path = tmp_path / 'my_model_cfg.py'
    path.write_text(CONFIG.format(root=root or str(tmp_path), extra=extra))
    return str(path)


@pytest.fixture
def no_local_rank(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)


def test_shared_and_own_options(no_local_rank):
    args = _parse(['c.py', '--flag', '--work-dir', 'w', '--launcher',
                   'pytorch', '--cfg-options', 'a.b=1', 'c=[1,2]', 'd=x',
                   'e=(1,2)', 'f=true'])
    assert (args.config, args.flag, args.work_dir) == ('c.py', True, 'w')
    assert args.launcher == 'pytorch' and args.local_rank == 0
    assert args.cfg_options == {
        'a.b': 1, 'c': [1, 2], 'd': 'x', 'e': (1, 2), 'f': True}
    args = _parse(['c.py'])
    assert args.cfg_options is None and args.work_dir is None
    assert args.launcher == 'none' and not args.flag


def test_local_rank_is_exported_unless_set(no_local_rank):
    _parse(['c.py', '--local-rank', '3'])
    assert os.environ['LOCAL_RANK'] == '3'
    _parse(['c.py', '--local_rank', '5'])  # torchrun's variable wins
    assert os.environ['LOCAL_RANK'] == '3'


@pytest.mark.parametrize('argv, message', [
    (['c.py', '--cfg-options', 'a.b'], "'a.b' is not KEY=VALUE"),
    (['c.py', '--cfg-options', 'x=1', '=2'], "'=2' is not KEY=VALUE"),
    (['c.py', '--cfg-options', 'a=[1,2'], "unbalanced () or [] in 'a=[1,2'"),
    (['c.py', '--cfg-options', 'a=(1,[2)]'], "unbalanced () or [] in 'a="),
    (['c.py', '--cfg-options', 'a=)('], "unbalanced () or [] in 'a=)('"),
    (['c.py', '--launcher', 'ssh'], "invalid choice: 'ssh'"),
    (['c.py', '--local-rank', 'one'], "invalid int value: 'one'"),
    ([], 'the following arguments are required: config'),
])
def test_bad_arguments_exit_with_a_message(argv, message, capsys,
                                           no_local_rank):
    with pytest.raises(SystemExit) as exc:
        _parse(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_work_dir_precedence(tmp_path):
    config = _config(tmp_path)
    cfg = load_tool_config(_parse([config]), ['train_dataloader'])
    assert cfg.work_dir == default_work_dir(config) == osp.join(
        './work_dirs', 'my_model_cfg')
    config = _config(tmp_path, extra=f"work_dir = '{tmp_path}/from_file'")
    cfg = load_tool_config(_parse([config]), ['train_dataloader'])
    assert cfg.work_dir == f'{tmp_path}/from_file'
    cfg = load_tool_config(
        _parse([config, '--cfg-options', f'work_dir={tmp_path}/option']),
        ['train_dataloader'])
    assert cfg.work_dir == f'{tmp_path}/option'
    cfg = load_tool_config(
        _parse([
            config, '--work-dir', f'{tmp_path}/flag', '--cfg-options',
            f'work_dir={tmp_path}/option'
        ]), ['train_dataloader'])
    assert cfg.work_dir == f'{tmp_path}/flag'
    # the work_dir does not make its files trusted (full unpickling)
    assert not is_trusted(f'{tmp_path}/flag/epoch_1.pth')


def test_options_merge_before_the_checks(tmp_path):
    config = _config(tmp_path)
    cfg = load_tool_config(
        _parse([
            config, '--cfg-options', 'optim_wrapper.optimizer.lr=0.5',
            'model.neck.in_channels=[1,2,3]'
        ]), ['train_dataloader'])
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.5)
    assert cfg.model.neck.in_channels == [1, 2, 3]
    assert cfg.launcher == 'none'
    # only the named loaders' data_root is checked, after the merge
    with pytest.raises(FileNotFoundError, match='/nowhere/at/all'):
        load_tool_config(_parse([config]), ['test_dataloader'])
    load_tool_config(
        _parse([
            config, '--cfg-options',
            f'test_dataloader.dataset.data_root={tmp_path}'
        ]), ['train_dataloader', 'test_dataloader'])
    with pytest.raises(FileNotFoundError, match='elsewhere'):
        load_tool_config(
            _parse([
                config, '--cfg-options',
                f'train_dataloader.dataset.data_root={tmp_path}/elsewhere'
            ]), ['train_dataloader'])


def test_channel_check_sees_the_overrides(tmp_path):
    extra = ("model.update(backbone=dict(type='mmcrossformer.CrossFormer', "
             "arch='pp-s'))")
    config = _config(tmp_path, extra=extra)
    with pytest.raises(ValueError, match=r'\[8, 16\].*\[64, 128, 256, 512\]'):
        load_tool_config(_parse([config]), ['train_dataloader'])
    cfg = load_tool_config(
        _parse([
            config, '--cfg-options',
            'model.neck.in_channels=[64,128,256,512]'
        ]), ['train_dataloader'])
    assert cfg.model.backbone.arch == 'pp-s'


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.py'):
        load_tool_config(_parse([str(tmp_path / 'missing.py')]), [])


@RUNNERS.register_module(force=True)
class _RecordingRunner:

    def __init__(self, **cfg):
        self.cfg = cfg

    @classmethod
    def from_cfg(cls, cfg):
        return cls(**cfg)


def test_build_runner_follows_runner_type(tmp_path, monkeypatch):
    from mmengine.runner import Runner
    cfg = load_tool_config(
        _parse([_config(tmp_path, extra="runner_type = '_RecordingRunner'")]),
        [])
    runner = build_runner(cfg)
    assert isinstance(runner, _RecordingRunner)
    assert runner.cfg['work_dir'] == default_work_dir('my_model_cfg.py')
    built = []
    monkeypatch.setattr(Runner, 'from_cfg',
                        classmethod(lambda cls, c: built.append(c) or 'ok'))
    cfg = load_tool_config(_parse([_config(tmp_path)]), [])
    assert build_runner(cfg) == 'ok' and built == [cfg]


def test_hooks_from_cfg_options_are_refused_by_name(tmp_path):
    # mmengine's DictAction reads "[dict(type='X')]" as a list of strings
    cfg = load_tool_config(
        _parse([_config(tmp_path), '--cfg-options',
                "custom_hooks=[dict(type='EMAHook')]"]), [])
    assert cfg.custom_hooks == ["dict(type='EMAHook')"]
    with pytest.raises(ValueError, match=r"custom_hooks\[0\] is "
                       r"\"dict\(type='EMAHook'\)\" \(str\)"):
        build_runner(cfg)


def test_tools_keep_their_own_options(no_local_rank, capsys):
    """tools/train.py and tools/test.py parse with these functions."""
    args = parse_train_args(['c.py', '--amp', '--resume', '--work-dir', 'w'])
    assert args.amp and args.resume == 'auto' and args.work_dir == 'w'
    assert parse_train_args(['c.py', '--resume', 'x.pth']).resume == 'x.pth'
    assert parse_train_args(['c.py']).resume is None
    args = parse_test_args(['c.py', 'ckpt.pth', '--tta', '--flip',
                            '--cfg-options', 'a=1'])
    assert (args.config, args.checkpoint, args.cfg_options) == (
        'c.py', 'ckpt.pth', {'a': 1})
    with pytest.raises(SystemExit):
        parse_test_args(['c.py', 'ckpt.pth', '--flip'])
    assert '--flip is an option of --tta' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_train_args(['c.py', '--tta'])  # test.py's option only
    assert 'unrecognized arguments: --tta' in capsys.readouterr().err


def test_missing_files_are_usage_errors(tmp_path, capsys):
    """require_files: the first missing path, by name; None is skipped."""
    parser = tool_parser('a tool', 'config file', 'work dir')
    present = tmp_path / 'c.py'
    present.write_text('')
    require_files(parser, {'config': str(present), 'checkpoint': None})
    with pytest.raises(SystemExit) as exc:
        require_files(parser, {'config': str(present),
                               'source checkpoint': 'missing.pth'})
    assert exc.value.code == 2
    assert 'source checkpoint not found: missing.pth' in (
        capsys.readouterr().err)


def test_analysis_tools_options(tmp_path, capsys):
    """amplitude.py / attention_regions.py: shared options, own extras."""
    config, img = tmp_path / 'c.py', tmp_path / 'x.jpg'
    config.write_text('')
    img.write_bytes(b'')
    parser = analysis_parser('a tool', 'work_dirs/a_tool')
    parser.add_argument('--query', type=float, nargs=2)
    args = parse_analysis_args(parser, [
        str(config), 'ckpt.pth', '--img', str(img), '--query', '0.1', '0.2',
        '--cfg-options', 'a=1'
    ])
    assert (args.checkpoint, args.size, args.out_dir, args.query,
            args.cfg_options) == ('ckpt.pth', (224, 224), 'work_dirs/a_tool',
                                  [0.1, 0.2], {'a': 1})
    args = parse_analysis_args(
        analysis_parser('a tool', 'out'),
        [str(config), '--img', str(img), '--size', '64', '96'])
    assert args.checkpoint is None and args.size == [64, 96]
    for argv, message in (([str(config), '--img', 'no.jpg'],
                           'image not found: no.jpg'),
                          (['no.py', '--img', str(img)],
                           'config not found: no.py')):
        with pytest.raises(SystemExit):
            parse_analysis_args(analysis_parser('a tool', 'out'), argv)
        assert message in capsys.readouterr().err
