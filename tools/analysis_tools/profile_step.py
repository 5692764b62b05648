"""Where a training step of a backbone spends its time (CPU).

Usage::

    python tools/analysis_tools/profile_step.py CONFIG [--compare CONFIG2 ...]
        [--shape H W] [--threads N] [--repeat N] [--operators N]
        [--cfg-options KEY=VALUE ...]

For each config the model is built without pretrained weights
(``mmcrossformer.apis.build_model``) and one training step of its backbone
(train mode, backward from the sum of the outputs' means) is profiled by
:mod:`mmcrossformer.apis.profiling`: a Markdown table of the forward and
backward wall time per brick (CEL, blocks, L/SDA, norms, ACL; Swin's
patch embedding / merging, blocks, window attention), then
``torch.profiler``'s operator tables of the forward and the backward pass.
"""
import argparse

import torch

from mmcrossformer.apis.flops import check_shape
from mmcrossformer.apis.inference import build_model
from mmcrossformer.apis.profiling import (
    brick_profile,
    format_bricks,
    operator_profile,
)
from mmcrossformer.utils.cli import add_cfg_options, require_files
from mmcrossformer.utils.runtime import flush_denormals_on_cpu


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Profile a training step of config backbones by brick '
        'and by operator (CPU).')
    parser.add_argument('config', help='config file')
    parser.add_argument('--compare', nargs='+', default=[],
                        help='more configs to profile')
    parser.add_argument('--shape', type=int, nargs='+', default=[800, 1216],
                        help='input H W (or one size); default 800 1216')
    parser.add_argument('--threads', type=int, help='torch threads')
    parser.add_argument('--repeat', type=int, default=3,
                        help='timed steps per config (median reported)')
    parser.add_argument('--operators', type=int, default=15,
                        help='rows of each operator table (0: none)')
    add_cfg_options(parser, 'overrides for every config, KEY=VALUE')
    args = parser.parse_args(argv)
    configs = [args.config] + args.compare
    require_files(parser, {f'config {i}': c for i, c in enumerate(configs)})
    try:
        args.shape = check_shape(args.shape)
    except ValueError as err:
        parser.error(str(err))
    if args.repeat < 1:
        parser.error(f'--repeat must be >= 1, got {args.repeat}')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    flush_denormals_on_cpu()
    reports, tables = [], []
    for config in [args.config] + args.compare:
        model = build_model(config, args.cfg_options)
        backbone = model.backbone
        backbone.train()
        torch.manual_seed(0)
        images = torch.randn(1, 3, *args.shape)
        name = config.rsplit('/', 1)[-1].removesuffix('.py')
        reports.append((name, brick_profile(backbone, backbone, images,
                                            args.repeat)))
        if args.operators:
            tables.append((name, operator_profile(backbone, images,
                                                  args.operators)))
    h, w = args.shape
    print(f'Training step of the backbone, input 1 x 3 x {h} x {w}, '
          f'{torch.get_num_threads()} threads, fp32 (wall ms; a brick '
          f'includes the bricks nested in it)\n')
    print(format_bricks(reports))
    for name, table in tables:
        for part in ('forward', 'backward'):
            print(f'\n{name}: {part} pass, operators by self CPU time')
            print(table[part])


if __name__ == '__main__':
    main()
