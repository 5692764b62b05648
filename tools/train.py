"""Train a model of any OpenMMLab 2.0 package from a config.

The default scope (mmdet, mmseg, mmpretrain) comes from the config's
``default_scope``, so the same script trains detection, segmentation and
classification configs:

    python tools/train.py configs/retinanet_crossformerpp_s_coco.py
    python tools/train.py CONFIG --work-dir DIR --amp --resume
    bash tools/dist_train.sh CONFIG NUM_GPUS
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmcrossformer.utils import (flush_denormals_on_cpu, setup_amp,
                                 setup_cpu_distributed, trust_work_dir)
from mmcrossformer.utils.config_check import (check_data_roots,
                                              check_in_channels)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='dir to save logs and checkpoints')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (fp16 on CUDA, bf16 on CPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by total batch size / auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest '
        'checkpoint of the work_dir when no path is given')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. optim_wrapper.optimizer.lr=2e-4')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    flush_denormals_on_cpu()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    check_in_channels(cfg.model)
    check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    trust_work_dir(cfg.work_dir)

    if args.launcher != 'none':
        setup_cpu_distributed(cfg)
    if args.amp:
        setup_amp(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr.'
                               'base_batch_size in the config')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume {args.resume}: no such file')
        cfg.resume = True
        cfg.load_from = args.resume
        trust_work_dir(osp.dirname(args.resume))

    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
