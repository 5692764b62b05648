"""End to end: tools/train.py then tools/test.py with mmdet's CocoMetric."""
import glob
import json
import os.path as osp
import re

from mmcrossformer.testing import (
    CONFIGS,
    KEEP_ALL_BOXES,
    assert_learns,
    coco_data_options,
    coco_overfit_options,
    losses_of,
    run_tool,
)

DEMO = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')


def test_train_then_test_retinanet(demo_coco, tmp_path):
    """The demo config learns: the loss falls on a fixed batch and the mAP
    on those images rises above an untrained model's 0.000; then
    tools/test.py, --show-dir and tools/image_demo.py on the checkpoint."""
    work_dir = str(tmp_path / 'work')
    out = run_tool(
        'train.py', DEMO, '--work-dir', work_dir, '--cfg-options',
        'optim_wrapper.optimizer.lr=5e-5', KEEP_ALL_BOXES,
        *coco_overfit_options(demo_coco, 20))
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
                   '--cfg-options', KEEP_ALL_BOXES,
                   *coco_data_options(demo_coco))
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    m = re.search(r'coco/bbox_mAP: (-?[0-9.]+)', out)
    assert m and 0.0 <= float(m.group(1)) <= 1.0, out[-3000:]

    # --show-dir: one visualisation per evaluated image (4 val images)
    show = tmp_path / 'show'
    run_tool('test.py', DEMO, ckpts[0], '--work-dir', test_dir, '--show-dir',
             str(show), '--cfg-options', KEEP_ALL_BOXES,
             *coco_data_options(demo_coco))
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
