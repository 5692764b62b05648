"""Throughput, peak memory and roofline of model configs, side by side.

Usage::

    python tools/analysis_tools/benchmark.py CONFIG [--shape H W]
        [--batch N] [--device cpu|cuda] [--compare CONFIG2 ...]
        [--variant KEY=VALUE ... [--variant KEY=VALUE ...]]
        [--parts backbone model]
        [--passes fwd fwd+bwd] [--warmup 2] [--repeat 10] [--amp]
        [--amp-dtype fp16|bf16] [--no-tf32] [--compile] [--threads N]
        [--no-memory] [--no-roofline] [--cfg-options KEY=VALUE ...]

For every config (``CONFIG``, then each ``--compare`` config, then
``CONFIG`` with each ``--variant`` set of overrides: every ``--variant``
flag is one more row, its ``KEY=VALUE`` items applied together over
``--cfg-options``) and every part
(``backbone``: ``model.backbone(images)``; ``model``: the whole model's
``forward(images, data_samples, mode='tensor')``, i.e. backbone, neck and
heads without losses or post-processing) the tool times

* ``fwd``: a forward pass in eval mode under ``torch.no_grad()``;
* ``fwd+bwd``: a forward pass in train mode and a backward pass from the
  sum of the means of all floating outputs (a stand-in for a training
  step's compute; the optimizer step is not included).

on random images of ``--batch`` x 3 x H x W. The models are built by
``mmcrossformer.apis.build_model`` (without the pretrained weights a config
names; the measurements are :mod:`mmcrossformer.apis.benchmark`'s).
Timing is ``torch.utils.benchmark``'s (``Timer.blocked_autorange``
after ``--warmup`` untimed calls, about ``--repeat`` timed calls; see
:func:`mmcrossformer.utils.benchmark.measure`), and its ``Compare`` prints
the median time per call of every row, marking a large spread (``(! XX%)``:
the interquartile range as a percentage of the median). A second table
gives images per second, the ratio of each row's throughput to the first
config's, the peak memory and the roofline.

Peak memory (MiB, the allocations of one pass above what was allocated
before it; the ``fwd+bwd`` pass includes the parameters' gradients): on CUDA
the peak of allocated memory over the warm-up and timed calls (mmengine's
``get_max_cuda_memory``); on the CPU the peak resident set size (``VmHWM``)
of a separate, untimed pass in a child process in which glibc returns every
freed block of 64 KiB or more to the system at once
(``MALLOC_MMAP_THRESHOLD_``), so that the resident size follows the live
tensors rather than the allocator's cache (``--no-memory`` skips it; see
:func:`mmcrossformer.apis.benchmark.cpu_peak_memory`).

Roofline: the machine's matrix-multiply peak is measured in the same run (a
square fp32 matmul, or the autocast dtype with ``--amp``), and each forward
row prints its achieved rate, the model's FLOPs (counted by
``mmcrossformer.apis.flops``, one FLOP per multiply-add as in the papers)
divided by the median time, and that rate as a fraction of the peak.

``--amp`` runs the passes under ``torch.autocast`` (bf16 on CPU, fp16 on
CUDA; ``--amp-dtype`` picks one). ``--no-tf32`` turns TF32 off for CUDA
matmuls and convolutions (PyTorch's default allows it in cuDNN
convolutions); the footer says which was used. ``--compile`` times
every row's parts ``torch.compile``-d; a row whose config sets ``compile``
(mmengine's Runner option, True or a dict of ``torch.compile`` arguments)
is compiled with it, so that ``--variant compile=True`` puts the compiled
model beside the eager one (its ratio is the speed-up). A compiled row's
first call compiles; it is timed alone (column ``1st call s``) and its CPU
memory is not measured. ``--threads`` sets ``torch.set_num_threads``.

Reference configs for comparisons are in ``configs/reference/`` (mmpretrain's
Swin-T, mmdet's RetinaNet Swin-T and timm's CrossViT-15).
"""
import argparse
import copy
import os.path as osp
import shlex
import sys

import torch

from mmcrossformer.apis.benchmark import (
    PARTS,
    PASSES,
    benchmark,
    format_table,
    variant_label,
)
from mmcrossformer.utils.benchmark import AMP_DTYPES, require_cuda
from mmcrossformer.utils.cli import ConfigOptionsAction, add_cfg_options


class VariantAction(ConfigOptionsAction):
    """``--variant KEY=VALUE ...``: each occurrence of the flag appends one
    dict of overrides (one more row), instead of merging into the last."""

    def __call__(self, parser, namespace, values, option_string=None):
        scratch = argparse.Namespace()
        super().__call__(parser, scratch, values, option_string)
        variants = list(getattr(namespace, self.dest, None) or [])
        variants.append(getattr(scratch, self.dest))
        setattr(namespace, self.dest, variants)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time and compare model configs (throughput, peak '
        'memory, roofline).')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--compare', nargs='+', default=[], help='more configs to time')
    parser.add_argument(
        '--variant',
        nargs='+',
        action=VariantAction,
        metavar='KEY=VALUE',
        help='also time CONFIG with these overrides (applied together, on '
        'top of --cfg-options), e.g. model.backbone.with_cp=True; repeat '
        'the flag for more variants, each its own row')
    parser.add_argument(
        '--shape', type=int, nargs='+', help='input H W (or one size)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--parts', nargs='+', default=list(PARTS), choices=PARTS)
    parser.add_argument(
        '--passes', nargs='+', default=list(PASSES), choices=PASSES)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument(
        '--amp', action='store_true', help='bf16 (CPU) / fp16 (CUDA)')
    parser.add_argument(
        '--amp-dtype',
        choices=sorted(AMP_DTYPES),
        help='autocast dtype (implies --amp)')
    parser.add_argument(
        '--no-tf32',
        action='store_true',
        help='CUDA: full fp32 matmuls and convolutions (TF32 off)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='time every row torch.compile-d (a row whose config sets '
        'compile, e.g. --variant compile=True, is compiled anyway)')
    parser.add_argument('--threads', type=int, help='torch threads (CPU)')
    parser.add_argument(
        '--no-memory',
        action='store_true',
        help='skip the CPU memory pass (a child process per config)')
    parser.add_argument(
        '--no-roofline',
        action='store_true',
        help='skip FLOP counting and the matmul peak')
    add_cfg_options(parser, 'overrides for every config, KEY=VALUE')
    args = parser.parse_args(argv)
    for path in [args.config] + args.compare:
        if not osp.isfile(path):
            parser.error(f'config not found: {path}')
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        require_cuda(args.device)
    except ValueError as err:
        sys.exit(f'benchmark.py: error: {err}')
    if args.threads:
        torch.set_num_threads(args.threads)
    base = dict(args.cfg_options or {})
    rows = [(args.config, base or None)]
    rows += [(path, base or None) for path in args.compare]
    for variant in args.variant or []:
        options = copy.deepcopy(base)
        options.update(variant)
        rows.append((args.config, options, variant_label(args.config,
                                                         variant)))
    report = benchmark(
        rows,
        shape=args.shape,
        batch=args.batch,
        device=args.device,
        parts=args.parts,
        passes=args.passes,
        warmup=args.warmup,
        repeat=args.repeat,
        amp=args.amp_dtype or args.amp,
        compile=args.compile,
        tf32=False if args.no_tf32 else None,
        roofline=not args.no_roofline,
        memory_pass=not args.no_memory,
        log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_table(report))
    # the command that reproduces this table, ready to paste
    print('command: python tools/analysis_tools/benchmark.py ' +
          ' '.join(shlex.quote(a) for a in (
              sys.argv[1:] if argv is None else argv)))
    return report


if __name__ == '__main__':
    main()
