"""Export a classifier, detector, segmentor or bare backbone to ONNX.

Usage::

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] --shape H W
        [--dynamic] [--backbone-only] [--out FILE] [--opset N]
        [--exporter dynamo|torchscript] [--verify] [--verify-shape H W]
        [--cfg-options KEY=VALUE ...]

The graph takes float images (B, 3, H, W), normalised as the model's data
preprocessor would do it, and gives the classifier's or segmentor's logits,
a single-stage detector's raw head outputs per level, or with
``--backbone-only`` the backbone's feature maps. Without ``CHECKPOINT`` the
weights are random (``init_weights``), which is enough to check the export.
``--dynamic`` makes batch, height and width dynamic and writes the
conditions on the input size that the graph assumes to ``<out>.json``.
``--verify`` runs the file in onnxruntime (CPU) at the export size and at
each ``--verify-shape`` and compares with PyTorch (max |diff| <= ``--atol``).
``--exporter auto`` (default) takes dynamo for ``--dynamic`` and the tracer
otherwise.

The export and the checks are
:func:`mmcrossformer.deployment.onnx_export.pytorch2onnx` (what each kind
of model exports, the two exporters, the guards of a dynamic export); see
docs/en/deployment.md. A failed export or check exits with status 1 and
says why; bad arguments are usage errors (status 2).
"""
import argparse
import os.path as osp
import sys

from mmcrossformer.deployment.onnx_export import (
    EXPORTERS,
    ExportError,
    check_shape,
    pytorch2onnx,
)
from mmcrossformer.utils.cli import add_cfg_options


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a classifier, detector, segmentor or backbone '
        'to ONNX (see the module docstring).')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='weights (optional)')
    parser.add_argument(
        '--shape', type=int, nargs='+', required=True,
        help='export input H W (one size for a square)')
    parser.add_argument('--out', help='ONNX file (default: <config>.onnx)')
    parser.add_argument(
        '--dynamic', action='store_true',
        help='dynamic batch, height and width')
    parser.add_argument(
        '--backbone-only', action='store_true',
        help='export the backbone (feature maps) only')
    parser.add_argument(
        '--exporter', choices=EXPORTERS, default='auto',
        help='torch.onnx exporter; auto (default): dynamo with --dynamic, '
        'torchscript otherwise')
    parser.add_argument(
        '--opset', type=int,
        help='ONNX opset (default: 18 dynamo, 17 torchscript)')
    parser.add_argument(
        '--verify', action='store_true',
        help='compare onnxruntime with PyTorch at the export size')
    parser.add_argument(
        '--verify-shape', type=int, nargs='+', action='append', default=[],
        help='another size H W to compare at (implies --verify; repeatable)')
    parser.add_argument('--atol', type=float, default=1e-4)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument(
        '--repeat', type=int, default=0,
        help='time this many onnxruntime / PyTorch runs per checked size')
    add_cfg_options(parser, 'override config settings, KEY=VALUE')
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    if args.checkpoint and '://' not in args.checkpoint and not osp.isfile(
            args.checkpoint):
        parser.error(f'checkpoint not found: {args.checkpoint}')
    try:
        check_shape(args.shape)
        for shape in args.verify_shape:
            check_shape(shape, '--verify-shape')
    except ValueError as err:
        parser.error(str(err))
    if args.batch < 1:
        parser.error(f'--batch must be >= 1, got {args.batch}')
    return args


def main(argv=None):
    args = parse_args(argv)
    verify = list(args.verify_shape)
    if args.verify and not verify:
        verify = [args.shape]
    try:
        result = pytorch2onnx(
            args.config, args.checkpoint, args.shape, args.out, args.dynamic,
            args.backbone_only, args.exporter, args.opset, verify, args.atol,
            args.batch, args.repeat, args.cfg_options)
    except ExportError as err:
        print(f'Export failed: {err}', file=sys.stderr)
        return 1
    info = result['export']
    print(f'Wrote {result["out"]} ({result["kind"]}, {info["exporter"]} '
          f'exporter, opset {info["opset"]}, {info["seconds"]:.1f} s); '
          f'outputs: {", ".join(result["names"])}')
    if 'ranges' in info:
        print('Dynamic height / width: ' + ', '.join(
            f'{k} in [{lo}, {"inf" if hi is None else hi}]'
            for k, (lo, hi) in info['ranges'].items()) +
              f', and {len(info["guards"])} conditions on the input size '
              f'that the graph assumes (torch.export guards), written to '
              f'{osp.splitext(result["out"])[0]}.json')
    if info.get('restricted'):
        print('Note: the dynamic graph does not serve sizes next to the '
              'export size (' + ', '.join(f'{a}x{b}' for a, b in
                                          info['restricted']) +
              '): the model branches on the exact input size; export '
              'statically for sizes that fail its guards.')
    for check in result['checks']:
        h, w = check['shape']
        line = (f'{h}x{w}: max |onnxruntime - PyTorch| = '
                f'{check["max_abs_diff"]:.2e} ({check["file"]})')
        if args.repeat:
            line += (f'; per run: onnxruntime {check["ort_seconds"]:.3f} s,'
                     f' PyTorch {check["torch_seconds"]:.3f} s')
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
