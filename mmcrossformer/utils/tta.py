"""Test-time augmentation settings that ``tools/test.py --tta`` applies to
a config (in place).

* :func:`add_flip` (``--flip``): unflipped and flipped copies of every
  scale of the ``TestTimeAug`` step;
* :func:`det_tta_boxes_only`: mmdet's ``DetTTAModel`` merges boxes only, so
  a Mask R-CNN config is tested without its mask head and ``'segm'``
  metric.
"""
import logging

from mmengine.logging import print_log


def add_flip(tta_pipeline: list) -> None:
    """Add unflipped + horizontally flipped copies after the resize group of
    the pipeline's ``TestTimeAug`` step (in place).

    Raises:
        ValueError: If the pipeline has no ``TestTimeAug`` step, or it flips
            already.
    """
    steps = [t for t in tta_pipeline if t.get('type') == 'TestTimeAug']
    if not steps:
        raise ValueError('--flip needs a TestTimeAug step in tta_pipeline')
    groups = steps[0]['transforms']
    if any(t.get('type') == 'RandomFlip' for g in groups for t in g):
        raise ValueError('tta_pipeline flips already; drop --flip')
    groups.insert(1, [
        dict(type='RandomFlip', prob=0., direction='horizontal'),
        dict(type='RandomFlip', prob=1., direction='horizontal')
    ])


def det_tta_boxes_only(cfg) -> None:
    """Test the box branch only under mmdet's ``DetTTAModel`` (in place).

    mmdet 3.3's ``DetTTAModel`` merges the boxes, scores and labels of the
    views (boxes flipped back, class-wise NMS) and refuses predictions that
    carry masks (``AssertionError: TTA of instance segmentation does not
    support now``). For a model whose ``roi_head`` has a mask head (Mask
    R-CNN), the mask head and its RoI extractor are left out of the tested
    model (their weights in the checkpoint go unused, as
    ``LoadCheckpointHook(unused_keys=...)`` is told) and ``'segm'`` is
    removed from the metrics of every
    ``CocoMetric`` in ``test_evaluator``; a warning says so.

    Raises:
        ValueError: If a ``CocoMetric`` asks for ``'segm'`` only.
    """
    if str(cfg.tta_model.get('type', '')).split('.')[-1] != 'DetTTAModel':
        return
    dropped = []
    roi_head = cfg.model.get('roi_head') or {}
    if roi_head.get('mask_head') is not None:
        roi_head.mask_head = None
        roi_head.mask_roi_extractor = None
        dropped.append('the mask head')
        # the checkpoint's mask head weights are known to go unused
        cfg.custom_hooks = [
            h for h in cfg.get('custom_hooks') or []
            if not str(h.get('type', '')).endswith('LoadCheckpointHook')
        ] + [
            dict(
                type='mmcrossformer.LoadCheckpointHook',
                unused_keys=['roi_head.mask_head.'])
        ]
    evaluators = cfg.test_evaluator if isinstance(
        cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
    for evaluator in evaluators:
        if not str(evaluator.get('type', '')).endswith('CocoMetric'):
            continue
        metrics = evaluator.get('metric', 'bbox')
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        if 'segm' not in metrics:
            continue
        kept = [m for m in metrics if m != 'segm']
        if not kept:
            raise ValueError(
                f'--tta: CocoMetric metric={metrics!r} evaluates masks only, '
                f'but mmdet\'s DetTTAModel merges boxes only')
        evaluator.metric = kept
        dropped.append(f'\'segm\' (CocoMetric metric={kept!r})')
    if dropped:
        print_log(
            f'--tta: mmdet\'s DetTTAModel merges boxes only (no masks); left '
            f'out: {" and ".join(dropped)}',
            logger='current',
            level=logging.WARNING)


__all__ = ['add_flip', 'det_tta_boxes_only']
