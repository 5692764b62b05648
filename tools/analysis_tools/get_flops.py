"""Parameters and FLOPs of a classifier, detector or segmentor config.

Usage::

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]
        [--cfg-options KEY=VALUE ...]

The model is built from the config by ``mmcrossformer.apis.build_model``
(without pretrained weights) and counted by
:func:`mmcrossformer.apis.get_flops` on one random image: mmengine's
``FlopAnalyzer``, one FLOP per fused multiply-add as in the papers, with a
handle for ``scaled_dot_product_attention`` (see
``mmcrossformer/apis/flops.py`` for what is and is not counted).
``--shape`` defaults to 224 x 224 for mmpretrain configs, 1280 x 800 for
mmdet and 512 x 2048 for mmseg configs (the sizes of the papers' tables);
one number gives a square.
"""
import argparse

from mmcrossformer.apis.flops import get_flops
from mmcrossformer.utils.cli import add_cfg_options, require_files


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Count the parameters and FLOPs of a model config.')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input H W (or one size for a square); defaults to 224 224 '
        '(mmpretrain), 1280 800 (mmdet), 512 2048 (mmseg)')
    add_cfg_options(parser, 'override config settings, KEY=VALUE')
    args = parser.parse_args(argv)
    require_files(parser, {'config': args.config})
    return args


def main(argv=None):
    args = parse_args(argv)
    result = get_flops(args.config, args.shape, args.cfg_options)
    line = '=' * 40
    h, w = result['shape']
    print(line)
    print(f'Config: {args.config}')
    print(f'Input shape: 3 x {h} x {w}')
    print(f'Params: {result["params"] / 1e6:.2f} M')
    print(f'FLOPs: {result["flops"] / 1e9:.2f} G')
    print(f'  of which attention matmuls (SDPA handle of this tool): '
          f'{result["sdpa_flops"] / 1e9:.2f} G')
    for name, flops in result['by_module'].items():
        if name != 'data_preprocessor':
            print(f'  {name}: {flops / 1e9:.3f} G')
    if result['unsupported']:
        print('Not counted (no FLOP handle): ' +
              ', '.join(result['unsupported']))
    print(line)
    print('FLOPs count one multiply-add as one; element-wise operations '
          '(softmax, activations, additions) are not counted.')


if __name__ == '__main__':
    main()
