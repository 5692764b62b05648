"""Time our CrossFormer backbone against the official implementation.

The official code (https://github.com/cheerss/CrossFormer) is not part of
this project and is never copied into it: clone it anywhere outside this
repository and pass the clone's root. The tool imports, from that clone,

* ``--task cls``: ``models/crossformer.py`` (the ImageNet model; its
  ``forward_features``, i.e. stages, final norm and average pooling, for an
  input of exactly ``--shape``), compared with ``CrossFormer(arch,
  final_norm=True, out_indices=(3, ))`` followed by the same pooling;
* ``--task det``: ``models/crossformer_backbone_det.py`` (the detection /
  segmentation backbone; any input size, group size 7 and intervals 8-4-2-1
  as in the official detection configs), compared with our backbone as
  ``configs/_base_/retinanet_crossformer.py`` sets it (all four outputs).

The measurements are :mod:`mmcrossformer.apis.benchmark_official`'s. The
official file is imported with the stand-ins of
``mmcrossformer.utils.official`` for the mmcv 1.x / mmdet 2.x names it
uses. The official model gets random weights (norms not the identity),
converted by ``mmcrossformer.models.utils.ckpt_convert`` (what
``tools/model_converters/crossformer_to_mmcf.py`` runs) and loaded strictly
into ours; both run in eval mode under ``torch.no_grad()`` on the same
random images, the outputs are compared (the tool stops if they differ by
more than ``1e-4``) and then timed in alternating rounds (official, ours),
each the median time per call of ``torch.utils.benchmark`` after
``--warmup`` untimed calls, over about ``--repeat`` timed calls (see
``mmcrossformer.utils.benchmark.measure``; on CUDA the timer synchronises
the device).

On CUDA the comparison and the timing run in full fp32 (TF32 off in
matmuls and cuDNN convolutions) unless ``--tf32`` allows it for the
timing; the peak memory of one call of each implementation (allocated
memory above what was allocated before it, read with mmengine's
``get_max_cuda_memory``) is reported. ``--amp`` times both under
``torch.autocast`` (fp16 on CUDA, bf16 on the CPU; ``--amp-dtype`` picks
one); the outputs are still compared in fp32.

Usage::

    git clone https://github.com/cheerss/CrossFormer /tmp/CrossFormer
    python tools/analysis_tools/benchmark_official.py \\
        --official-root /tmp/CrossFormer [--arch pp-s] [--task cls|det] \\
        [--shape H W] [--batch N] [--warmup 2] [--repeat 10] [--rounds 3] \\
        [--device cpu|cuda] [--amp] [--amp-dtype fp16|bf16] [--tf32] \\
        [--threads N] [--compile] [--profile]
"""
import argparse
import sys

import torch

from mmcrossformer.apis.benchmark_official import (
    benchmark,
    build_pair,
    profile_table,
)
from mmcrossformer.utils.benchmark import AMP_DTYPES, require_cuda


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time our CrossFormer backbone against the official '
        'code (equal weights and outputs checked first).')
    parser.add_argument(
        '--official-root',
        required=True,
        help='root of a clone of https://github.com/cheerss/CrossFormer')
    parser.add_argument('--arch', default='pp-s')
    parser.add_argument('--task', default='cls', choices=['cls', 'det'])
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input H W; defaults to 224 224 (cls), 800 1216 (det)')
    parser.add_argument(
        '--batch', type=int, help='defaults to 8 (cls), 1 (det)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument(
        '--rounds',
        type=int,
        default=3,
        help='alternating (official, ours) rounds; the median is reported')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--amp',
        action='store_true',
        help='time under autocast: fp16 (CUDA) / bf16 (CPU); outputs are '
        'compared in fp32 first')
    parser.add_argument(
        '--amp-dtype',
        choices=sorted(AMP_DTYPES),
        help='autocast dtype (implies --amp)')
    parser.add_argument(
        '--tf32',
        action='store_true',
        help='CUDA: allow TF32 for the timing (default: full fp32)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='run ours through torch.compile (the official model stays '
        'eager)')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='also print the operators taking the most time in one call of '
        'each implementation (torch.profiler)')
    parser.add_argument('--threads', type=int, help='torch threads')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        require_cuda(args.device)
    except ValueError as err:
        sys.exit(f'benchmark_official.py: error: {err}')
    if args.threads:
        torch.set_num_threads(args.threads)
    r = benchmark(args.official_root, args.arch, args.task, args.shape,
                  args.batch, args.warmup, args.repeat, args.rounds,
                  args.compile, args.device, args.amp_dtype or args.amp,
                  args.tf32)
    h, w = r['shape']
    precision = f'autocast {r["amp"]}' if r['amp'] else 'fp32'
    if r['device'] == 'cuda':
        precision += f', TF32 {"on" if r["tf32"] else "off"}'
        where = (f'{torch.cuda.get_device_name()} (CUDA '
                 f'{torch.version.cuda})')
    else:
        where = f'CPU, {torch.get_num_threads()} threads'
    print(f'CrossFormer {r["arch"]} backbone ({r["task"]}), input '
          f'{r["batch"]} x 3 x {h} x {w}, {where}, {precision}')
    print(f'max |official - ours| over the outputs: '
          f'{r["max_abs_diff"]:.2e}')
    print(f'{"implementation":<26} {"median ms":>10} {"img/s":>8} '
          f'{"rounds (ms)":>24} {"peak MiB":>9}')
    ours_label = 'mmcrossformer' + (' (compiled)' if r['compile'] else '')
    for key, label in (('official', 'official'), ('ours', ours_label)):
        med = r[f'{key}_median_s']
        rounds = ' '.join(f'{t * 1e3:.1f}' for t in r[f'{key}_s'])
        peak = r[f'{key}_peak_bytes']
        mem = 'n/a' if peak is None else f'{peak / 2**20:.0f}'
        print(f'{label:<26} {med * 1e3:>10.1f} {r["batch"] / med:>8.2f} '
              f'{rounds:>24} {mem:>9}')
    print(f'speed-up (official time / ours): {r["speedup"]:.2f}x')
    if args.profile:
        official, ours = build_pair(args.official_root, args.arch, args.task,
                                    r['shape'])
        official, ours = official.to(args.device), ours.to(args.device)
        x = torch.randn(r['batch'], 3, *r['shape'], device=args.device)
        for label, model in (('official', official), ('mmcrossformer',
                                                      ours)):
            print(f'\n{label}: operators of one call')
            print(profile_table(model, x))
    return r


if __name__ == '__main__':
    main()
