"""End to end: tools/train.py then tools/test.py with mmdet's CocoMetric."""
import glob
import json
import os.path as osp
import re

from conftest import CONFIGS, assert_learns, losses_of, run_tool

DEMO = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')


# After a few iterations from scratch all scores are below the default 0.05
# threshold, and CocoMetric returns nothing for an empty result set.
KEEP_ALL_BOXES = 'model.test_cfg.score_thr=0.0'


def data_options(root):
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/instances_val2017.json',
        f'test_evaluator.ann_file={root}annotations/instances_val2017.json',
    ]


def overfit_options(root, iters):
    """Train on a fixed batch (the first two training images, no flips) at
    a constant lr for ``iters`` iterations, then evaluate on those images.

    With lr = 0 the loss stays at its first value (ratio 1.0) and the
    RetinaNet bbox mAP is 0.000; RetinaNet at lr 5e-5 gave a ratio of 0.78
    and a bbox mAP of 0.030 after 16 iterations (20 in the test).
    """
    return [
        f'train_cfg.max_epochs={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}',
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
        'train_dataloader.dataset.indices=2',
        'val_dataloader.dataset.indices=2',
        'train_dataloader.dataset.pipeline.3.prob=0.0',
        'train_dataloader.dataset.pipeline.2.scale=(160,128)',
        'val_dataloader.dataset.pipeline.1.scale=(160,128)',
        # constant lr: no warm-up from 0.01x, no cosine decay
        'param_scheduler.0.start_factor=1.0',
        'param_scheduler.1.eta_min_ratio=1.0',
        'default_hooks.logger.interval=1',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        'val_dataloader.dataset.ann_file=annotations/'
        'instances_train2017.json',
        'val_dataloader.dataset.data_prefix.img=train2017/',
        f'val_evaluator.ann_file={root}annotations/instances_train2017.json',
    ]


def test_train_then_test_retinanet(demo_coco, tmp_path):
    """The demo config learns: the loss falls on a fixed batch and the mAP
    on those images rises above an untrained model's 0.000; then
    tools/test.py, --show-dir and tools/image_demo.py on the checkpoint."""
    work_dir = str(tmp_path / 'work')
    out = run_tool(
        'train.py', DEMO, '--work-dir', work_dir, '--cfg-options',
        'optim_wrapper.optimizer.lr=5e-5', KEEP_ALL_BOXES,
        *overfit_options(demo_coco, 20))
    assert 'training from scratch' in out
    losses = losses_of(out)
    assert len(losses) == 20, out[-3000:]
    assert_learns(losses)
    m = re.search(r'coco/bbox_mAP: (-?[0-9.]+)', out)
    assert m and float(m.group(1)) >= 0.01, out[-3000:]
    ckpts = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
    assert ckpts, out[-3000:]

    test_dir = str(tmp_path / 'test')
    out = run_tool('test.py', DEMO, ckpts[0], '--work-dir', test_dir,
                   '--cfg-options', KEEP_ALL_BOXES, *data_options(demo_coco))
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    m = re.search(r'coco/bbox_mAP: (-?[0-9.]+)', out)
    assert m and 0.0 <= float(m.group(1)) <= 1.0, out[-3000:]

    # --show-dir: one visualisation per evaluated image (4 val images)
    show = tmp_path / 'show'
    run_tool('test.py', DEMO, ckpts[0], '--work-dir', test_dir, '--show-dir',
             str(show), '--cfg-options', KEEP_ALL_BOXES,
             *data_options(demo_coco))
    written = [f for f in glob.glob(str(show / '**' / '*'), recursive=True)
               if f.endswith(('.jpg', '.png'))]
    assert len(written) == 4, written

    # tools/image_demo.py with the trained checkpoint
    img = sorted(glob.glob(osp.join(demo_coco, 'val2017', '*.jpg')))[0]
    out_dir = tmp_path / 'demo'
    run_tool('image_demo.py', img, DEMO, '--weights', ckpts[0], '--out-dir',
             str(out_dir), '--score-thr', '0.0')
    name = osp.splitext(osp.basename(img))[0]
    assert osp.getsize(out_dir / f'{name}_vis.png') > 1000
    pred = json.load(open(out_dir / f'{name}.json'))
    n = len(pred['boxes'])
    assert n > 0 and len(pred['scores']) == len(pred['labels']) == n
    assert all(len(b) == 4 and b[0] <= b[2] and b[1] <= b[3]
               for b in pred['boxes'])
    assert all(isinstance(c, str) for c in pred['classes'])
