"""Every config in configs/ loads, builds under its own default scope, runs
one forward + loss at a small size, and (for the CrossFormer zoo) has the
parameter count of the official architecture."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmcrossformer.testing import CONFIGS
from mmcrossformer.testing import build_config_model as build

ALL = sorted(
    osp.basename(p) for p in glob.glob(osp.join(CONFIGS, '*.py')))

# Millions of parameters measured with the official backbone code and the
# stock mmdet / mmseg / mmpretrain heads (issue #3).
OFFICIAL_PARAMS = {
    'crossformer_t_in1k.py': 27.78,
    'crossformer_s_in1k.py': 30.66,
    'crossformer_b_in1k.py': 51.97,
    'crossformer_l_in1k.py': 91.97,
    'crossformerpp_s_in1k.py': 23.33,
    'crossformerpp_b_in1k.py': 51.99,
    'crossformerpp_l_in1k.py': 92.00,
    'crossformerpp_h_in1k.py': 95.96,
    'retinanet_crossformer_s_coco.py': 40.83,
    'retinanet_crossformer_b_coco.py': 62.14,
    'retinanet_crossformerpp_s_coco.py': 33.04,
    'retinanet_crossformerpp_b_coco.py': 62.16,
    'mask_rcnn_crossformer_s_coco.py': 50.16,
    'mask_rcnn_crossformer_b_coco.py': 71.47,
    'mask_rcnn_crossformerpp_s_coco.py': 42.96,
    'mask_rcnn_crossformerpp_b_coco.py': 71.49,
    'mask_rcnn_crossformer_s_coco_3x.py': 50.16,
    'mask_rcnn_crossformer_b_coco_3x.py': 71.47,
    'mask_rcnn_crossformerpp_s_coco_3x.py': 42.96,
    # cheerss/CrossFormer detection/README.md: 88.0M (no official config;
    # Swin's 4conv1fc cascade heads, mmdet's stock modules)
    'cascade_mask_rcnn_crossformer_s_coco_3x.py': 88.00,
    'fpn_crossformer_s_ade20k.py': 34.26,
    'fpn_crossformer_b_ade20k.py': 55.57,
    'fpn_crossformer_l_ade20k.py': 95.44,
    'fpn_crossformerpp_s_ade20k.py': 27.06,
    'fpn_crossformerpp_b_ade20k.py': 55.59,
    'upernet_crossformer_s_ade20k.py': 62.31,
    'upernet_crossformer_b_ade20k.py': 83.62,
    'upernet_crossformer_l_ade20k.py': 125.47,
    'upernet_crossformerpp_s_ade20k.py': 53.12,
    'upernet_crossformerpp_b_ade20k.py': 83.64,
}


def _det_batch(model, with_mask):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    h, w = 64, 96
    samples = []
    for _ in range(2):
        s = DetDataSample(
            metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                          pad_shape=(h, w), scale_factor=(1., 1.),
                          batch_input_shape=(h, w)))
        gt = InstanceData(
            bboxes=torch.tensor([[8., 10., 50., 40.]]),
            labels=torch.tensor([3]))
        if with_mask:
            mask = torch.zeros(1, h, w, dtype=torch.uint8)
            mask[:, 10:40, 8:50] = 1
            gt.masks = BitmapMasks(mask.numpy(), h, w)
        s.gt_instances = gt
        samples.append(s)
    return model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8)] *
             2, data_samples=samples), training=True)


def _seg_batch(model):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h, w = 64, 64
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                        pad_shape=(h, w)))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, 150, (1, h, w), dtype=torch.long))
        samples.append(s)
    model.data_preprocessor.size = (h, w)
    return model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8)] *
             2, data_samples=samples), training=True)


def _cls_batch(model):
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(i) for i in (3, 805)]
    return model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] *
             2, data_samples=samples), training=True)


def _few_proposals(model, num=16):
    """A cascade runs three box heads on every proposal and, in mmdet 3.x's
    tensor forward, three mask heads too (minutes on a CPU with the 1000 /
    2000 proposals of the COCO settings): keep ``num`` per image."""
    model.rpn_head.test_cfg.update(nms_pre=num, max_per_img=num)
    model.train_cfg.rpn_proposal.update(nms_pre=num, max_per_img=num)


@pytest.mark.parametrize('name', ALL)
def test_config_builds_and_computes_loss(name):
    from mmcrossformer.utils.config_check import check_in_channels
    cfg, model = build(name)
    check_in_channels(cfg.model)
    assert cfg.custom_imports.imports == ['mmcrossformer']
    assert 'data_root' in cfg
    params = sum(p.numel() for p in model.parameters()) / 1e6
    if name in OFFICIAL_PARAMS:
        assert abs(params - OFFICIAL_PARAMS[name]) <= 0.02, params
    # the official recipe table: group sizes / intervals, weight decay
    from test_official_recipes import check_built_model
    check_built_model(name, cfg, model)
    # (init_weights is exercised by the backbone and end-to-end tests; the
    # PyTorch default init is enough for a finite loss)
    if cfg.default_scope == 'mmdet':
        data = _det_batch(model, with_mask='mask_rcnn' in name)
        if 'cascade' in name:
            _few_proposals(model)
    elif cfg.default_scope == 'mmseg':
        data = _seg_batch(model)
    else:
        data = _cls_batch(model)
    # an inference pass first (as an inferencer in the same process would):
    # nothing it caches may break the training step below
    model.eval()
    with torch.inference_mode():
        model(data['inputs'], data['data_samples'], mode='tensor')
    model.train()
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total) and total > 0, losses
    total.backward()
    # every trainable parameter gets a gradient: multi-GPU DDP with
    # find_unused_parameters=False stops otherwise
    unused = [n for n, p in model.named_parameters()
              if p.requires_grad and p.grad is None]
    assert not unused, f'{len(unused)} parameters get no gradient: {unused}'
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_zoo_is_complete():
    for fam, variants in {
            '{}_in1k.py': ['crossformer_t', 'crossformer_s', 'crossformer_b',
                           'crossformer_l', 'crossformerpp_s',
                           'crossformerpp_b', 'crossformerpp_l',
                           'crossformerpp_h'],
            'retinanet_{}_coco.py': ['crossformer_s', 'crossformer_b',
                                     'crossformerpp_s', 'crossformerpp_b'],
            'mask_rcnn_{}_coco.py': ['crossformer_s', 'crossformer_b',
                                     'crossformerpp_s', 'crossformerpp_b'],
            'mask_rcnn_{}_coco_3x.py': ['crossformer_s', 'crossformer_b',
                                        'crossformerpp_s'],
            'cascade_mask_rcnn_{}_coco_3x.py': ['crossformer_s'],
            '{}_384_in1k.py': ['crossvit_15_dagger', 'crossvit_18_dagger'],
            'fpn_{}_ade20k.py': ['crossformer_s', 'crossformer_b',
                                 'crossformer_l', 'crossformerpp_s',
                                 'crossformerpp_b'],
            'upernet_{}_ade20k.py': ['crossformer_s', 'crossformer_b',
                                     'crossformer_l', 'crossformerpp_s',
                                     'crossformerpp_b'],
    }.items():
        for v in variants:
            assert fam.format(v) in ALL


def test_recipes():
    mask3x = Config.fromfile(osp.join(CONFIGS,
                                      'mask_rcnn_crossformer_s_coco_3x.py'))
    assert mask3x.train_cfg.max_epochs == 36
    assert mask3x.param_scheduler[1].milestones == [27, 33]
    assert any(t.type == 'RandomChoice'
               for t in mask3x.train_dataloader.dataset.pipeline)
    assert mask3x.optim_wrapper.optimizer.weight_decay == 0.05
    mask1x = Config.fromfile(
        osp.join(CONFIGS, 'mask_rcnn_crossformer_s_coco.py'))
    assert mask1x.optim_wrapper.optimizer.weight_decay == 1e-4
    assert 'paramwise_cfg' not in mask1x.optim_wrapper
    uper = Config.fromfile(
        osp.join(CONFIGS, 'upernet_crossformer_s_ade20k.py'))
    assert uper.train_cfg.max_iters == 160000
    assert uper.model.auxiliary_head.type == 'FCNHead'
    assert uper.model.auxiliary_head.in_channels == 384
    assert uper.optim_wrapper.optimizer.lr == 6e-5
    assert 'tta_pipeline' in uper and uper.tta_model.type == 'SegTTAModel'
    fpn = Config.fromfile(osp.join(CONFIGS, 'fpn_crossformerpp_s_ade20k.py'))
    assert fpn.train_cfg.max_iters == 80000
    assert fpn.param_scheduler[0].power == 0.9
    cls = Config.fromfile(osp.join(CONFIGS, 'crossformer_l_in1k.py'))
    assert cls.model.backbone.drop_path_rate == 0.5
    assert cls.train_cfg.max_epochs == 300
    assert cls.train_dataloader.batch_size * 8 == 1024
    assert cls.param_scheduler[1].eta_min == 1e-5
    assert cls.optim_wrapper.clip_grad.max_norm == 5.0


def test_model_index_lists_every_config():
    import yaml
    repo = osp.dirname(CONFIGS)
    index = yaml.safe_load(open(osp.join(repo, 'model-index.yml')))
    listed = {}
    for meta in index['Import']:
        data = yaml.safe_load(open(osp.join(repo, meta)))
        names = {c['Name'] for c in data['Collections']}
        for model in data['Models']:
            assert model['In Collection'] in names
            assert osp.isfile(osp.join(repo, model['Config'])), model
            # no trained weights are published by this project yet
            assert model['Weights'] is None
            listed[osp.basename(model['Config'])] = model
    demo = {n for n in ALL if n.endswith('_demo.py')}
    assert set(ALL) - demo == set(listed)
    for name, params in OFFICIAL_PARAMS.items():
        if name in listed:
            # metafiles give the count rounded to 0.01M, as mmpretrain's do
            assert listed[name]['Metadata']['Parameters'] == round(
                params * 1e6, -4), name
