"""Data parallel training with 2 processes (gloo on CPU) and --amp."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

from mmcrossformer.testing import (
    CONFIGS,
    KEEP_ALL_BOXES,
    REPO,
    TOOLS,
    coco_data_options,
    run_tool,
)

DEMO = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')


def test_dist_train_two_processes(demo_coco, tmp_path):
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, PYTHON=sys.executable, PORT='29561',
               OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run(
        ['bash', osp.join(TOOLS, 'dist_train.sh'), DEMO, '2', '--work-dir',
         work_dir, '--cfg-options', 'train_cfg.max_epochs=1',
         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'default_hooks.logger.interval=1', 'train_cfg.val_interval=5',
         *coco_data_options(demo_coco)],
        cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:]
    assert re.search(r'Distributed training: True', out), out[-3000:]
    # 8 images, 2 per process and step, 2 processes: 2 steps per epoch
    assert re.search(r'Epoch\(train\)\s+\[1\]\[2/2\]', out), out[-3000:]
    assert len(glob.glob(osp.join(work_dir, 'epoch_1.pth'))) == 1


def test_amp_training_on_cpu(demo_coco, tmp_path):
    out = run_tool(
        'train.py', DEMO, '--amp', '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        'train_dataloader.batch_size=4', 'default_hooks.logger.interval=1',
        KEEP_ALL_BOXES, *coco_data_options(demo_coco),
        # the embedded images' own size: bf16 convolutions are slow on a
        # CPU without native bf16 instructions
        'train_dataloader.dataset.pipeline.2.scale=(160,128)',
        'val_dataloader.dataset.pipeline.1.scale=(160,128)')
    assert 'CPUAutocastOptimWrapper' in out
    losses = [float(x) for x in re.findall(r' loss: ([0-9.]+)', out)]
    assert losses and all(0 < v < 100 for v in losses), out[-3000:]
    assert 'coco/bbox_mAP' in out
