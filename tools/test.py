"""Evaluate a checkpoint with the config's test dataloader and evaluator.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--tta [--flip]] [--show-dir DIR] [--cfg-options KEY=VALUE ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS
"""
import os.path as osp

from mmcrossformer.utils.cli import (
    build_runner,
    load_tool_config,
    parse_tool_args,
    tool_parser,
)
from mmcrossformer.utils.tta import add_flip, det_tta_boxes_only


def parse_args(argv=None):
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
    args = parse_tool_args(parser, argv)
    if args.flip and not args.tta:
        parser.error('--flip is an option of --tta; add --tta')
    return args


def enable_visualization(cfg, show: bool, show_dir: str, wait_time: float):
    """Switch on the config's visualisation hook for every test image."""
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError('--show / --show-dir need a visualization hook in '
                           'default_hooks of the config')
    hook = hooks.visualization
    hook.interval = 1
    hook.show = show
    hook.wait_time = wait_time
    show_dir = osp.abspath(show_dir) if show_dir else None
    scope = cfg.get('default_scope')
    if scope == 'mmpretrain':
        hook.enable = True
        if show_dir:
            hook.out_dir = show_dir
    else:
        hook.draw = True
        if show_dir and scope == 'mmdet':
            hook.test_out_dir = show_dir  # absolute: not under work_dir
        elif show_dir:
            cfg.visualizer.save_dir = show_dir


def main(argv=None):
    args = parse_args(argv)
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    cfg = load_tool_config(args, ('test_dataloader', ))
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        enable_visualization(cfg, args.show, args.show_dir, args.wait_time)

    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ValueError(f'--tta needs tta_model and tta_pipeline in '
                             f'{args.config}')
        if args.flip:
            add_flip(cfg.tta_pipeline)
        det_tta_boxes_only(cfg)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {args.out}')
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(
            dict(type='mmengine.DumpResults', out_file_path=args.out))

    build_runner(cfg).test()


if __name__ == '__main__':
    main()
