"""tools/test.py --tta on the detection demo configs (mmdet's DetTTAModel).

The RetinaNet test re-derives the TTA result on its own: every view of the
config's tta_pipeline (3 scales x {no flip, flip}) is run through the model
one image at a time, flipped boxes are mapped back, and the views are merged
by class-wise NMS (IoU 0.5, 100 per image). tools/test.py --tta must dump
exactly that, through the real CocoMetric; without --tta (or with a wrong
set of views) the dump is the single-view prediction, which differs.
"""
import os.path as osp
import pickle
import re

import pytest
import torch
from mmengine.config import Config

from mmcrossformer.testing import CONFIGS, run_tool

RETINANET = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')
MASK_RCNN = osp.join(CONFIGS, 'mask_rcnn_crossformerpp_s_coco_demo.py')


def _data_options(root):
    return [
        f'test_dataloader.dataset.data_root={root}',
        f'test_evaluator.ann_file={root}annotations/instances_val2017.json',
        # one image per forward pass, as the independent merge below
        'test_dataloader.batch_size=1',
        # 2 of the 4 val images (CocoMetric still scores against all 4)
        'test_dataloader.dataset.indices=2',
    ]


def _checkpoint(cfg, path):
    """Save the config's freshly initialised model (seed 0) as a checkpoint;
    return the model."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model


def _view(model, img_path, img_id, transforms):
    """Predictions of one view (boxes in the original image, flipped if the
    view flips), from the config's own transforms."""
    from mmcv.transforms import Compose
    pipeline = Compose([dict(type='LoadImageFromFile')] + transforms)
    data = pipeline(dict(img_path=img_path, img_id=img_id))
    with torch.no_grad():
        out = model.test_step(
            dict(inputs=[data['inputs']], data_samples=[data['data_samples']]))
    return out[0].pred_instances, out[0].metainfo


def _merge(views, max_per_img=100, iou=0.5):
    """Class-wise NMS over all views; flipped boxes mapped back first."""
    from mmcv.ops import batched_nms
    boxes, scores, labels = [], [], []
    for pred, meta in views:
        b = pred.bboxes.clone()
        if meta['flip']:
            assert meta['flip_direction'] == 'horizontal'
            width = meta['ori_shape'][1]
            b[:, 0] = width - pred.bboxes[:, 2]
            b[:, 2] = width - pred.bboxes[:, 0]
        boxes.append(b)
        scores.append(pred.scores)
        labels.append(pred.labels)
    boxes, scores, labels = map(torch.cat, (boxes, scores, labels))
    dets, keep = batched_nms(boxes, scores, labels,
                             dict(type='nms', iou_threshold=iou))
    dets = dets[:max_per_img]
    return dets[:, :4], dets[:, 4], labels[keep][:max_per_img]


def test_retinanet_tta_is_the_merge_of_all_views(demo_coco, tmp_path):
    cfg = Config.fromfile(RETINANET)
    cfg.model.test_cfg.score_thr = 0.0  # keep all boxes of the untrained net
    ckpt = str(tmp_path / 'init.pth')
    model = _checkpoint(cfg, ckpt)
    dump = str(tmp_path / 'tta.pkl')
    out = run_tool('test.py', RETINANET, ckpt, '--tta', '--out', dump,
                   '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                   'model.test_cfg.score_thr=0.0', *_data_options(demo_coco))
    m = re.search(r'coco/bbox_mAP: (-?[0-9.]+)', out)
    assert m and 0.0 <= float(m.group(1)) <= 1.0, out[-3000:]
    with open(dump, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 2

    # the views, from the config: 3 scales x {no flip, flip}
    tta = cfg.tta_pipeline[1]['transforms']
    scales, flips, pack = tta
    assert len(scales) == 3 and len(flips) == 2
    for result in dumped:
        img_path, img_id = result['img_path'], result['img_id']
        views = [
            _view(model, img_path, img_id, [scale, flip] + pack)
            for scale in scales for flip in flips
        ]
        boxes, scores, labels = _merge(views)
        pred = result['pred_instances']
        assert len(pred['bboxes']) == len(boxes) == 100
        torch.testing.assert_close(pred['bboxes'], boxes)
        torch.testing.assert_close(pred['scores'], scores)
        assert torch.equal(pred['labels'], labels)
        # and it is not the single-view prediction (the test pipeline's
        # scale, no flip = the first view)
        single = views[0][0]
        assert single.bboxes.shape != boxes.shape or not torch.allclose(
            single.bboxes, boxes)


@pytest.mark.slow
def test_mask_rcnn_tta_evaluates_boxes_only(demo_coco, tmp_path):
    cfg = Config.fromfile(MASK_RCNN)
    ckpt = str(tmp_path / 'init.pth')
    _checkpoint(cfg, ckpt)
    dump = str(tmp_path / 'tta.pkl')
    out = run_tool('test.py', MASK_RCNN, ckpt, '--tta', '--out', dump,
                   '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                   'model.test_cfg.rcnn.score_thr=0.0',
                   *_data_options(demo_coco))
    assert ("merges boxes only (no masks); left out: the mask head and "
            "'segm'") in out, out[-3000:]
    # the checkpoint's mask head is known to go unused (LoadCheckpointHook)
    assert re.search(r"init\.pth: \d+ entries of \('roi_head\.mask_head\.',\)"
                     r' are not used by this model', out), out[-3000:]
    assert re.search(r'coco/bbox_mAP: [0-9.]+', out), out[-3000:]
    assert 'coco/segm_mAP' not in out
    with open(dump, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 2
    for result in dumped:
        assert 'masks' not in result['pred_instances']
        assert 0 < len(result['pred_instances']['bboxes']) <= 100


@pytest.fixture
def test_tool():
    """What tools/test.py --tta applies to a config
    (mmcrossformer.utils.tta)."""
    from mmcrossformer.utils import tta
    return tta


def test_flip_is_refused_on_detection_configs(test_tool):
    cfg = Config.fromfile(RETINANET)
    with pytest.raises(ValueError, match='flips already'):
        test_tool.add_flip(cfg.tta_pipeline)


def test_masks_only_metric_is_refused(test_tool):
    cfg = Config.fromfile(MASK_RCNN)
    cfg.test_evaluator.metric = 'segm'
    with pytest.raises(ValueError, match="metric=\\['segm'\\]"):
        test_tool.det_tta_boxes_only(cfg)
    cfg.test_evaluator.metric = ['bbox', 'segm']
    test_tool.det_tta_boxes_only(cfg)
    assert cfg.test_evaluator.metric == ['bbox']
    assert cfg.model.roi_head.mask_head is None
