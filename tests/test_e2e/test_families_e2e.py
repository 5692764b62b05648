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

from conftest import CONFIGS, TOOLS, run_tool
from test_detection_e2e import data_options


def _image_demo(img, config, ckpt, out_dir):
    run_tool('image_demo.py', img, config, '--weights', ckpt, '--out-dir',
             out_dir)
    name = osp.splitext(osp.basename(img))[0]
    assert osp.getsize(osp.join(out_dir, f'{name}_vis.png')) > 1000
    return json.load(open(osp.join(out_dir, f'{name}.json')))


def _train_and_test(config, work, train_opts, test_opts):
    # --amp: bf16 autocast on CPU (fp16 + loss scaling on CUDA)
    out = run_tool('train.py', config, '--amp', '--work-dir', work,
                   '--cfg-options', *train_opts)
    assert 'CPUAutocastOptimWrapper' in out or 'AmpOptimWrapper' in out
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
    config = osp.join(CONFIGS, 'mask_rcnn_crossformerpp_s_coco_demo.py')
    # one epoch from scratch scores below the default 0.05 threshold, and
    # CocoMetric returns nothing for an empty result set
    opts = [*data_options(demo_coco), 'model.test_cfg.rcnn.score_thr=0.0']
    _, test, _ = _train_and_test(
        config, str(tmp_path / 'work'),
        ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=2', *opts],
        opts)
    assert 0.0 <= _metric('coco/bbox_mAP', test) <= 1.0
    assert 0.0 <= _metric('coco/segm_mAP', test) <= 1.0
    assert 'Evaluate annotation type *segm*' in test


def test_upernet_miou(demo_ade20k, tmp_path):
    config = osp.join(CONFIGS, 'upernet_crossformerpp_s_ade20k_demo.py')
    opts = [
        f'train_dataloader.dataset.data_root={demo_ade20k}',
        f'val_dataloader.dataset.data_root={demo_ade20k}',
        f'test_dataloader.dataset.data_root={demo_ade20k}'
    ]
    train, test, ckpt = _train_and_test(
        config, str(tmp_path / 'work'),
        ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
         'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
         *opts], opts)
    assert 'training from scratch' in train
    assert 'mIoU' in train
    miou = _metric('mIoU', test)
    assert 0.0 <= miou <= 100.0
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
    config = osp.join(CONFIGS, 'crossformerpp_s_in1k_demo.py')
    opts = [
        f'train_dataloader.dataset.data_root={demo_imagenet}',
        f'val_dataloader.dataset.data_root={demo_imagenet}',
        f'test_dataloader.dataset.data_root={demo_imagenet}'
    ]
    _, test, ckpt = _train_and_test(
        config, str(tmp_path / 'work'),
        ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=4', *opts],
        opts)
    top1 = _metric('accuracy/top1', test)
    assert 0.0 <= top1 <= 100.0
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
