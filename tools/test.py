"""Evaluate a checkpoint with the config's test dataloader and evaluator.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--tta [--flip]] [--show-dir DIR] [--cfg-options KEY=VALUE ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS
"""
import logging
import os.path as osp

from mmengine.logging import print_log

from mmcrossformer.utils.cli import (
    build_runner,
    load_tool_config,
    parse_tool_args,
    tool_parser,
)


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


def add_flip(tta_pipeline: list) -> None:
    """Add unflipped + horizontally flipped copies after the resize group of
    the pipeline's ``TestTimeAug`` step (in place).

    Raises:
        ValueError: If the pipeline has no ``TestTimeAug`` step, or it flips
            already.
    """
    steps = [t for t in tta_pipeline if t.get('type') == 'TestTimeAug']
    if not steps:
        raise ValueError('--flip needs a TestTimeAug step in tta_pipeline')
    groups = steps[0]['transforms']
    if any(t.get('type') == 'RandomFlip' for g in groups for t in g):
        raise ValueError('tta_pipeline flips already; drop --flip')
    groups.insert(1, [
        dict(type='RandomFlip', prob=0., direction='horizontal'),
        dict(type='RandomFlip', prob=1., direction='horizontal')
    ])


def det_tta_boxes_only(cfg) -> None:
    """Test the box branch only under mmdet's ``DetTTAModel`` (in place).

    mmdet 3.3's ``DetTTAModel`` merges the boxes, scores and labels of the
    views (boxes flipped back, class-wise NMS) and refuses predictions that
    carry masks (``AssertionError: TTA of instance segmentation does not
    support now``). For a model whose ``roi_head`` has a mask head (Mask
    R-CNN), the mask head and its RoI extractor are left out of the tested
    model (their weights in the checkpoint go unused, as
    ``LoadCheckpointHook(unused_keys=...)`` is told) and ``'segm'`` is
    removed from the metrics of every
    ``CocoMetric`` in ``test_evaluator``; a warning says so.

    Raises:
        ValueError: If a ``CocoMetric`` asks for ``'segm'`` only.
    """
    if str(cfg.tta_model.get('type', '')).split('.')[-1] != 'DetTTAModel':
        return
    dropped = []
    roi_head = cfg.model.get('roi_head') or {}
    if roi_head.get('mask_head') is not None:
        roi_head.mask_head = None
        roi_head.mask_roi_extractor = None
        dropped.append('the mask head')
        # the checkpoint's mask head weights are known to go unused
        cfg.custom_hooks = [
            h for h in cfg.get('custom_hooks') or []
            if not str(h.get('type', '')).endswith('LoadCheckpointHook')
        ] + [
            dict(
                type='mmcrossformer.LoadCheckpointHook',
                unused_keys=['roi_head.mask_head.'])
        ]
    evaluators = cfg.test_evaluator if isinstance(
        cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
    for evaluator in evaluators:
        if not str(evaluator.get('type', '')).endswith('CocoMetric'):
            continue
        metrics = evaluator.get('metric', 'bbox')
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        if 'segm' not in metrics:
            continue
        kept = [m for m in metrics if m != 'segm']
        if not kept:
            raise ValueError(
                f'--tta: CocoMetric metric={metrics!r} evaluates masks only, '
                f'but mmdet\'s DetTTAModel merges boxes only')
        evaluator.metric = kept
        dropped.append(f'\'segm\' (CocoMetric metric={kept!r})')
    if dropped:
        print_log(
            f'--tta: mmdet\'s DetTTAModel merges boxes only (no masks); left '
            f'out: {" and ".join(dropped)}',
            logger='current',
            level=logging.WARNING)


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
