import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmcrossformer.testing import CONFIGS

CONFIG = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py')


def test_official_recipe():
    cfg = Config.fromfile(CONFIG)
    assert cfg.default_scope == 'mmdet'
    bb = cfg.model.backbone
    assert bb.type == 'mmcrossformer.CrossFormer' and bb.arch == 'pp-s'
    assert cfg.model.neck.in_channels == [64, 128, 256, 512]
    assert cfg.model.neck.start_level == 1
    assert cfg.optim_wrapper.optimizer == dict(
        type='AdamW', lr=1e-4, weight_decay=1e-4)
    assert cfg.train_cfg.max_epochs == 12
    warmup, steps = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 500
    assert not warmup.by_epoch
    assert steps.type == 'MultiStepLR' and steps.milestones == [8, 11]
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.data_root == 'data/coco/'
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    assert cfg.val_evaluator.type == 'CocoMetric'


def test_builds_under_mmdet_scope_and_computes_loss():
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData
    cfg = Config.fromfile(CONFIG)
    init_default_scope(cfg.default_scope)
    import mmcrossformer  # noqa: F401 (custom_imports does this in Runner)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model.backbone).__name__ == 'CrossFormer'
    h, w = 96, 128
    sample = DetDataSample(
        metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                      scale_factor=(1., 1.), batch_input_shape=(h, w)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 12., 60., 70.]]),
        labels=torch.tensor([12]))
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8)],
             data_samples=[sample]), training=True)
    losses = model(**data, mode='loss')
    total, log_vars = model.parse_losses(losses)
    assert {'loss_cls', 'loss_bbox'} <= set(log_vars)
    assert torch.isfinite(total) and total > 0
    total.backward()
    assert model.backbone.patch_embed.projs[0].weight.grad is not None
    model.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(
            dict(inputs=[torch.randint(0, 255, (3, h, w),
                                       dtype=torch.uint8)],
                 data_samples=[sample])), mode='predict')
    assert preds[0].pred_instances.bboxes.shape[-1] == 4


def test_real_config_reads_coco_layout(demo_coco):
    """Only data_root changes between real COCO and the embedded set."""
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmdet')
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        ds_cfg = loader.dataset
        ds_cfg.data_root = demo_coco
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) > 0
        item = dataset[0]
        assert item['inputs'].shape[0] == 3
    assert 'stop sign' in dataset.metainfo['classes']


@pytest.mark.parametrize('name', ['retinanet_crossformerpp_s_coco_demo.py'])
def test_demo_config_inherits_real_one(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    real = Config.fromfile(CONFIG)
    # the real model; only drop path is off (it slows fitting from scratch
    # in the demo's short schedule)
    assert cfg.model.backbone.pop('drop_path_rate') == 0.
    assert real.model.backbone.pop('drop_path_rate') > 0
    assert cfg.model == real.model
    assert dict(type='mmcrossformer.ProgressBarHook') in cfg.custom_hooks
    assert dict(type='mmcrossformer.RandomStateHook') in cfg.custom_hooks
    assert cfg.train_dataloader.dataset.data_root == 'data/demo_coco/'
    assert cfg.val_evaluator.ann_file.startswith('data/demo_coco/')
