"""End to end with the real CrossViT dense configs: tools/train.py trains a
few iterations on the embedded sets and evaluates with mmdet's CocoMetric /
mmseg's IoUMetric. Only data roots and image sizes are overridden."""
import glob
import os.path as osp
import re

from conftest import CONFIGS, run_tool


def test_retinanet_crossvit_trains_and_evaluates(demo_coco, tmp_path):
    root = demo_coco
    work_dir = str(tmp_path / 'det')
    out = run_tool(
        'train.py',
        osp.join(CONFIGS, 'retinanet_crossvit_15_dagger_coco.py'),
        '--work-dir', work_dir, '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/instances_val2017.json',
        f'test_evaluator.ann_file={root}annotations/instances_val2017.json',
        'train_dataloader.dataset.pipeline.2.scale=(192,160)',
        'val_dataloader.dataset.pipeline.1.scale=(192,160)',
        'train_dataloader.num_workers=1', 'val_dataloader.num_workers=1',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        # four iterations from scratch score below the default 0.05
        'model.test_cfg.score_thr=0.0',
        'default_hooks.logger.interval=1')
    assert 'CrossViT: no pretrained checkpoint given' in out
    losses = [float(x) for x in re.findall(r' loss: ([0-9.]+)', out)]
    assert len(losses) >= 3, out[-3000:]
    assert all(x == x and x < 1e3 for x in losses)  # finite
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    m = re.search(r'coco/bbox_mAP: (-?[0-9.]+)', out)
    assert m and 0.0 <= float(m.group(1)) <= 1.0, out[-3000:]
    assert glob.glob(osp.join(work_dir, 'epoch_1.pth'))


def test_fpn_crossvit_trains_and_evaluates(demo_ade20k, tmp_path):
    root = demo_ade20k
    work_dir = str(tmp_path / 'seg')
    out = run_tool(
        'train.py', osp.join(CONFIGS, 'fpn_crossvit_15_dagger_ade20k.py'),
        '--work-dir', work_dir, '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_dataloader.dataset.pipeline.2.scale=(128,96)',
        'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
        'model.data_preprocessor.size=(64,64)',
        'val_dataloader.dataset.pipeline.1.scale=(128,96)',
        'train_dataloader.num_workers=1', 'val_dataloader.num_workers=1',
        'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=4',
        'default_hooks.logger.interval=1')
    losses = [float(x) for x in re.findall(r' loss: ([0-9.]+)', out)]
    assert len(losses) >= 3, out[-3000:]
    m = re.search(r'mIoU: (-?[0-9.]+)', out)
    assert m and 0.0 <= float(m.group(1)) <= 100.0, out[-3000:]
    assert glob.glob(osp.join(work_dir, 'iter_4.pth'))
