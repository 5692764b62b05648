"""Parameters and FLOPs of a classifier, detector or segmentor config.

Usage::

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]
        [--cfg-options KEY=VALUE ...]

The model is built from the config (without pretrained weights) and traced
on one random image with mmengine's ``FlopAnalyzer``, which counts a fused
multiply-add as one FLOP, the convention of the CrossFormer papers.
``--shape`` defaults to 224 x 224 for mmpretrain configs, 1280 x 800 for
mmdet and 512 x 2048 for mmseg configs (the sizes of the papers' tables);
one number gives a square.

What is counted: ``FlopAnalyzer`` has no handle for
``aten::scaled_dot_product_attention``, which the CrossFormer and CrossViT
attention layers call, so this tool adds one counting its two matrix
products (``q k^T`` and ``attn v``: ``B * heads * N_q * N_k * (d_qk +
d_v)``), as the official ``flops()`` methods do; softmax, bias addition and
other element-wise operations are not counted. Detectors run as
``model._forward`` (backbone, neck and heads, for a two-stage detector the
RoI heads on the proposals of the untrained RPN), segmentors as the decode
heads without the final resize.
"""
import argparse
from collections import Counter
from typing import Any, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

DEFAULT_SHAPES = dict(
    mmpretrain=(224, 224), mmdet=(1280, 800), mmseg=(512, 2048))


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> Counter:
    """FLOP handle of ``aten::scaled_dot_product_attention``.

    Counts ``q @ k^T`` (``B * N_q * N_k * d``) and ``attn @ v``
    (``B * N_q * N_k * d_v``), ``B`` being all leading dimensions.
    """
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = 1
    for size in q[:-2]:
        batch *= size
    n_q, d = q[-2], q[-1]
    n_k, d_v = k[-2], v[-1]
    return Counter({'scaled_dot_product_attention':
                    batch * n_q * n_k * (d + d_v)})


def flop_analyzer(module: nn.Module, inputs: torch.Tensor):
    """mmengine's ``FlopAnalyzer`` of ``module(inputs)`` with the SDPA handle
    of this tool and its warnings off (call it under ``torch.no_grad()``)."""
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, (inputs, ))
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    return analyzer


class _TensorForward(nn.Module):
    """Calls ``model(inputs, data_samples, mode='tensor')`` for tracing."""

    def __init__(self, model: nn.Module, data_samples: Optional[list]):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, self.data_samples, mode='tensor')


def _scope(cfg) -> str:
    scope = cfg.get('default_scope')
    if scope not in DEFAULT_SHAPES:
        raise ValueError(f'Cannot tell the task of a config with '
                         f'default_scope={scope!r}; expected one of '
                         f'{sorted(DEFAULT_SHAPES)}')
    return scope


def build_model(cfg) -> Tuple[nn.Module, str]:
    """The config's model in eval mode, without pretrained weights, and its
    scope (``'mmpretrain'``, ``'mmdet'`` or ``'mmseg'``)."""
    from mmcrossformer.apis import init_model
    scope = _scope(cfg)
    return init_model(cfg), scope


def _data_samples(scope: str, shape: Tuple[int, int]) -> Optional[list]:
    if scope != 'mmdet':
        return None
    from mmdet.structures import DetDataSample
    meta = dict(
        img_shape=shape,
        ori_shape=shape,
        pad_shape=shape,
        batch_input_shape=shape,
        scale_factor=(1., 1.))
    return [DetDataSample(metainfo=meta)]


def get_flops(config, shape: Optional[Sequence[int]] = None,
              cfg_options: Optional[dict] = None) -> dict:
    """Count parameters and FLOPs of a config's model.

    Args:
        config (str | Config): Config file or object.
        shape (Sequence[int], optional): Input (H, W) or (S, ); defaults to
            the task's size (see the module docstring).
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        dict: ``params`` (int), ``flops`` (int, all counted ops),
        ``sdpa_flops`` (the part counted by :func:`sdpa_flop_jit`),
        ``by_module`` (FLOPs of the model's direct children), ``shape`` and
        ``unsupported`` (names of operators that were not counted).
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model, scope = build_model(cfg)
    if shape is None:
        shape = DEFAULT_SHAPES[scope]
    shape = tuple(shape) * 2 if len(shape) == 1 else tuple(shape)
    if len(shape) != 2:
        raise ValueError(f'shape must be (H, W) or (S, ), got {shape}')
    params = sum(p.numel() for p in model.parameters())
    wrapper = _TensorForward(model, _data_samples(scope, shape))
    inputs = torch.randn(1, 3, *shape)
    with torch.no_grad():
        analyzer = flop_analyzer(wrapper, inputs)
        total = analyzer.total()
        by_op = analyzer.by_operator()
        by_module = analyzer.by_module()
        unsupported = sorted(analyzer.unsupported_ops())
    children = {
        name: by_module.get(f'model.{name}', 0)
        for name, _ in model.named_children()
    }
    return dict(
        params=params,
        flops=total,
        sdpa_flops=by_op.get('scaled_dot_product_attention', 0),
        by_module=children,
        shape=shape,
        unsupported=unsupported)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Count the parameters and FLOPs of a model config.')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input H W (or one size for a square); defaults to 224 224 '
        '(mmpretrain), 1280 800 (mmdet), 512 2048 (mmseg)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, KEY=VALUE')
    return parser.parse_args(argv)


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
