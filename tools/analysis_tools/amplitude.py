"""Maximum absolute output of every block, with and without ACL.

CrossFormer++ (Sec. 3.4, Fig. 5) shows that block outputs grow with depth
and that amplitude cooling layers (ACL) damp them. This tool measures it for
any CrossFormer config, on any image:

    python tools/analysis_tools/amplitude.py CONFIG [CHECKPOINT] --img IMG \
        [--size 224 224] [--out-dir work_dirs/amplitude] \
        [--cfg-options KEY=VALUE ...]

It prints a table and saves ``amplitude.png``: the config's model and the
same model with ``use_acl`` switched (weights shared where the layouts
agree; ACL layers start from their default init).
"""
import os
import os.path as osp

from mmcrossformer.apis.analysis import (
    block_amplitudes,
    load_backbone,
    load_image,
)
from mmcrossformer.utils.cli import analysis_parser, parse_analysis_args


def parse_args(argv=None):
    parser = analysis_parser(__doc__.split('\n')[0], 'work_dirs/amplitude')
    return parse_analysis_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    model, norm = load_backbone(args.config, args.checkpoint, args.cfg_options)
    img = load_image(args.img, args.size, norm)
    has_acl = any(b.acl is not None for s in model.stages for b in s.blocks)
    toggled, _ = load_backbone(args.config, args.checkpoint,
                               args.cfg_options, use_acl=not has_acl)
    runs = {('with ACL' if has_acl else 'without ACL'):
            block_amplitudes(model, img),
            ('without ACL' if has_acl else 'with ACL'):
            block_amplitudes(toggled, img)}
    names = sorted(runs)
    print(f'{"block":>6} {"stage":>5}  ' +
          '  '.join(f'{n:>12}' for n in names))
    for i, rec in enumerate(runs[names[0]]):
        values = '  '.join(f'{runs[n][i][2]:12.3f}' for n in names)
        print(f'{i + 1:>6} {rec[0] + 1:>5}  {values}')

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    os.makedirs(args.out_dir, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for n in names:
        ax.plot(range(1, len(runs[n]) + 1), [r[2] for r in runs[n]],
                marker='o', label=n)
    ax.set_xlabel('block')
    ax.set_ylabel('max |output|')
    ax.set_yscale('log')
    ax.set_title(osp.basename(args.config))
    ax.legend()
    fig.tight_layout()
    out = osp.join(args.out_dir, 'amplitude.png')
    fig.savefig(out, dpi=100)
    print(f'saved {out}')


if __name__ == '__main__':
    main()
