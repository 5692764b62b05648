"""Parameters and FLOPs of a config's model, counted as the papers count.

mmengine's ``FlopAnalyzer`` traces the model on one random image and counts
a fused multiply-add as one FLOP, the convention of the CrossFormer
(ICLR 2022, Table 1) and CrossViT (ICCV 2021, Table 1) papers. It has no
handle for ``aten::scaled_dot_product_attention``, which our attention
layers call; :func:`sdpa_flop_jit` counts its two matrix products as the
official ``flops()`` methods do (cheerss/CrossFormer
``models/crossformer.py``). Softmax, bias additions and other element-wise
operations are not counted.

What runs: a classifier, segmentor or detector in ``mode='tensor'``
(detectors: backbone, neck and heads, for a two-stage detector the RoI heads
on the proposals of the untrained RPN; segmentors: the decode heads without
the final resize); or any function of the model (the backbone alone).

RoI heads are counted as mmdet counted them when the papers' numbers were
made (mmdet 2.x ``forward_dummy``): box heads on every proposal (1000 for
the COCO test settings), mask heads on the first 100 RoIs, in every stage
of a cascade. mmdet 3.x's ``StandardRoIHead`` tensor forward does the same;
its ``CascadeRoIHead`` runs each stage's mask head on every proposal, 10x
the mask FLOPs of a test pass (1590 G of 2185 G for Cascade Mask R-CNN
CrossFormer-S at 1280 x 800), so :func:`tensor_forward` runs a cascade
with a mask head through :func:`cascade_tensor_forward` instead.
"""
from collections import Counter
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

#: input (H, W) per family: the sizes of the papers' tables (ImageNet 224,
#: COCO 1280 x 800, ADE20K 512 x 2048)
DEFAULT_SHAPES = dict(
    mmpretrain=(224, 224), mmdet=(1280, 800), mmseg=(512, 2048))


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> Counter:
    """FLOP handle of ``aten::scaled_dot_product_attention`` for mmengine.

    Counts ``q @ k^T`` (``B * N_q * N_k * d``) and ``attn @ v``
    (``B * N_q * N_k * d_v``), ``B`` being the product of all leading
    dimensions of ``q`` (batch, heads, groups).

    Args:
        inputs (list): The traced operator's inputs; the first three are
            ``q`` (..., N_q, d), ``k`` (..., N_k, d) and ``v`` (..., N_k,
            d_v).
        outputs (list): Its outputs (unused).

    Returns:
        Counter: ``{'scaled_dot_product_attention': multiply-adds}``.
    """
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = 1
    for size in q[:-2]:
        batch *= size
    n_q, d = q[-2], q[-1]
    n_k, d_v = k[-2], v[-1]
    return Counter(
        {'scaled_dot_product_attention': batch * n_q * n_k * (d + d_v)})


def flop_analyzer(module: nn.Module, inputs: torch.Tensor):
    """mmengine's ``FlopAnalyzer`` of ``module(inputs)`` with
    :func:`sdpa_flop_jit` installed and its warnings off.

    Call it, and read its totals, under ``torch.no_grad()``.

    Args:
        module (nn.Module): Traced as ``module(inputs)``.
        inputs (Tensor): Its one input, e.g. images (B, 3, H, W).

    Returns:
        mmengine.analysis.FlopAnalyzer: The analyzer (lazy: it traces on
        the first query such as ``total()``).
    """
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, (inputs, ))
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    return analyzer


def dummy_data_samples(scope: str, shape: Tuple[int, int],
                       batch: int = 1) -> Optional[list]:
    """Data samples for a model's ``mode='tensor'`` forward on images of
    ``shape`` (H, W) without padding.

    Args:
        scope (str): The config's ``default_scope``.
        shape (tuple[int, int]): Image (H, W) in pixels.
        batch (int): Number of samples. Defaults to 1.

    Returns:
        list | None: ``batch`` mmdet ``DetDataSample`` with the image, pad
        and batch shapes and a unit scale factor for ``'mmdet'`` (its heads
        read them); None for other scopes (they need none).
    """
    if scope != 'mmdet':
        return None
    from mmdet.structures import DetDataSample
    meta = dict(
        img_shape=tuple(shape),
        ori_shape=tuple(shape),
        pad_shape=tuple(shape),
        batch_input_shape=tuple(shape),
        scale_factor=(1., 1.))
    return [DetDataSample(metainfo=meta) for _ in range(batch)]


class _Call(nn.Module):
    """``fn(x)`` with ``model`` registered, so that the tracer sees the
    model's parameters as parameters."""

    def __init__(self, model: nn.Module, fn: Callable):
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


#: RoIs per image that mask heads see in a FLOP count (mmdet's convention)
MASK_ROIS = 100


def is_cascade_with_mask(model: nn.Module) -> bool:
    """Whether ``model`` is a detector with mmdet's ``CascadeRoIHead``
    (exactly that class) and a mask head."""
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None or type(roi_head).__name__ != 'CascadeRoIHead':
        return False
    from mmdet.models.roi_heads import CascadeRoIHead
    return type(roi_head) is CascadeRoIHead and roi_head.with_mask


def cascade_tensor_forward(model: nn.Module, images: torch.Tensor,
                           data_samples: list) -> tuple:
    """A cascade detector's tensor forward counted as mmdet 2.x's
    ``CascadeRoIHead.forward_dummy``: the box heads of every stage on all
    proposals (refined from stage to stage as mmdet 3.x does; the count is
    the same), the mask heads of every stage on the first
    :data:`MASK_ROIS` RoIs.

    Args:
        model (nn.Module): An mmdet two-stage detector whose ``roi_head``
            is a ``CascadeRoIHead`` with a mask head.
        images (Tensor): (B, 3, H, W).
        data_samples (list): Their ``DetDataSample``.

    Returns:
        tuple: The RPN outputs' class scores and box deltas of the last
        stage and the mask logits of every stage.
    """
    from mmdet.structures.bbox import bbox2roi
    feats = model.extract_feat(images)
    proposals = model.rpn_head.predict(feats, data_samples, rescale=False)
    roi_head = model.roi_head
    rois = bbox2roi([p.bboxes for p in proposals])
    rois, cls_scores, bbox_preds = roi_head._refine_roi(
        feats, rois, [s.metainfo for s in data_samples],
        tuple(len(p.bboxes) for p in proposals))
    mask_rois = torch.cat(rois)[:MASK_ROIS]
    masks = tuple(
        roi_head._mask_forward(stage, feats, mask_rois)['mask_preds']
        for stage in range(roi_head.num_stages))
    return (cls_scores, bbox_preds) + masks


def tensor_forward(model: nn.Module, scope: str) -> Callable:
    """``images -> model(images, data_samples, mode='tensor')``, the data
    samples made by :func:`dummy_data_samples` for the images' batch and
    size (made once per batch and size); :func:`cascade_tensor_forward`
    for a cascade detector with a mask head."""
    cache = {}
    cascade = scope == 'mmdet' and is_cascade_with_mask(model)

    def forward(images: torch.Tensor):
        key = (images.shape[0], *images.shape[-2:])
        if key not in cache:
            cache[key] = dummy_data_samples(scope, key[1:], key[0])
        if cascade:
            return cascade_tensor_forward(model, images, cache[key])
        return model(images, cache[key], mode='tensor')

    return forward


def check_shape(shape: Sequence[int]) -> Tuple[int, int]:
    """``(H, W)`` from ``(H, W)`` or ``(S, )``.

    Raises:
        ValueError: For another length or a size below 1.
    """
    shape = tuple(int(s) for s in shape)
    shape = shape * 2 if len(shape) == 1 else shape
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'shape must be (H, W) or (S, ), got {shape}')
    return shape


def count_flops(model: nn.Module, fn: Callable,
                images: torch.Tensor) -> Tuple[int, Counter, Counter,
                                                List[str]]:
    """FLOPs (multiply-adds) of ``fn(images)``, a function of ``model``.

    Args:
        model (nn.Module): The module whose parameters ``fn`` uses.
        fn (Callable): ``images -> outputs``, e.g. ``model.backbone`` or
            :func:`tensor_forward`.
        images (Tensor): (B, 3, H, W).

    Returns:
        tuple: The total, the counts by operator and by module (names
        relative to ``model``; ``''`` is the total) and the names of the
        operators that have no FLOP handle (not counted).
    """
    with torch.no_grad():
        analyzer = flop_analyzer(_Call(model, fn), images)
        by_module = Counter({
            name[len('model.'):] if name.startswith('model.') else
            ('' if name in ('', 'model') else name): count
            for name, count in analyzer.by_module().items()
        })
        return (int(analyzer.total()), Counter(analyzer.by_operator()),
                by_module, sorted(analyzer.unsupported_ops()))


def get_flops(config,
              shape: Optional[Sequence[int]] = None,
              cfg_options: Optional[dict] = None) -> dict:
    """Count the parameters and FLOPs of a config's model.

    Args:
        config (str | Path | Config): Config file or object, of an
            mmpretrain, mmdet or mmseg model (its ``default_scope``).
        shape (Sequence[int], optional): Input (H, W) or (S, ) in pixels;
            defaults to the family's size in :data:`DEFAULT_SHAPES`.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        dict: ``params`` (int), ``flops`` (int, all counted operators, one
        image), ``sdpa_flops`` (the part counted by :func:`sdpa_flop_jit`),
        ``by_module`` (FLOPs of the model's direct children), ``shape``
        (H, W) and ``unsupported`` (names of operators not counted).

    Raises:
        ValueError: For a config of another scope or a bad ``shape``.
    """
    from .inference import build_model
    model = build_model(config, cfg_options)
    scope = model.cfg.get('default_scope')
    if scope not in DEFAULT_SHAPES:
        raise ValueError(f'Cannot tell the task of a config with '
                         f'default_scope={scope!r}; expected one of '
                         f'{sorted(DEFAULT_SHAPES)}')
    shape = check_shape(DEFAULT_SHAPES[scope] if shape is None else shape)
    total, by_op, by_module, unsupported = count_flops(
        model, tensor_forward(model, scope), torch.randn(1, 3, *shape))
    return dict(
        params=sum(p.numel() for p in model.parameters()),
        flops=total,
        sdpa_flops=by_op.get('scaled_dot_product_attention', 0),
        by_module={
            name: by_module.get(name, 0)
            for name, _ in model.named_children()
        },
        shape=shape,
        unsupported=unsupported)
