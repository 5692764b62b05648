"""The CUDA lane: what every GPU user runs, checked on a GPU.

Collected by the default ``pytest`` command and skipped, with the reason,
where ``torch.cuda.is_available()`` is false; ``pytest -m cuda`` selects the
lane (with ``tests/test_cuda/test_attention_paths.py``'s CUDA variants).

* every arch of both backbones trains under fp16 autocast with dynamic loss
  scaling (finite fp16 outputs, finite fp32 gradients, a step is taken);
* mmcv's CUDA ops (NMS, RoIAlign, sigmoid focal loss) exist in the
  installed mmcv and agree with its CPU ops;
* ``tools/train.py --amp`` (mmengine's ``AmpOptimWrapper``, fp16 + dynamic
  loss scale) trains a RetinaNet, a Mask R-CNN and a UPerNet on the
  embedded demo sets and evaluates them on the GPU;
* ``tools/dist_train.sh CONFIG 1`` trains through torchrun with nccl.
"""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from cuda_utils import CUDA_MARKS

from mmcrossformer.testing import CONFIGS, REPO, TOOLS, run_tool

pytestmark = CUDA_MARKS

CROSSFORMER_ARCHS = ['t', 's', 'b', 'l', 'pp-s', 'pp-b', 'pp-l', 'pp-h']
CROSSVIT_ARCHS = ['tiny', 'small', 'base', '9', '15', '18', '9-dagger',
                  '15-dagger', '18-dagger']
LOSS = re.compile(r' loss: ([-+0-9.eEnaif]+)')


def _float_outputs(outs):
    if torch.is_tensor(outs):
        return [outs]
    return [t for o in outs for t in _float_outputs(o)]


def _build(family, arch):
    from mmcrossformer.models import CrossFormer, CrossViT
    if family == 'crossformer':
        return CrossFormer(arch=arch, drop_path_rate=0.1)
    return CrossViT(arch=arch, out_type='featmap', out_indices=(0, 1, 2))


@pytest.mark.parametrize(
    'family,arch', [('crossformer', a) for a in CROSSFORMER_ARCHS] +
    [('crossvit', a) for a in CROSSVIT_ARCHS])
def test_every_arch_trains_under_fp16_autocast(family, arch):
    """fp16 outputs finite, fp32 gradients of every trainable parameter
    finite and not all zero, and GradScaler (dynamic loss scale) takes a
    step within a few iterations, after which the weights are finite."""
    torch.manual_seed(0)
    model = _build(family, arch).cuda().train()
    # 224: ImageNet size; 250 x 333: padded groups / resized embeddings
    sizes = [(224, 224), (250, 333)]
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler('cuda')
    stepped = False
    for it in range(4):
        x = torch.randn(2, 3, *sizes[it % 2], device='cuda')
        opt.zero_grad(set_to_none=True)
        with torch.autocast('cuda', dtype=torch.float16):
            outs = _float_outputs(model(x))
        assert outs and all(o.dtype == torch.float16 for o in outs)
        assert all(torch.isfinite(o).all() for o in outs), f'iter {it}'
        loss = sum(o.float().square().mean() for o in outs)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        grads = {n: p.grad for n, p in model.named_parameters()
                 if p.requires_grad}
        missing = [n for n, g in grads.items() if g is None]
        assert not missing, f'no gradient: {missing[:5]}'
        assert all(g.dtype == torch.float32 for g in grads.values())
        finite = all(torch.isfinite(g).all() for g in grads.values())
        if finite:
            assert any(g.abs().sum() > 0 for g in grads.values())
        scale = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        stepped |= finite
        if not finite:  # overflow: the step was skipped, the scale halved
            assert scaler.get_scale() < scale
    assert stepped, 'every iteration overflowed in fp16'
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_mmcv_has_cuda_ops_matching_cpu():
    """The installed mmcv was built with CUDA ops (FORCE_CUDA /
    scripts/setup_existing_torch.sh), and they agree with its CPU ops."""
    from mmcv.ops import (
        get_compiling_cuda_version,
        nms,
        roi_align,
        sigmoid_focal_loss,
    )
    assert get_compiling_cuda_version() not in ('', 'not available'), (
        'mmcv was built without CUDA ops; rebuild it against this torch '
        'with scripts/setup_existing_torch.sh (FORCE_CUDA=1)')
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(200, 2, generator=gen) * 100
    boxes = torch.cat([xy, xy + 5 + torch.rand(200, 2, generator=gen) * 30],
                      1)
    scores = torch.rand(200, generator=gen)
    _, keep_cpu = nms(boxes, scores, 0.5)
    _, keep_gpu = nms(boxes.cuda(), scores.cuda(), 0.5)
    assert torch.equal(keep_cpu, keep_gpu.cpu())

    feats = torch.randn(2, 8, 32, 32, generator=gen)
    rois = torch.cat([torch.randint(0, 2, (20, 1), generator=gen).float(),
                      boxes[:20] / 4], 1)
    out_cpu = roi_align(feats, rois, (7, 7), 0.5, 2, 'avg', True)
    out_gpu = roi_align(feats.cuda(), rois.cuda(), (7, 7), 0.5, 2, 'avg',
                        True)
    torch.testing.assert_close(out_gpu.cpu(), out_cpu, atol=1e-5, rtol=1e-5)

    logits = torch.randn(64, 5, generator=gen, requires_grad=True)
    target = torch.randint(0, 5, (64, ), generator=gen)
    loss = sigmoid_focal_loss(logits.cuda(), target.cuda(), 2.0, 0.25, None,
                              'mean')
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    # the focal loss by its definition (Lin et al. 2017, Eq. 5), on the CPU
    p = logits.detach().sigmoid()
    onehot = torch.nn.functional.one_hot(target, 5).float()
    pt = p * onehot + (1 - p) * (1 - onehot)
    alpha = 0.25 * onehot + 0.75 * (1 - onehot)
    # mmcv's 'mean' divides the sum by the number of samples (rows)
    expected = (-alpha * (1 - pt)**2 * pt.clamp_min(1e-12).log()).sum() / 64
    torch.testing.assert_close(loss.detach().cpu(), expected, atol=1e-5,
                               rtol=1e-4)


def _data_options(root):
    """Point the demo detection config at the embedded COCO-format set."""
    ann = f'{root}annotations/instances_val2017.json'
    return [f'{split}_dataloader.dataset.data_root={root}'
            for split in ('train', 'val', 'test')] + [
                f'val_evaluator.ann_file={ann}',
                f'test_evaluator.ann_file={ann}'
            ]


def _train_amp(config, work, options):
    out = run_tool('train.py', config, '--amp', '--work-dir', work,
                   '--cfg-options', 'default_hooks.logger.interval=1',
                   *options, timeout=900)
    assert 'AmpOptimWrapper' in out and 'CPUAutocast' not in out, out[-3000:]
    assert re.search(r"'loss_scale': 'dynamic'|loss_scale='dynamic'", out), (
        'the optimizer wrapper does not scale the loss dynamically')
    losses = [float(v) for v in LOSS.findall(out)]
    assert losses, out[-3000:]
    assert all(0 < v < 1e3 for v in losses), losses  # finite, no nan / inf
    assert osp.isfile(open(osp.join(work, 'last_checkpoint')).read().strip())
    return out


def test_retinanet_amp_training_step(demo_coco, tmp_path):
    """Sigmoid focal loss (CUDA op) in training, NMS in evaluation."""
    out = _train_amp(
        osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py'),
        str(tmp_path / 'work'), [
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'train_dataloader.batch_size=2', 'model.test_cfg.score_thr=0.0',
            *_data_options(demo_coco)
        ])
    assert 'coco/bbox_mAP' in out


def test_mask_rcnn_amp_training_step(demo_coco, tmp_path):
    """RoIAlign (CUDA op) for boxes and masks, NMS in the RPN."""
    out = _train_amp(
        osp.join(CONFIGS, 'mask_rcnn_crossformerpp_s_coco_demo.py'),
        str(tmp_path / 'work'), [
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'train_dataloader.batch_size=2',
            'model.test_cfg.rcnn.score_thr=0.0', *_data_options(demo_coco)
        ])
    assert 'loss_mask' in out and 'coco/segm_mAP' in out


def test_upernet_amp_training_step(demo_ade20k, tmp_path):
    """UPerNet (SyncBN reverted to BN in a single process) on the GPU."""
    opts = [
        f'{split}_dataloader.dataset.data_root={demo_ade20k}'
        for split in ('train', 'val', 'test')
    ]
    out = _train_amp(
        osp.join(CONFIGS, 'upernet_crossformerpp_s_ade20k_demo.py'),
        str(tmp_path / 'work'), [
            'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
            'train_dataloader.batch_size=2', *opts
        ])
    assert 'mIoU' in out


def test_dist_train_one_gpu_nccl(demo_coco, tmp_path):
    """``tools/dist_train.sh CONFIG 1``: torchrun, nccl, DDP, --amp."""
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, PYTHON=sys.executable, PORT='29571',
               PYTHONUNBUFFERED='1')
    proc = subprocess.run(
        ['bash', osp.join(TOOLS, 'dist_train.sh'),
         osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py'), '1',
         '--amp', '--work-dir', work_dir, '--cfg-options',
         'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
         'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
         'model.test_cfg.score_thr=0.0', *_data_options(demo_coco)],
        cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:]
    assert 'Distributed training: True' in out, out[-3000:]
    assert re.search(r"'backend': 'nccl'", out), out[-3000:]
    # 8 images, 2 per step, 1 process: 4 steps
    assert re.search(r'Epoch\(train\)\s+\[1\]\[4/4\]', out), out[-3000:]
    assert 'coco/bbox_mAP' in out
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
