"""End to end per task family on the embedded data: tools/train.py for a few
iterations, then tools/test.py with the family's real metric."""
import glob
import json
import os.path as osp
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from mmcrossformer.testing import (
    CONFIGS,
    TOOLS,
    assert_learns,
    coco_data_options,
    coco_overfit_options,
    losses_of,
    run_tool,
)

# Floors on the training images, far above an untrained model's value and
# below the value measured after the test's training (fixed seeds):
MAP_FLOOR = 0.01  # Mask R-CNN bbox / segm: untrained 0.000, 6 iterations
# 0.034 / 0.045
MIOU_FLOOR = 20.0  # UPerNet: untrained 0.02, 16 iterations 49.8
TOP1_FLOOR = 50.0  # classifier: 6 of 12 (chance 4 of 12); 8 epochs 58.3


def _image_demo(img, config, ckpt, out_dir):
    run_tool('image_demo.py', img, config, '--weights', ckpt, '--out-dir',
             out_dir)
    name = osp.splitext(osp.basename(img))[0]
    assert osp.getsize(osp.join(out_dir, f'{name}_vis.png')) > 1000
    return json.load(open(osp.join(out_dir, f'{name}.json')))


def _train_and_test(config, work, train_opts, test_opts):
    """tools/train.py then tools/test.py on the last checkpoint (fp32:
    bf16 autocast through tools/train.py --amp is covered by
    test_distributed_amp_e2e.py; without native bf16 instructions the CPU
    runs bf16 convolutions slowly)."""
    out = run_tool('train.py', config, '--work-dir', work, '--cfg-options',
                   *train_opts)
    ckpt = open(osp.join(work, 'last_checkpoint')).read().strip()
    assert osp.isfile(ckpt)
    test = run_tool('test.py', config, ckpt, '--work-dir', work + '_test',
                    '--cfg-options', *test_opts)
    return out, test, ckpt


def _metric(name, text):
    m = re.findall(name + r': (-?[0-9.]+)', text)
    assert m, f'{name} not in output:\n{text[-3000:]}'
    return float(m[-1])


def test_mask_rcnn_bbox_and_segm(demo_coco, tmp_path):
    """Mask R-CNN learns on a fixed batch (loss of the last two of six
    iterations <= 0.8x the first two's; bbox and segm mAP on those images
    above an untrained model's), then tools/test.py evaluates boxes and
    masks on the validation images with CocoMetric."""
    config = osp.join(CONFIGS, 'mask_rcnn_crossformerpp_s_coco_demo.py')
    # from scratch all scores are below the default 0.05 threshold, and
    # CocoMetric returns nothing for an empty result set
    keep_all = 'model.test_cfg.rcnn.score_thr=0.0'
    train, test, _ = _train_and_test(
        config, str(tmp_path / 'work'), [
            *coco_overfit_options(demo_coco, 6), keep_all,
            'optim_wrapper.optimizer.lr=1e-4'
        ], [*coco_data_options(demo_coco), keep_all])
    assert_learns(losses_of(train), first=2, last=2)
    assert _metric('coco/bbox_mAP', train) >= MAP_FLOOR, train[-3000:]
    assert _metric('coco/segm_mAP', train) >= MAP_FLOOR, train[-3000:]
    assert 0.0 <= _metric('coco/bbox_mAP', test) <= 1.0
    assert 0.0 <= _metric('coco/segm_mAP', test) <= 1.0
    assert 'Evaluate annotation type *segm*' in test


def test_upernet_miou(demo_ade20k, tmp_path):
    """UPerNet learns on a fixed batch (two training images, 64x64 crops,
    no flips, constant lr): loss <= 0.8x and mIoU on those images above the
    untrained model's; then tools/test.py on the validation set, --show-dir
    and tools/image_demo.py."""
    config = osp.join(CONFIGS, 'upernet_crossformerpp_s_ade20k_demo.py')
    opts = [
        f'train_dataloader.dataset.data_root={demo_ade20k}',
        f'val_dataloader.dataset.data_root={demo_ade20k}',
        f'test_dataloader.dataset.data_root={demo_ade20k}'
    ]
    overfit = [
        'train_dataloader.dataset.indices=2', 'train_dataloader.batch_size=2',
        'train_dataloader.dataset.pipeline.2.scale=(96,80)',
        'train_dataloader.dataset.pipeline.2.ratio_range=(1.0,1.0)',
        'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
        'train_dataloader.dataset.pipeline.4.prob=0.0',
        'model.data_preprocessor.size=(64,64)',
        'param_scheduler.0.start_factor=1.0',  # constant lr 4e-4
        'val_dataloader.dataset.indices=2',
        'val_dataloader.dataset.data_prefix.img_path=images/training',
        'val_dataloader.dataset.data_prefix.seg_map_path='
        'annotations/training',
        'train_cfg.max_iters=16', 'train_cfg.val_interval=16',
        'default_hooks.checkpoint.interval=16',
        'default_hooks.logger.interval=1'
    ]
    train, test, ckpt = _train_and_test(config, str(tmp_path / 'work'),
                                        [*opts, *overfit], opts)
    assert 'training from scratch' in train
    assert_learns(losses_of(train))
    assert _metric('mIoU', train) >= MIOU_FLOOR, train[-3000:]
    assert 0.0 <= _metric('mIoU', test) <= 100.0
    assert re.search(r'\|\s+painting\s+\|', test)  # mmseg per-class table
    show = tmp_path / 'show'
    run_tool('test.py', config, ckpt, '--work-dir', str(tmp_path / 'w2'),
             '--show-dir', str(show), '--cfg-options', *opts)
    written = [f for f in glob.glob(str(show / '**' / '*'), recursive=True)
               if f.endswith(('.jpg', '.png'))]
    assert len(written) == 4, written  # one per validation image
    img = sorted(glob.glob(osp.join(demo_ade20k, 'images/validation/*')))[0]
    pred = _image_demo(img, config, ckpt, str(tmp_path / 'demo'))
    label = np.array(Image.open(tmp_path / 'demo' / pred['label_map']))
    assert label.shape == (pred['height'], pred['width']) == (80, 96)
    assert abs(sum(pred['classes'].values()) - 1) < 1e-3


def test_classifier_accuracy(demo_imagenet, tmp_path):
    """The classifier learns: loss <= 0.8x and top-1 on the 12 training
    images above 3-way chance (33.3%; untrained, the 1000-way head scores
    0); then tools/test.py on the validation images and
    tools/image_demo.py."""
    config = osp.join(CONFIGS, 'crossformerpp_s_in1k_demo.py')
    opts = [
        f'train_dataloader.dataset.data_root={demo_imagenet}',
        f'val_dataloader.dataset.data_root={demo_imagenet}',
        f'test_dataloader.dataset.data_root={demo_imagenet}'
    ]
    overfit = [
        'train_cfg.max_epochs=12', 'train_cfg.val_interval=12',
        'train_dataloader.batch_size=6', 'default_hooks.logger.interval=1',
        # constant lr 5e-4: no warm-up, no cosine decay
        'param_scheduler.0.start_factor=1.0', 'param_scheduler.1.eta_min=5e-4',
        'val_dataloader.dataset.ann_file=meta/train.txt',
        'val_dataloader.dataset.data_prefix=train'
    ]
    train, test, ckpt = _train_and_test(
        config, str(tmp_path / 'work'), [*opts, *overfit], opts)
    assert_learns(losses_of(train))
    assert _metric('accuracy/top1', train) >= TOP1_FLOOR, train[-3000:]
    assert 0.0 <= _metric('accuracy/top1', test) <= 100.0
    img = sorted(glob.glob(osp.join(demo_imagenet, 'val', '*.JPEG')))[0]
    pred = _image_demo(img, config, ckpt, str(tmp_path / 'demo'))
    scores = [t['score'] for t in pred['topk']]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert all(isinstance(t['class'], str) for t in pred['topk'])
    # errors: missing image; weights of another model
    for args, message in [
        (['nowhere.jpg', config], 'nowhere.jpg does not exist'),
        ([img, osp.join(CONFIGS, 'crossformer_t_in1k.py'), '--weights', ckpt],
         'does not fit the model'),
    ]:
        proc = subprocess.run(
            [sys.executable, osp.join(TOOLS, 'image_demo.py'), *args,
             '--out-dir', str(tmp_path / 'bad')],
            capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0 and message in proc.stderr, \
            proc.stderr[-2000:]
