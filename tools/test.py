"""Evaluate a checkpoint with the config's test dataloader and evaluator.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--tta [--flip]] [--show-dir DIR] [--cfg-options KEY=VALUE ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS

The options come from :func:`mmcrossformer.utils.cli.test_parser`.
"""
import os.path as osp

from mmcrossformer.utils.cli import (
    build_runner,
    load_tool_config,
    parse_test_args,
)
from mmcrossformer.utils.tta import add_flip, det_tta_boxes_only


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
    args = parse_test_args(argv)
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
