"""Attention map of a query token per stage (the PGS analysis).

CrossFormer++ (Sec. 3.3) averages the attention map of a token over the
batch and the heads and finds that shallow blocks attend to small regions
and deep blocks to large ones, the motivation for progressive group sizes.
This tool draws those maps (last SDA and last LDA block of every stage) for
any CrossFormer config, on any image:

    python tools/analysis_tools/attention_regions.py CONFIG [CHECKPOINT] \
        --img IMG [--size 224 224] [--query 0.5 0.5] [--out-dir DIR] \
        [--cfg-options KEY=VALUE ...]

It prints the number of tokens holding 90% of the attention per block and
saves ``attention_regions.png`` (input image + one map per block).
"""
import os
import os.path as osp

from mmcrossformer.apis.analysis import (
    attention_regions,
    load_backbone,
    load_image,
    region_size,
)
from mmcrossformer.utils.cli import analysis_parser, parse_analysis_args


def parse_args(argv=None):
    parser = analysis_parser(__doc__.split('\n')[0],
                             'work_dirs/attention_regions')
    parser.add_argument('--query', type=float, nargs=2, default=(0.5, 0.5),
                        metavar=('FY', 'FX'),
                        help='query position as fractions of height, width')
    return parse_analysis_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    model, norm = load_backbone(args.config, args.checkpoint, args.cfg_options)
    img = load_image(args.img, args.size, norm)
    maps = attention_regions(model, img, query=tuple(args.query))
    print(f'{"stage":>5} {"block":>5} {"attn":>4} {"map":>9} '
          f'{"group":>7} {"90% tokens":>10}')
    for (s, b), heat in maps.items():
        attn = model.stages[s].blocks[b].attn
        gh, gw, _ = attn.group_shape(*heat.shape)
        print(f'{s + 1:>5} {b + 1:>5} {attn.mode:>4} '
              f'{heat.shape[0]:>4}x{heat.shape[1]:<4} {gh:>3}x{gw:<3} '
              f'{region_size(heat):>10}')

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import mmcv
    os.makedirs(args.out_dir, exist_ok=True)
    cols = len(maps) + 1
    fig, axes = plt.subplots(1, cols, figsize=(2.2 * cols, 2.6))
    image = mmcv.imresize(mmcv.imread(args.img), (args.size[1],
                                                  args.size[0]))[..., ::-1]
    axes[0].imshow(image)
    axes[0].plot(args.query[1] * args.size[1], args.query[0] * args.size[0],
                 'r+', markersize=12)
    axes[0].set_title('input')
    for ax, ((s, b), heat) in zip(axes[1:], maps.items()):
        ax.imshow(heat, cmap='viridis')
        ax.set_title(f'stage {s + 1} block {b + 1}\n'
                     f'{model.stages[s].blocks[b].attn.mode.upper()}',
                     fontsize=8)
    for ax in axes:
        ax.axis('off')
    fig.tight_layout()
    out = osp.join(args.out_dir, 'attention_regions.png')
    fig.savefig(out, dpi=100)
    print(f'saved {out}')


if __name__ == '__main__':
    main()
