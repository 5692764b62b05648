"""Record the outputs of the official models as test fixtures.

``tests/test_models/test_official_parity.py`` checks our backbones against
the official implementations without the official code: this script runs
small official models once, from clones of their repositories, and stores
what the test needs in ``tests/data/official_fixture_<name>.pth``:

* the official state dict (fp32 values, official key names),
* the input (as a seed and a shape, see
  :func:`mmcrossformer.testing.official_fixture.make_input`),
* the official outputs, fp32.

The official code is not part of this project and is never copied into it:
clone the repositories anywhere outside this one and pass their roots. The
files are imported from the clones while the script runs:

* ``crossformerpp_det``: ``models/crossformer_backbone_det.py`` of
  https://github.com/cheerss/CrossFormer (the dense backbone), a tiny
  CrossFormer++ (ACL on) on a 2 x 3 x 64 x 96 batch; its L/SDA pads the
  token maps of stages 1-3 and treats stage 4 as one group. Outputs: the
  four feature maps.
* ``crossformer_cls``: ``models/crossformer.py`` of the same repository
  (the ImageNet classifier), a tiny CrossFormer (v1: group size 7,
  intervals 8-4-2-1, no ACL) on a 2 x 3 x 128 x 128 batch. Outputs: the
  pooled features and the logits.
* ``crossvit``: ``models/crossvit.py`` of https://github.com/IBM/CrossViT,
  a tiny two-branch CrossViT (patches 12 and 16, different widths and
  heads, two multi-scale encoders with cross-attention fusion) on a
  2 x 3 x 112 x 112 batch. Outputs: both branches' tokens after each
  encoder, the normalised CLS tokens and the logits.

The recording and the fixture format are
:mod:`mmcrossformer.testing.official_fixture`'s. The official files import
names of older libraries: mmcv 1.x / mmdet 2.x
(``mmcv.runner``, ...; provided by
``mmcrossformer.utils.official.legacy_openmmlab_names``) and timm's
``Block(..., drop=...)`` (now ``proj_drop``); the shims exist only while a
file is imported.

**Keeping the fixtures small.** The weights are random, drawn on a grid:
every tensor is ``base + code * 2**exponent`` with int8 codes (about four
grid steps per standard deviation), ``base`` 1 for norm weights and 0
otherwise, so that they are stored as int8 codes and rebuilt as exactly the
fp32 values the official model ran with. Linear and convolution weights
have a standard deviation of ``fan_in ** -0.5`` (unit-scale activations,
attention logits of order one, so that a wrong grouping or mask shows),
norm weights and biases 0.1 around 1 / 0. The input is rebuilt from its
seed (:func:`~mmcrossformer.testing.official_fixture.make_input`, exact
grid values, checked with a CRC). The file
is an xz-compressed ``torch.save`` stream; read it with
:func:`mmcrossformer.testing.official_fixture.load_fixture`.

Usage::

    git clone https://github.com/cheerss/CrossFormer /tmp/CrossFormer
    git clone https://github.com/IBM/CrossViT /tmp/CrossViT
    python tools/model_converters/record_official_fixture.py \\
        --official-root /tmp/CrossFormer --crossvit-root /tmp/CrossViT \\
        --out tests/data/ [--only crossvit ...]

Without ``--crossvit-root`` the CrossViT fixture is skipped. With
``--keys`` the script records instead the state-dict keys and shapes of
every official CrossFormer classifier and of two detection backbones
(``tests/data/crossformer_official_keys.json.gz``, see
:func:`~mmcrossformer.testing.official_fixture.record_keys`), from which
the tests build files in the official layouts.
"""
import argparse
import os.path as osp
import sys
from typing import Optional

from mmcrossformer.testing.official_fixture import (
    CROSSFORMER_REPO,
    CROSSVIT_REPO,
    SPECS,
    record,
    record_keys,
)


def parse_args(argv=None):
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='Run small official CrossFormer / CrossViT models and '
        'record their weights, input and outputs as test fixtures.')
    parser.add_argument(
        '--official-root',
        required=True,
        help=f'root of a clone of {CROSSFORMER_REPO}')
    parser.add_argument(
        '--crossvit-root',
        help=f'root of a clone of {CROSSVIT_REPO} (CrossViT fixture '
        'skipped without it)')
    parser.add_argument('--out', default='tests/data', help='output folder')
    parser.add_argument(
        '--only', nargs='+', choices=sorted(SPECS), help='fixtures to record')
    parser.add_argument(
        '--keys',
        action='store_true',
        help='record only the key lists of the official CrossFormer '
        'classifiers and detection backbones (record_keys)')
    args = parser.parse_args(argv)
    for flag, root in (('--official-root', args.official_root),
                       ('--crossvit-root', args.crossvit_root)):
        if root is not None and not osp.isdir(root):
            parser.error(f'{flag}: {root} is not a folder (the root of a '
                         f'clone)')
    return args


def main(argv=None) -> Optional[int]:
    """Record the selected fixtures and print their sizes and outputs."""
    args = parse_args(argv)
    if args.keys:
        print(record_keys(args.official_root, args.out))
        return 0
    roots = dict(
        official_root=args.official_root, crossvit_root=args.crossvit_root)
    for name in args.only or list(SPECS):
        root = roots[SPECS[name]['root']]
        if root is None:
            print(f'{name}: skipped (no --crossvit-root)')
            continue
        path, size, summary = record(name, root, args.out)
        print(f'{name}: {path} ({size / 1024:.1f} KiB)')
        for out_name, (shape, peak) in summary.items():
            print(f'  {out_name:<18} {str(shape):<22} max |x| {peak:.3g}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
