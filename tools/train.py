"""Train a model of any OpenMMLab 2.0 package from a config.

The default scope (mmdet, mmseg, mmpretrain) comes from the config's
``default_scope``, so the same script trains detection, segmentation and
classification configs:

    python tools/train.py configs/retinanet_crossformerpp_s_coco.py
    python tools/train.py CONFIG --work-dir DIR --amp --resume
    python tools/train.py CONFIG --amp-dtype float16   # fp16 + loss scaling
    bash tools/dist_train.sh CONFIG NUM_GPUS

The options (those shared with tools/test.py: ``--work-dir``,
``--cfg-options``, ``--launcher``) come from
:func:`mmcrossformer.utils.cli.train_parser`.
"""
import os.path as osp

from mmcrossformer.utils import setup_amp, trust_file
from mmcrossformer.utils.cli import (
    build_runner,
    load_tool_config,
    parse_train_args,
)


def main(argv=None):
    args = parse_train_args(argv)
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
