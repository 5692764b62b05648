"""Fine-tuning on your own data (docs/en/finetune.md), end to end.

The configs of ``configs/finetune/`` as a user edits them (only
``data_root``, ``classes`` and, for segmentation, ``palette`` change: see
:func:`user_config`) on embedded sets whose class counts and names are none
of COCO's, ImageNet's or ADE20K's: 3 detection classes, 5 image classes, 4
segmentation classes. The runs train from scratch (``init_cfg.checkpoint``
None, drop path 0) at small sizes for a few iterations; the learning checks
follow tests/test_e2e/test_families_e2e.py: the loss falls on a fixed batch
and the metric on those images ends far above an untrained model's. Then the
evaluator's output, the checkpoint's ``dataset_meta`` and
``tools/image_demo.py`` must carry the user's class names.

Default suite: one training per task (RetinaNet, CrossFormer++-S classifier,
UPerNet) and, for Mask R-CNN and CrossViT-15†, the built model's heads and
one iteration through mmengine's Runner; their learning runs are slow tests.
"""
import glob
import json
import os.path as osp
import re
import time

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmcrossformer.testing import CONFIGS, assert_learns, losses_of, run_tool

# The user's classes: counts and names that no pre-training set has.
DET_CLASSES = ('bolt', 'nut', 'washer')
# sorted, as the class folders (mmpretrain's CustomDataset numbers them so)
CLS_CLASSES = ('daisy', 'lotus', 'orchid', 'rose', 'tulip')
SEG_CLASSES = ('background', 'weed', 'crop', 'stone')
SEG_PALETTE = [[0, 0, 0], [0, 200, 0], [230, 200, 0], [128, 128, 128]]

# Floors, far above an untrained model's value and below what the runs
# measured (fixed seeds; the numbers are in the tests' docstrings).
DET_MAP_FLOOR = 0.03  # RetinaNet bbox mAP: untrained 0.001, trained 0.052
MASK_MAP_FLOOR = 0.03  # Mask R-CNN bbox / segm mAP: untrained 0.000
CLS_TOP1_FLOOR = 60.0  # %: chance 20, untrained 30, trained 85 to 90
SEG_MIOU_MARGIN = 15.0  # above the best constant prediction (30.2): 81.9

# from scratch, without stochastic depth (it slows fitting from scratch),
# a fixed seed
SCRATCH = {
    'model.backbone.init_cfg.checkpoint': None,
    'model.backbone.drop_path_rate': 0.0,
    'randomness.seed': 0,
}
NO_WORKERS = {
    f'{loader}_dataloader.{key}': value
    for loader in ('train', 'val', 'test')
    for key, value in (('num_workers', 0), ('persistent_workers', False))
}


def user_config(name, out_dir, **edits):
    """``configs/finetune/<name>`` with the user's edits of its top-level
    variables (each must occur exactly once), written to ``out_dir``; only
    the relative ``_base_`` path is made absolute. Returns the new path."""
    text = open(osp.join(CONFIGS, 'finetune', name)).read()
    text, n = re.subn(r"^_base_ = '\.\./", f"_base_ = '{CONFIGS}/", text,
                      flags=re.M)
    assert n == 1, name
    for key, value in edits.items():
        text, n = re.subn(
            rf'^{key} = .*$', f'{key} = {value!r}', text, flags=re.M)
        assert n == 1, f'{name}: one top-level {key} = ... line expected'
    path = osp.join(str(out_dir), name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def run_config(path, options, drop_transforms=()):
    """``path`` merged with ``options``, the training pipeline without the
    transforms named in ``drop_transforms`` (what --cfg-options cannot
    express), dumped next to it as ``run_<name>``."""
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    pipeline = cfg.train_dataloader.dataset.pipeline
    cfg.train_dataloader.dataset.pipeline = [
        t for t in pipeline if t['type'] not in drop_transforms
    ]
    out = osp.join(osp.dirname(path), 'run_' + osp.basename(path))
    cfg.dump(out)
    return out


def train(config, work, options=None):
    """tools/train.py (``options`` as --cfg-options); returns its output,
    the last checkpoint and the seconds it took."""
    args = ['--cfg-options', *(f'{k}={v}' for k, v in options.items())
            ] if options else []
    start = time.time()
    out = run_tool('train.py', config, '--work-dir', work, *args)
    seconds = time.time() - start
    ckpt = open(osp.join(work, 'last_checkpoint')).read().strip()
    assert osp.isfile(ckpt), out[-3000:]
    return out, ckpt, seconds


def metric(name, text):
    found = re.findall(re.escape(name) + r': (-?[0-9.]+)', text)
    assert found, f'{name} not in output:\n{text[-3000:]}'
    return float(found[-1])


def saved_classes(ckpt):
    """The class names the checkpoint records (mmengine saves the data
    set's metainfo as meta.dataset_meta)."""
    meta = torch.load(ckpt, map_location='cpu', weights_only=False)['meta']
    return tuple(meta['dataset_meta']['classes'])


def image_demo(img, config, ckpt, out_dir, *args):
    run_tool('image_demo.py', img, config, '--weights', ckpt, '--out-dir',
             str(out_dir), *args)
    name = osp.splitext(osp.basename(img))[0]
    assert osp.getsize(osp.join(str(out_dir), f'{name}_vis.png')) > 1000
    return json.load(open(osp.join(str(out_dir), f'{name}.json')))


def report(name, losses, before, after, seconds):
    """The measured numbers, shown with pytest -s."""
    print(f'\n{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f} over '
          f'{len(losses)} iterations, metric {before} -> {after}, '
          f'training {seconds:.0f} s')


def run_one_iteration(config, work_dir, options):
    """Build mmengine's Runner from ``config`` with ``options`` and train
    one iteration (one epoch of one batch); returns the model."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({
        'work_dir': work_dir,
        'train_cfg.max_epochs': 1,
        'default_hooks.checkpoint.interval': 2,
        **SCRATCH,
        **NO_WORKERS,
        **options
    })
    # no validation: the train loop would run it after its last epoch
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0, loss
    return runner.model


# ---------------------------------------------------------------- data sets


@pytest.fixture(scope='module')
def det_set(tmp_path_factory):
    from mmcrossformer.testing import make_demo_coco
    root = str(tmp_path_factory.mktemp('my_coco')) + '/'
    make_demo_coco(root, 8, 4, (160, 128), seed=1, classes=DET_CLASSES)
    return root


@pytest.fixture(scope='module')
def cls_set(tmp_path_factory):
    from mmcrossformer.testing import make_demo_imagenet
    root = str(tmp_path_factory.mktemp('my_images')) + '/'
    make_demo_imagenet(root, 4, 2, (64, 64), seed=1, classes=CLS_CLASSES)
    return root


@pytest.fixture(scope='module')
def seg_set(tmp_path_factory):
    from mmcrossformer.testing import make_demo_ade20k
    root = str(tmp_path_factory.mktemp('my_seg')) + '/'
    make_demo_ade20k(root, 8, 4, (96, 80), seed=1, classes=SEG_CLASSES)
    return root


# ---------------------------------------------------------------- detection


def det_overfit(root, iters, lr):
    """A fixed batch (the first two training images at their own size, no
    flips) at a constant lr for ``iters`` iterations, evaluated on those
    images with every box kept (from scratch, scores stay below the
    default 0.05 threshold, and CocoMetric returns nothing for no boxes)."""
    return {
        **SCRATCH,
        **NO_WORKERS,
        'optim_wrapper.optimizer.lr': lr,
        'param_scheduler.0.start_factor': 1.0,
        'param_scheduler.1.milestones': [1000],
        'train_cfg.max_epochs': iters,
        'train_cfg.val_interval': iters,
        'default_hooks.checkpoint.interval': iters,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 2,
        'val_dataloader.batch_size': 2,
        'train_dataloader.dataset.indices': 2,
        'val_dataloader.dataset.indices': 2,
        'train_dataloader.dataset.pipeline.2.scale': (160, 128),
        'train_dataloader.dataset.pipeline.3.prob': 0.0,
        'val_dataloader.dataset.pipeline.1.scale': (160, 128),
        'val_dataloader.dataset.ann_file':
        'annotations/instances_train2017.json',
        'val_dataloader.dataset.data_prefix.img': 'train2017/',
        'val_evaluator.ann_file':
        root + 'annotations/instances_train2017.json',
    }


def check_det_config(cfg, root):
    """Every data set of the user's config has their classes and root; the
    metric reads their validation annotations, class-wise."""
    for loader in ('train', 'val', 'test'):
        dataset = cfg[f'{loader}_dataloader'].dataset
        assert dataset.data_root == root
        assert tuple(dataset.metainfo.classes) == DET_CLASSES
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.ann_file == \
            root + 'annotations/instances_val2017.json'
        assert evaluator.classwise


def check_classwise_table(out, classes):
    """CocoMetric(classwise=True) printed a row per user class and no COCO
    class."""
    for name in classes:
        assert re.search(rf'\|\s+{name}\s+\|', out), (name, out[-3000:])
    assert not re.search(r'\|\s+(person|stop sign)\s+\|', out)


def check_det_demo(img, config, ckpt, out_dir):
    pred = image_demo(img, config, ckpt, out_dir, '--score-thr', '0.0')
    assert pred['classes'] and set(pred['classes']) <= set(DET_CLASSES)
    assert [DET_CLASSES[i] for i in pred['labels']] == pred['classes']


def test_retinanet_finetune_own_classes(det_set, tmp_path):
    """RetinaNet on 3 own classes learns: the loss falls on a fixed batch
    and bbox mAP on those images rises from 0.001 (untrained: the same run
    at lr 0) to above DET_MAP_FLOOR (measured: loss 1.85 -> 1.08, mAP 0.052
    after 20 iterations at lr 1e-4); CocoMetric's per-class table, the
    checkpoint and tools/image_demo.py name the user's classes."""
    config = user_config('retinanet_crossformerpp_s_custom_coco.py', tmp_path,
                         data_root=det_set, classes=DET_CLASSES)
    check_det_config(Config.fromfile(config), det_set)
    run = run_config(config, {
        **det_overfit(det_set, 20, 1e-4), 'model.test_cfg.score_thr': 0.0
    })
    out, ckpt, seconds = train(run, str(tmp_path / 'work'))
    assert 'training from scratch' in out
    losses = losses_of(out)
    assert len(losses) == 20
    assert_learns(losses)
    m_ap = metric('coco/bbox_mAP', out)
    report('RetinaNet', losses, 0.0, m_ap, seconds)
    assert m_ap >= DET_MAP_FLOOR, out[-3000:]
    check_classwise_table(out, DET_CLASSES)
    assert saved_classes(ckpt) == DET_CLASSES
    img = sorted(glob.glob(osp.join(det_set, 'train2017', '*.jpg')))[0]
    check_det_demo(img, run, ckpt, tmp_path / 'demo')


# fewer proposals and sampled RoIs (time; 2000 / 512 by default), at most
# 20 detections per image to evaluate
MASK_RCNN_FAST = {
    'model.train_cfg.rpn_proposal.max_per_img': 300,
    'model.train_cfg.rcnn.sampler.num': 128,
    'model.test_cfg.rpn.max_per_img': 300,
    'model.test_cfg.rcnn.max_per_img': 20,
}


def test_mask_rcnn_finetune_config_runs(det_set, tmp_path):
    """Mask R-CNN (cheap check): the user's config builds box and mask heads
    for len(classes) classes and one iteration runs through the Runner; the
    learning run is test_mask_rcnn_finetune_learns (slow)."""
    config = user_config('mask_rcnn_crossformerpp_s_custom_coco.py', tmp_path,
                         data_root=det_set, classes=DET_CLASSES)
    check_det_config(Config.fromfile(config), det_set)
    model = run_one_iteration(
        config, str(tmp_path / 'work'), {
            'train_dataloader.batch_size': 2,
            'train_dataloader.dataset.indices': 2,
            'train_dataloader.dataset.pipeline.2.scale': (160, 128),
            **MASK_RCNN_FAST
        })
    n = len(DET_CLASSES)
    assert model.roi_head.bbox_head.fc_cls.out_features == n + 1  # + bg
    assert model.roi_head.bbox_head.fc_reg.out_features == 4 * n
    assert model.roi_head.mask_head.conv_logits.out_channels == n


@pytest.mark.slow
def test_mask_rcnn_finetune_learns(det_set, tmp_path):
    """Mask R-CNN on 3 own classes learns on a fixed batch: loss <= 0.8x,
    bbox and segm mAP on those images from 0.000 (untrained) to above
    MASK_MAP_FLOOR (measured: loss 3.90 -> 1.29 in 20 iterations, mAP
    0.054 / 0.070); per-class tables for boxes and masks, the checkpoint and
    tools/image_demo.py name the user's classes."""
    config = user_config('mask_rcnn_crossformerpp_s_custom_coco.py', tmp_path,
                         data_root=det_set, classes=DET_CLASSES)
    run = run_config(config, {
        **det_overfit(det_set, 20, 1e-4),
        **MASK_RCNN_FAST, 'model.test_cfg.rcnn.score_thr': 0.0
    })
    out, ckpt, seconds = train(run, str(tmp_path / 'work'))
    losses = losses_of(out)
    assert_learns(losses)
    bbox, segm = metric('coco/bbox_mAP', out), metric('coco/segm_mAP', out)
    report('Mask R-CNN', losses, 0.0, (bbox, segm), seconds)
    assert bbox >= MASK_MAP_FLOOR and segm >= MASK_MAP_FLOOR, out[-3000:]
    assert 'Evaluate annotation type *segm*' in out
    check_classwise_table(out, DET_CLASSES)
    assert saved_classes(ckpt) == DET_CLASSES
    img = sorted(glob.glob(osp.join(det_set, 'train2017', '*.jpg')))[0]
    check_det_demo(img, run, ckpt, tmp_path / 'demo')


# ----------------------------------------------------------- classification

# RandAugment and random erasing stay in the user's config; a run of a few
# iterations from scratch cannot learn through them, so these runs leave
# them out.
HEAVY_AUGMENTS = ('RandAugment', 'RandomErasing')


def cls_overfit(epochs, lr, batch, size):
    """The 20 training images at ``size`` pixels, a constant lr, evaluated
    on those images (the validation set reads train/)."""
    return {
        **SCRATCH,
        **NO_WORKERS,
        'optim_wrapper.optimizer.lr': lr,
        'param_scheduler.0.start_factor': 1.0,
        'param_scheduler.1.eta_min': lr,
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs,
        'default_hooks.checkpoint.interval': epochs,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': batch,
        'val_dataloader.batch_size': 20,
        'train_dataloader.dataset.pipeline.1.scale': size,
        'val_dataloader.dataset.pipeline.1.scale': size,
        'val_dataloader.dataset.pipeline.2.crop_size': size,
        'val_dataloader.dataset.data_prefix': 'train',
    }


def check_cls_config(cfg, root):
    for loader in ('train', 'val', 'test'):
        dataset = cfg[f'{loader}_dataloader'].dataset
        assert dataset.type == 'CustomDataset' and dataset.data_root == root
        assert tuple(dataset.metainfo.classes) == CLS_CLASSES
    assert cfg.data_preprocessor.num_classes == len(CLS_CLASSES)
    assert max(cfg.val_evaluator.topk) <= len(CLS_CLASSES)


def check_cls_run(out, ckpt, config, root, out_dir):
    """Learning, top-1 on the training images, the user's names in the
    checkpoint and in tools/image_demo.py's top-k; returns the losses and
    the top-1."""
    losses = losses_of(out)
    assert_learns(losses)
    top1 = metric('accuracy/top1', out)
    assert top1 >= CLS_TOP1_FLOOR, out[-3000:]
    assert 'accuracy/top5' not in out  # top-k <= 5 classes
    assert saved_classes(ckpt) == CLS_CLASSES
    img = sorted(glob.glob(osp.join(root, 'val', 'rose', '*.jpg')))[0]
    pred = image_demo(img, config, ckpt, out_dir)
    # all five classes, by the user's names, best first
    assert sorted(t['class'] for t in pred['topk']) == list(CLS_CLASSES)
    assert all(CLS_CLASSES[t['label']] == t['class'] for t in pred['topk'])
    return losses, top1


def test_crossformerpp_classifier_finetune_own_classes(cls_set, tmp_path):
    """CrossFormer++-S on a folder tree of 5 own classes learns: loss <=
    0.8x, top-1 on the 20 training images from 30% (untrained; chance and
    any constant prediction: 20%) to above CLS_TOP1_FLOOR (measured: loss
    1.64 -> 1.08 in 24 iterations, 90%); the checkpoint and
    tools/image_demo.py name the user's classes."""
    config = user_config('crossformerpp_s_custom_folder.py', tmp_path,
                         data_root=cls_set, classes=CLS_CLASSES)
    check_cls_config(Config.fromfile(config), cls_set)
    run = run_config(config, cls_overfit(12, 2e-4, 10, 64), HEAVY_AUGMENTS)
    out, ckpt, seconds = train(run, str(tmp_path / 'work'))
    assert 'training from scratch' in out
    losses, top1 = check_cls_run(out, ckpt, run, cls_set, tmp_path / 'demo')
    report('CrossFormer++-S classifier', losses, 20.0, top1, seconds)


def test_crossvit_finetune_config_runs(cls_set, tmp_path):
    """CrossViT-15† (cheap check): the user's config builds one classifier
    per branch with len(classes) outputs and one iteration runs through the
    Runner; the learning run is test_crossvit_finetune_learns (slow)."""
    config = user_config('crossvit_15_dagger_custom_folder.py', tmp_path,
                         data_root=cls_set, classes=CLS_CLASSES)
    check_cls_config(Config.fromfile(config), cls_set)
    model = run_one_iteration(
        config, str(tmp_path / 'work'), {
            'train_dataloader.batch_size': 20,
            'train_dataloader.dataset.pipeline.1.scale': 64,
            'model.backbone.img_size': 64,
            'model.backbone.branch_img_sizes': (64, 48),
        })
    assert [fc.out_features for fc in model.head.fcs] == [5, 5]


@pytest.mark.slow
def test_crossvit_finetune_learns(cls_set, tmp_path):
    """CrossViT-15† on 5 own classes learns: loss <= 0.8x, top-1 on the
    training images from chance (20%) to above CLS_TOP1_FLOOR (measured:
    loss 1.69 -> 0.77 in 24 iterations, 85%); the checkpoint and
    tools/image_demo.py name the user's classes."""
    config = user_config('crossvit_15_dagger_custom_folder.py', tmp_path,
                         data_root=cls_set, classes=CLS_CLASSES)
    run = run_config(
        config, {
            **cls_overfit(12, 2e-4, 10, 64),
            'model.backbone.img_size': 64,
            'model.backbone.branch_img_sizes': (64, 48),
        }, HEAVY_AUGMENTS)
    out, ckpt, seconds = train(run, str(tmp_path / 'work'))
    losses, top1 = check_cls_run(out, ckpt, run, cls_set, tmp_path / 'demo')
    report('CrossViT-15†', losses, 20.0, top1, seconds)


# ------------------------------------------------------------- segmentation


def constant_miou(root, split, count):
    """mmseg's mIoU (%) of the best constant prediction on the first
    ``count`` label maps of ``split``: predicting class c everywhere gives
    IoU = (pixels of c) / (labelled pixels) for c and 0 for the others."""
    maps = sorted(glob.glob(osp.join(root, 'ann_dir', split, '*.png')))
    labels = np.concatenate(
        [np.array(Image.open(p)).ravel() for p in maps[:count]])
    labels = labels[labels != 255]
    present = np.unique(labels)
    best = max((labels == c).mean() for c in present)
    return 100.0 * best / len(present)


def test_upernet_finetune_own_classes(seg_set, tmp_path):
    """UPerNet on 4 own classes (label 0 a class, reduce_zero_label=False)
    learns on a fixed batch (two images, 64x64 crops, no flips or colour
    distortion, constant lr): loss <= 0.8x, mIoU on those images more than
    SEG_MIOU_MARGIN points above the best constant prediction's (measured:
    loss 1.91 -> 0.66 in 16 iterations, mIoU 81.9 against 30.2); mmseg's
    per-class table, the checkpoint and tools/image_demo.py name the user's
    classes."""
    config = user_config(
        'upernet_crossformerpp_s_custom_seg.py', tmp_path,
        data_root=seg_set, classes=SEG_CLASSES, palette=SEG_PALETTE)
    cfg = Config.fromfile(config)
    for loader in ('train', 'val', 'test'):
        dataset = cfg[f'{loader}_dataloader'].dataset
        assert dataset.data_root == seg_set
        assert tuple(dataset.metainfo.classes) == SEG_CLASSES
        assert dataset.metainfo.palette == SEG_PALETTE
        assert dataset.reduce_zero_label is False
    assert cfg.model.decode_head.num_classes == len(SEG_CLASSES)
    assert cfg.model.auxiliary_head.num_classes == len(SEG_CLASSES)
    run = run_config(
        config, {
            **SCRATCH,
            **NO_WORKERS,
            'optim_wrapper.optimizer.lr': 4e-4,
            'param_scheduler.0.start_factor': 1.0,  # constant lr
            'train_cfg.max_iters': 16,
            'train_cfg.val_interval': 16,
            'default_hooks.checkpoint.interval': 16,
            'default_hooks.logger.interval': 1,
            'train_dataloader.batch_size': 2,
            'train_dataloader.dataset.indices': 2,
            'train_dataloader.dataset.pipeline.2.scale': (96, 80),
            'train_dataloader.dataset.pipeline.2.ratio_range': (1.0, 1.0),
            'train_dataloader.dataset.pipeline.3.crop_size': (64, 64),
            'train_dataloader.dataset.pipeline.4.prob': 0.0,
            'model.data_preprocessor.size': (64, 64),
            'val_dataloader.dataset.indices': 2,
            'val_dataloader.dataset.pipeline.1.scale': (96, 80),
            'val_dataloader.dataset.data_prefix.img_path': 'img_dir/train',
            'val_dataloader.dataset.data_prefix.seg_map_path':
            'ann_dir/train',
        }, ('PhotoMetricDistortion', ))
    out, ckpt, seconds = train(run, str(tmp_path / 'work'))
    assert 'training from scratch' in out
    losses = losses_of(out)
    assert_learns(losses)
    miou, floor = metric('mIoU', out), constant_miou(seg_set, 'train', 2)
    report('UPerNet', losses, round(floor, 1), miou, seconds)
    assert miou >= floor + SEG_MIOU_MARGIN, (miou, floor, out[-3000:])
    for name in SEG_CLASSES:  # mmseg's per-class IoU table
        assert re.search(rf'\|\s+{name}\s+\|', out), (name, out[-3000:])
    assert saved_classes(ckpt) == SEG_CLASSES
    img = sorted(glob.glob(osp.join(seg_set, 'img_dir', 'train', '*')))[0]
    pred = image_demo(img, run, ckpt, tmp_path / 'demo')
    assert pred['classes'] and set(pred['classes']) <= set(SEG_CLASSES)
    label = np.array(Image.open(tmp_path / 'demo' / pred['label_map']))
    assert label.shape == (80, 96) and label.max() < len(SEG_CLASSES)
