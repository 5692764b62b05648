"""Argument handling and Runner set-up shared by ``tools/train.py`` and
``tools/test.py``, and the argument helpers of the other tools
(:func:`add_cfg_options`, :func:`require_files`, :func:`analysis_parser`).

Both tools take a config, ``--work-dir``, ``--cfg-options``, ``--launcher``
and ``--local_rank`` (the names of mmpretrain's and mmdet's tools), load and
check the config the same way, and build the Runner the config asks for.
Each tool's parser adds only its own options to the one returned by
:func:`tool_parser` (:func:`train_parser`, :func:`test_parser`), so the
parsers are tested without loading a tool file::

    args = parse_train_args()
    cfg = load_tool_config(args, ('train_dataloader', 'val_dataloader'))
    build_runner(cfg).train()
"""
import argparse
import os
import os.path as osp
from typing import Dict, Optional, Sequence

from mmengine.config import Config, DictAction

from .config_check import check_data_roots, check_in_channels
from .runtime import flush_denormals_on_cpu, setup_cpu_distributed

#: Values of ``--launcher`` (mmengine's launchers, and none).
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


class ConfigOptionsAction(DictAction):
    """mmengine's ``DictAction`` that refuses malformed ``KEY=VALUE`` items.

    ``DictAction`` splits each item on its first ``=`` and parses the value
    (numbers, booleans, ``None``, lists ``a,b`` or ``[a,b]``, tuples
    ``(a,b)``). An item without ``=``, with an empty key, or with brackets
    that do not pair up in nesting order makes it fail with an unpacking
    error, an assertion or a RecursionError; here the parser reports the
    item instead (argparse's usage error, exit status 2).
    """

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            key, sep, value = item.partition('=')
            if not sep or not key.strip():
                parser.error(f'{option_string}: {item!r} is not KEY=VALUE '
                             f'(e.g. optim_wrapper.optimizer.lr=2e-4)')
            if not _brackets_pair_up(value):
                parser.error(f'{option_string}: unbalanced () or [] in '
                             f'{item!r}')
        super().__call__(parser, namespace, values, option_string)


def _brackets_pair_up(text: str) -> bool:
    """Whether every ``(`` / ``[`` of ``text`` closes in nesting order."""
    opened = []
    for char in text:
        if char in '([':
            opened.append(')' if char == '(' else ']')
        elif char in ')]' and (not opened or opened.pop() != char):
            return False
    return not opened


def add_cfg_options(
        parser: argparse.ArgumentParser,
        help: str = 'override config entries (dotted keys), KEY=VALUE'
) -> None:
    """Add ``--cfg-options KEY=VALUE ...`` (:class:`ConfigOptionsAction`:
    a malformed item is a usage error, exit status 2) to ``parser``; every
    tool takes config overrides this way."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=ConfigOptionsAction,
        metavar='KEY=VALUE',
        help=help)


def require_files(parser: argparse.ArgumentParser,
                  files: Dict[str, Optional[str]]) -> None:
    """Make a missing input file a usage error.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        files (dict): ``{what: path}``, e.g. ``{'config': args.config}``;
            a path of None (an optional input not given) is skipped.

    Raises:
        SystemExit: With status 2 and ``<what> not found: <path>`` (argparse's
            usage error) for the first path that is not a file.
    """
    for what, path in files.items():
        if path is not None and not osp.isfile(path):
            parser.error(f'{what} not found: {path}')


def analysis_parser(description: str,
                    out_dir: str) -> argparse.ArgumentParser:
    """The parser of the backbone analysis tools
    (``tools/analysis_tools/amplitude.py``, ``attention_regions.py``).

    Args:
        description (str): The tool's one-line description.
        out_dir (str): Default of ``--out-dir``.

    Returns:
        argparse.ArgumentParser: Parser with ``config``, an optional
        ``checkpoint``, ``--img`` (required), ``--size H W`` (default
        224 224), ``--out-dir`` and ``--cfg-options``; parse it with
        :func:`parse_analysis_args`.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--img', required=True)
    parser.add_argument('--size', type=int, nargs=2, default=(224, 224),
                        metavar=('H', 'W'))
    parser.add_argument('--out-dir', default=out_dir)
    add_cfg_options(parser, 'override config settings, KEY=VALUE')
    return parser


def parse_analysis_args(parser: argparse.ArgumentParser,
                        argv: Optional[Sequence[str]] = None
                        ) -> argparse.Namespace:
    """Parse the arguments of an analysis tool (:func:`analysis_parser`);
    a missing config or image is a usage error (:func:`require_files`)."""
    args = parser.parse_args(argv)
    require_files(parser, {'config': args.config, 'image': args.img})
    return args


def tool_parser(description: str, config_help: str,
                work_dir_help: str) -> argparse.ArgumentParser:
    """A parser with the options both tools share.

    Args:
        description (str): The tool's one-line description.
        config_help (str): Help text of the positional ``config``.
        work_dir_help (str): Help text of ``--work-dir``.

    Returns:
        argparse.ArgumentParser: Parser with ``config``, ``--work-dir``,
        ``--cfg-options`` (:class:`ConfigOptionsAction`), ``--launcher``
        (one of :data:`LAUNCHERS`, default ``'none'``) and
        ``--local_rank`` / ``--local-rank`` (int, default 0). Further
        positionals added by the tool follow ``config``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help=config_help)
    parser.add_argument('--work-dir', help=work_dir_help)
    add_cfg_options(
        parser, 'override config entries (dotted keys), e.g. '
        'optim_wrapper.optimizer.lr=2e-4; applied before the checks and '
        'before --work-dir')
    parser.add_argument(
        '--launcher',
        choices=LAUNCHERS,
        default='none',
        help='job launcher ("none": a single process)')
    parser.add_argument(
        '--local_rank',
        '--local-rank',
        type=int,
        default=0,
        help='rank of this process on its node (set by the launcher)')
    return parser


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv: Optional[Sequence[str]] = None
                    ) -> argparse.Namespace:
    """Parse the command line and export ``LOCAL_RANK``.

    ``LOCAL_RANK`` is set from ``--local_rank`` only when the environment
    does not have it (``torch.distributed.launch`` passes the flag,
    ``torchrun`` the variable).

    Args:
        parser (argparse.ArgumentParser): From :func:`tool_parser`.
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.

    Raises:
        SystemExit: With status 2 and argparse's message on bad arguments.
    """
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def train_parser() -> argparse.ArgumentParser:
    """The parser of ``tools/train.py``.

    Returns:
        argparse.ArgumentParser: :func:`tool_parser` with ``--amp``,
        ``--amp-dtype`` (``float16`` / ``bfloat16``), ``--auto-scale-lr``
        and ``--resume [CHECKPOINT]`` (``'auto'`` without a path).
    """
    parser = tool_parser('Train a model', 'train config file path',
                         'dir to save logs and checkpoints')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (fp16 on CUDA, bf16 on CPU)')
    parser.add_argument(
        '--amp-dtype',
        choices=('float16', 'bfloat16'),
        help='autocast dtype of --amp (implies --amp); float16 on a CPU '
        'runs the loss-scaled fp16 path of CUDA AMP, to rehearse a GPU run')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by total batch size / '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest '
        'checkpoint of the work_dir when no path is given')
    return parser


def test_parser() -> argparse.ArgumentParser:
    """The parser of ``tools/test.py``.

    Returns:
        argparse.ArgumentParser: :func:`tool_parser` with the positional
        ``checkpoint``, ``--out``, ``--show-dir``, ``--show``,
        ``--wait-time``, ``--tta`` and ``--flip``. ``--flip`` without
        ``--tta`` is refused by :func:`parse_test_args`.
    """
    parser = tool_parser('Test (and evaluate) a model',
                         'test config file path',
                         'dir to save the evaluation logs')
    parser.add_argument(
        'checkpoint',
        help='checkpoint: a path or http(s) URL, this project\'s or an '
        'official file as released (converted on load)')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--show-dir',
        help='write a visualisation of every evaluated image to this folder '
        '(mmengine visualisation hooks of mmdet / mmseg / mmpretrain)')
    parser.add_argument(
        '--show', action='store_true', help='show the visualisations')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation with the config\'s tta_pipeline and '
        'tta_model (ADE20K configs: the official multi-scale test, ratios '
        '0.5-1.75 of (2048, 512) aligned to 32, no flip: the papers\' '
        '"MS IoU"; COCO configs: mmdet\'s DetTTAModel, 3 scales x '
        '{no flip, flip}, boxes merged by class-wise NMS; Mask R-CNN: boxes '
        'only, as mmdet\'s DetTTAModel does not merge masks)')
    parser.add_argument(
        '--flip',
        action='store_true',
        help='with --tta: add horizontally flipped copies of every scale')
    return parser


# a module-level name starting with "test" is not a pytest test
test_parser.__test__ = False


def parse_train_args(argv: Optional[Sequence[str]] = None
                     ) -> argparse.Namespace:
    """Parse the arguments of ``tools/train.py`` (:func:`train_parser`).

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments (``LOCAL_RANK`` exported
        as by :func:`parse_tool_args`).

    Raises:
        SystemExit: With status 2 and argparse's message on bad arguments.
    """
    return parse_tool_args(train_parser(), argv)


def parse_test_args(argv: Optional[Sequence[str]] = None
                    ) -> argparse.Namespace:
    """Parse the arguments of ``tools/test.py`` (:func:`test_parser`).

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments (``LOCAL_RANK`` exported
        as by :func:`parse_tool_args`).

    Raises:
        SystemExit: With status 2 and argparse's message on bad arguments,
            also for ``--flip`` without ``--tta``.
    """
    parser = test_parser()
    args = parse_tool_args(parser, argv)
    if args.flip and not args.tta:
        parser.error('--flip is an option of --tta; add --tta')
    return args


def default_work_dir(config: str) -> str:
    """``./work_dirs/<config file name without extension>``."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])


def load_tool_config(args: argparse.Namespace,
                     loaders: Sequence[str]) -> Config:
    """Load, override and check the config of a tool run.

    In order: denormal floats are flushed on CPU
    (:func:`~mmcrossformer.utils.flush_denormals_on_cpu`); the config file
    is read; ``launcher`` is set from ``args.launcher``; ``--cfg-options``
    are merged; the neck / head channels and the ``data_root`` of
    ``loaders`` are checked; ``work_dir`` is ``--work-dir``, else the
    config's ``work_dir``, else :func:`default_work_dir`; with a launcher
    other than ``'none'``, CPU data parallel is set up
    (:func:`~mmcrossformer.utils.setup_cpu_distributed`, a no-op with
    CUDA).

    Args:
        args (argparse.Namespace): From :func:`parse_tool_args`.
        loaders (Sequence[str]): Dataloader entries whose
            ``dataset.data_root`` must exist, e.g. ``('test_dataloader',)``.

    Returns:
        Config: The config to build the Runner from.

    Raises:
        FileNotFoundError: If the config file or a ``data_root`` is missing.
        ValueError: If a neck / head takes other channels than the
            backbone gives (:func:`check_in_channels`).
    """
    flush_denormals_on_cpu()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    check_in_channels(cfg.model)
    check_data_roots(cfg, tuple(loaders))
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = default_work_dir(args.config)
    if args.launcher != 'none':
        setup_cpu_distributed(cfg)
    return cfg


def build_runner(cfg: Config):
    """The Runner of ``cfg``: ``RUNNERS.build`` when the config names a
    ``runner_type``, else mmengine's ``Runner.from_cfg``.

    The Runner sets the config's ``default_scope`` (mmdet, mmseg or
    mmpretrain) as the registry scope of everything it builds.
    :class:`~mmcrossformer.engine.LoadCheckpointHook` is added to
    ``custom_hooks`` unless the config has it: ``load_from`` and test
    checkpoints load strictly, official files as released.

    Returns:
        mmengine.runner.Runner: Ready for ``train()`` or ``test()``.
    """
    from mmengine.hooks import Hook
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    hooks = list(cfg.get('custom_hooks') or [])
    for i, hook in enumerate(hooks):
        if not isinstance(hook, (dict, Hook)):
            # e.g. --cfg-options "custom_hooks=[dict(type='X')]": mmengine's
            # DictAction reads the list's items as strings
            raise ValueError(
                f'custom_hooks[{i}] is {hook!r} ({type(hook).__name__}), '
                'not a dict or a Hook: --cfg-options cannot build dicts; set '
                'custom_hooks in a config file that inherits this one')
    if not any(
            isinstance(h, Hook) and type(h).__name__ == 'LoadCheckpointHook'
            or isinstance(h, dict) and str(h.get('type', '')).split('.')[-1]
            == 'LoadCheckpointHook' for h in hooks):
        hooks.append(dict(type='mmcrossformer.LoadCheckpointHook'))
    cfg.custom_hooks = hooks
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


__all__ = [
    'LAUNCHERS', 'ConfigOptionsAction', 'add_cfg_options', 'require_files',
    'analysis_parser', 'parse_analysis_args', 'tool_parser',
    'parse_tool_args',
    'train_parser', 'test_parser', 'parse_train_args', 'parse_test_args',
    'default_work_dir', 'load_tool_config', 'build_runner'
]
