"""End to end with the real CrossViT dense configs: tools/train.py trains
from scratch on a fixed batch of two embedded images (16 iterations at the
config's learning rate) and the loss must fall (mean of the last four
iterations <= 0.8x the mean of the first four; with lr = 0 the ratio is 1),
then evaluates with mmdet's CocoMetric / mmseg's IoUMetric; and two-process
data-parallel training (gloo) of the RetinaNet config. Only data roots,
image sizes, the schedule length and the warm-up are overridden."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from mmcrossformer.testing import (
    CONFIGS,
    REPO,
    TOOLS,
    assert_learns,
    coco_data_options,
    losses_of,
    run_tool,
)

# one fixed batch (the first two images, no flipping)
COMMON = ['randomness.seed=0', 'default_hooks.logger.interval=1',
          'train_dataloader.dataset.indices=2',
          'train_dataloader.num_workers=0',
          'train_dataloader.persistent_workers=False',
          'val_dataloader.num_workers=0',
          'val_dataloader.persistent_workers=False']


def coco_options(root, scale='(96,80)'):
    return [
        *coco_data_options(root),
        f'train_dataloader.dataset.pipeline.2.scale={scale}',
        'train_dataloader.dataset.pipeline.3.prob=0.0',
        f'val_dataloader.dataset.pipeline.1.scale={scale}',
        # no 500-iteration warm-up from 1e-3x
        'param_scheduler.0.start_factor=1.0',
    ]


# from scratch all scores are below the default 0.05
KEEP_ALL = {'retinanet': 'model.test_cfg.score_thr=0.0',
            'mask_rcnn': 'model.test_cfg.rcnn.score_thr=0.0'}
# Mask R-CNN: fewer proposals and sampled RoIs (CI time; 2000 / 512 by
# default), and at most 20 detections per image to evaluate
FAST = {'retinanet': [],
        'mask_rcnn': ['model.train_cfg.rpn_proposal.max_per_img=300',
                      'model.train_cfg.rcnn.sampler.num=128',
                      'model.test_cfg.rpn.max_per_img=300',
                      'model.test_cfg.rcnn.max_per_img=20']}
# 10x the configs' lr (1e-4, 6e-5: too small to show in 16 iterations);
# Semantic FPN: poly decay over 80k iterations, no warm-up; UPerNet: no
# 1500-iteration warm-up from 1e-6x
SEG_LR = {'fpn': ['optim_wrapper.optimizer.lr=1e-3'],
          'upernet': ['param_scheduler.0.start_factor=1.0',
                      'optim_wrapper.optimizer.lr=6e-4']}


def ade_options(root):
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_dataloader.dataset.pipeline.2.scale=(96,80)',
        'train_dataloader.dataset.pipeline.2.ratio_range=(1.0,1.0)',
        'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
        'train_dataloader.dataset.pipeline.4.prob=0.0',
        'model.data_preprocessor.size=(64,64)',
        'val_dataloader.dataset.pipeline.1.scale=(96,80)',
    ]


def train(config, work_dir, options):
    return run_tool('train.py', osp.join(CONFIGS, config), '--work-dir',
                    work_dir, '--cfg-options', *COMMON, *options)


# Mask R-CNN takes about 2 minutes here: run with the slow tests
@pytest.mark.parametrize(
    'family', ['retinanet', pytest.param('mask_rcnn', marks=pytest.mark.slow)])
def test_detection_learns_and_evaluates(family, demo_coco, tmp_path):
    """2 images, 2 per iteration, 16 epochs (16 iterations)."""
    work_dir = str(tmp_path / family)
    out = train(f'{family}_crossvit_15_dagger_coco.py', work_dir, [
        *coco_options(demo_coco), KEEP_ALL[family], *FAST[family],
        'train_cfg.max_epochs=16',
        'train_cfg.val_interval=16', 'default_hooks.checkpoint.interval=16'
    ])
    assert 'CrossViT: no pretrained checkpoint given' in out
    assert_learns(losses_of(out))
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    m = re.search(r'coco/bbox_mAP: (-?[0-9.]+)', out)
    assert m and 0.0 <= float(m.group(1)) <= 1.0, out[-3000:]
    assert glob.glob(osp.join(work_dir, 'epoch_16.pth'))


@pytest.mark.parametrize('family', ['fpn', 'upernet'])
def test_segmentation_learns_and_evaluates(family, demo_ade20k, tmp_path):
    """2 images, 2 per iteration, 16 iterations."""
    work_dir = str(tmp_path / family)
    out = train(f'{family}_crossvit_15_dagger_ade20k.py', work_dir, [
        *ade_options(demo_ade20k), *SEG_LR[family], 'train_cfg.max_iters=16',
        'train_cfg.val_interval=16', 'default_hooks.checkpoint.interval=16'
    ])
    assert_learns(losses_of(out))
    m = re.search(r'mIoU: (-?[0-9.]+)', out)
    assert m and 0.0 <= float(m.group(1)) <= 100.0, out[-3000:]
    assert glob.glob(osp.join(work_dir, 'iter_16.pth'))


def test_dist_train_two_processes(demo_coco, tmp_path):
    """tools/dist_train.sh with 2 processes (gloo on the CPU) on the
    RetinaNet config, DDP with find_unused_parameters=False (mmengine's
    default): every parameter must take part in the loss."""
    work_dir = str(tmp_path / 'ddp')
    env = dict(os.environ, PYTHON=sys.executable, PORT='29563',
               OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run(
        ['bash', osp.join(TOOLS, 'dist_train.sh'),
         osp.join(CONFIGS, 'retinanet_crossvit_15_dagger_coco.py'), '2',
         '--work-dir', work_dir, '--cfg-options', *COMMON,
         *coco_options(demo_coco, '(64,48)'), KEEP_ALL['retinanet'],
         'train_cfg.max_epochs=1',
         'train_dataloader.dataset.indices=8',
         'train_cfg.val_interval=5', 'train_dataloader.batch_size=2',
         'model_wrapper_cfg.find_unused_parameters=False'],
        cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:]
    assert re.search(r'Distributed training: True', out), out[-3000:]
    # 8 images, 2 per process and step, 2 processes: 2 steps
    assert re.search(r'Epoch\(train\)\s+\[1\]\[2/2\]', out), out[-3000:]
    assert len(glob.glob(osp.join(work_dir, 'epoch_1.pth'))) == 1
