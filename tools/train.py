"""Train a model of any OpenMMLab 2.0 package from a config.

The default scope (mmdet, mmseg, mmpretrain) comes from the config's
``default_scope``, so the same script trains detection, segmentation and
classification configs:

    python tools/train.py configs/retinanet_crossformerpp_s_coco.py
    python tools/train.py CONFIG --work-dir DIR --amp --resume
    python tools/train.py CONFIG --amp-dtype float16   # fp16 + loss scaling
    bash tools/dist_train.sh CONFIG NUM_GPUS

The options shared with tools/test.py (``--work-dir``, ``--cfg-options``,
``--launcher``) come from :mod:`mmcrossformer.utils.cli`.
"""
import os.path as osp

from mmcrossformer.utils import setup_amp, trust_file
from mmcrossformer.utils.cli import (
    build_runner,
    load_tool_config,
    parse_tool_args,
    tool_parser,
)


def parse_args(argv=None):
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
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args, ('train_dataloader', 'val_dataloader'))
    if args.amp or args.amp_dtype:
        setup_amp(cfg, args.amp_dtype)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr.'
                               'base_batch_size in the config')
        cfg.auto_scale_lr.enable = True

    # the checkpoint the user resumes is the one file unpickled in full
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
        from mmengine.runner import find_latest_checkpoint
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest:
            trust_file(latest)
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume {args.resume}: no such file')
        cfg.resume = True
        cfg.load_from = args.resume
        trust_file(args.resume)

    build_runner(cfg).train()


if __name__ == '__main__':
    main()
