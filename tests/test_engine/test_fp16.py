"""The fp16 training path of CUDA AMP, run on a CPU.

Each model takes one training step under ``torch.autocast('cpu',
torch.float16)`` through :class:`CPUAutocastOptimWrapper` with its dynamic
``torch.amp.GradScaler('cpu')`` (steps with an inf / NaN gradient are
skipped and halve the scale, as on CUDA), from the same weights and batch
as an fp32 step. Checked: the forward really ran in float16, a finite loss,
finite unscaled gradients and, against fp32:

* backbones (a fixed MSE "head" in fp32 on their outputs, real photographs
  from scikit-image): loss within 1e-3 relative, outputs within 1e-2
  relative L2, every parameter group's gradient (the stem, each stage /
  encoder, tokens, position embeddings) within ``BACKBONE_GRAD_RTOL``
  relative L2 and the cosine of all gradients at least 0.9999;
* dense configs (the config's model, heads and losses, 64 x 64 photographs,
  a batch of two): loss within 1e-2 relative, the gradient of each
  top-level module (backbone, neck, each head) within ``DENSE_GRAD_RTOL``
  relative L2 and the cosine of all gradients at least 0.99. Looser than
  for the backbones: the heads' overflowing fp16 weight gradients cap the
  loss scale and the small per-pixel gradients of a tiny batch then lose
  precision (docs/en/mixed_precision.md has the numbers); a scaler that
  unscales by a wrong power of two is still off by 0.5 or more.

Groups are compared, not single tensors: a few parameters have an exact
gradient of zero (the last DPB bias and the key bias shift every logit of
a softmax row alike), and their fp32 values are rounding noise.
"""
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmcrossformer.engine import CPUAutocastOptimWrapper
from mmcrossformer.testing import CONFIGS, run_tool
from mmcrossformer.utils import setup_amp

BACKBONE_GRAD_RTOL = 2e-2
DENSE_GRAD_RTOL = 0.25
MEAN = torch.tensor([123.675, 116.28, 103.53])[:, None, None]
STD = torch.tensor([58.395, 57.12, 57.375])[:, None, None]


def photo(height, width, name='astronaut'):
    """A scikit-image photograph resized to (3, height, width), uint8."""
    from skimage import data
    img = torch.from_numpy(getattr(data, name)()).permute(2, 0, 1)[None]
    img = F.interpolate(img.float(), size=(height, width), mode='bilinear',
                        align_corners=False)
    return img[0].round().clamp(0, 255).to(torch.uint8)


def photos(height, width):
    """Two normalised photographs, (2, 3, height, width) float32."""
    return torch.stack([(photo(height, width, n).float() - MEAN) / STD
                        for n in ('astronaut', 'chelsea')])


def group_of(name):
    """Parameter group: the name up to its first index (at most 3 parts),
    e.g. ``backbone.stages.2``, ``neck.lateral_convs``, ``cls_tokens.0``."""
    parts = name.split('.')
    for i, p in enumerate(parts[:3]):
        if p.isdigit():
            return '.'.join(parts[:i + 1])
    return '.'.join(parts[:min(3, len(parts) - 1)] or parts)


def compare_grads(g32, g16, rtol, min_cos, key=group_of):
    """Relative L2 error per group (``key(name)``), the cosine of all
    gradients; asserts both and returns them."""
    assert g16.keys() == g32.keys()
    assert all(torch.isfinite(g).all() for g in g16.values())
    groups = {}
    for n in g32:
        groups.setdefault(key(n), []).append(n)
    errors = {}
    for k, names in groups.items():
        ref = torch.cat([g32[n].flatten() for n in names]).double()
        if ref.norm() == 0:  # e.g. a head without a target in this batch
            continue
        out = torch.cat([g16[n].flatten() for n in names]).double()
        errors[k] = ((out - ref).norm() / ref.norm()).item()
    ref = torch.cat([g.flatten() for g in g32.values()]).double()
    out = torch.cat([g16[n].flatten() for n in g32]).double()
    cos = F.cosine_similarity(ref, out, 0).item()
    bad = {k: v for k, v in errors.items() if not v <= rtol}
    assert not bad and cos >= min_cos, (bad, cos)
    return errors, cos


def low_precision_dtypes(model):
    """A list that collects the output dtype of every Linear / Conv2d of
    ``model`` (filled by forward hooks)."""
    dtypes = []
    for m in model.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            m.register_forward_hook(
                lambda m, a, out: dtypes.append(out.dtype))
    return dtypes


def fp16_step(model, loss_fn, max_tries=8):
    """One fp16 training step with the dynamic loss scaler: retried while a
    gradient overflows (the scaler skips the step and halves the scale).

    Returns:
        tuple: (loss, unscaled grads, outputs, skipped steps, final scale).
    """
    wrapper = CPUAutocastOptimWrapper(
        dtype='float16',
        optimizer=torch.optim.SGD(model.parameters(), lr=1e-4))
    assert wrapper.loss_scaler is not None
    for skipped in range(max_tries):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        with wrapper.optim_context(model):
            loss, outs = loss_fn()
        wrapper.backward(loss)
        scaler = wrapper.loss_scaler
        scaler.unscale_(wrapper.optimizer)
        scale = scaler.get_scale()
        grads = {n: p.grad.detach().clone()
                 for n, p in model.named_parameters() if p.grad is not None}
        before = [p.detach().clone() for p in model.parameters()]
        wrapper.step()
        changed = any(not torch.equal(b, p)
                      for b, p in zip(before, model.parameters()))
        if scaler.get_scale() >= scale:  # not skipped
            assert changed, 'the scaler stepped but no weight changed'
            return loss.detach(), grads, outs, skipped, scale
        assert not changed, 'a skipped step changed the weights'
    raise AssertionError(f'every step overflowed down to scale {scale}')


def fp32_step(model, loss_fn):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    loss, outs = loss_fn()
    loss.backward()
    return loss.detach(), {
        n: p.grad.detach().clone()
        for n, p in model.named_parameters() if p.grad is not None
    }, outs


def flat_outputs(outs):
    return [t for o in outs for t in (o if isinstance(o, tuple) else (o, ))]


def check_backbone(model, x, forward=None):
    """fp16 step vs fp32 step of a backbone on ``x`` (module docstring)."""
    forward = forward or model
    torch.manual_seed(1)
    with torch.no_grad():
        targets = [torch.randn(o.shape) for o in flat_outputs(forward(x))]

    def loss_fn():
        outs = flat_outputs(forward(x))
        loss = sum(F.mse_loss(o.float(), t) for o, t in zip(outs, targets))
        return loss, outs

    model.train()
    loss32, g32, outs32 = fp32_step(model, loss_fn)
    dtypes = low_precision_dtypes(model)
    loss16, g16, outs16, skipped, scale = fp16_step(model, loss_fn)
    assert dtypes and set(dtypes) == {torch.float16}
    assert torch.isfinite(loss16)
    assert abs(loss16 - loss32) <= 1e-3 * loss32
    for a, b in zip(outs32, outs16):
        a, b = a.detach(), b.detach().float()
        assert ((a - b).norm() / a.norm()) <= 1e-2
    errors, cos = compare_grads(g32, g16, BACKBONE_GRAD_RTOL, 0.9999)
    return errors, cos, skipped, scale


def crossformer(arch, **kwargs):
    from mmcrossformer.models import CrossFormer
    torch.manual_seed(0)
    model = CrossFormer(arch=arch, drop_path_rate=0., **kwargs)
    model.init_weights()
    return model


CROSSFORMER_SLOW = {'s', 'b', 'l', 'pp-b', 'pp-l', 'pp-h'}


@pytest.mark.parametrize('arch', [
    pytest.param(a, marks=pytest.mark.slow) if a in CROSSFORMER_SLOW else a
    for a in ('t', 's', 'b', 'l', 'pp-s', 'pp-b', 'pp-l', 'pp-h')
])
def test_crossformer_fp16_step(arch):
    # 32 x 64: stage maps 8x16 .. 1x2, so SDA / LDA pad and mask keys
    # (v1: G = 7, I = 8-4-2-1; ++: G = 4-4-14-7 with ACL) and the last
    # stages take the whole-map group
    check_backbone(crossformer(arch), photos(32, 64))


def test_crossformer_fp16_sdpa_path_matches():
    """Without autograd (evaluation) L/SDA takes the SDPA kernel with the
    fp16 DPB + padding mask; the explicit path is what training runs."""
    model = crossformer('pp-s', group_size=[7] * 4,
                        interval=[8, 4, 2, 1]).eval()
    x = photos(32, 64)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast('cpu', dtype=torch.float16):
            out = model(x)
    for a, b in zip(ref, out):
        assert b.dtype == torch.float16 and torch.isfinite(b).all()
        assert ((a - b.float()).norm() / a.norm()) <= 1e-2


def crossvit(arch, **kwargs):
    from mmcrossformer.models import CrossViT
    torch.manual_seed(0)
    model = CrossViT(arch=arch, drop_path_rate=0., **kwargs)
    model.init_weights()
    return model


CROSSVIT_FAST = {'9'}


@pytest.mark.parametrize('arch', [
    a if a in CROSSVIT_FAST else pytest.param(a, marks=pytest.mark.slow)
    for a in ('ti', 's', 'b', '9', '9-dagger', '15', '15-dagger', '18',
              '18-dagger')
])
def test_crossvit_fp16_step(arch):
    # classification; branches at 60 / 48 px (patches 12 / 16: 5x5 and 3x3
    # tokens), so the small branch's bicubic resize runs too
    model = crossvit(arch, img_size=48, branch_img_sizes=(60, 48))
    check_backbone(model, photos(48, 48))


def test_crossvit_dense_fp16_step_with_padding_masks():
    model = crossvit('9', out_type='featmap', dense_strides=(8, 16),
                     dense_pos_size=256)
    x = photos(48, 64)
    # the second image's valid part is smaller: its padded tokens are
    # masked out of every attention (bool masks in SDPA) and zeroed
    errors, _, _, _ = check_backbone(
        model, x, lambda x: model(x, valid_sizes=[(48, 64), (32, 40)]))
    assert 'encoders.2' in errors


# --- dense configs ----------------------------------------------------------

DENSE = sorted(
    osp.basename(p) for pattern in ('*coco*.py', '*ade20k*.py')
    for p in glob.glob(osp.join(CONFIGS, pattern)))
#: the default suite: one-stage, two-stage (RPN, RoIAlign and nms in fp32,
#: mask head) and both segmentation heads, v1 and ++ backbones; the cascade
#: (the same RoI ops, three times) and the CrossViT configs (their backbone
#: mode is tested above) are slow
DENSE_FAST = {
    'retinanet_crossformerpp_s_coco.py', 'mask_rcnn_crossformer_s_coco.py',
    'fpn_crossformer_s_ade20k.py', 'upernet_crossformerpp_s_ade20k.py'
}


def build_config_model(name):
    import importlib

    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope

    import mmcrossformer  # noqa: F401 (custom_imports does this in Runner)
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    init_default_scope(cfg.default_scope)
    models = importlib.import_module(cfg.default_scope + '.registry').MODELS
    model_cfg = cfg.model
    if cfg.get('data_preprocessor') is not None:  # as mmengine's Runner
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model_cfg.backbone.drop_path_rate = 0.
    if 'rpn_head' in model_cfg:
        # few proposals and sampled RoIs: a cascade runs three box and mask
        # heads on each, and fp16 convolutions are slow on a CPU
        model_cfg.train_cfg.rpn_proposal.update(nms_pre=32, max_per_img=32)
        model_cfg.test_cfg.rpn.update(nms_pre=32, max_per_img=32)
        rcnn = model_cfg.train_cfg.rcnn
        for stage in rcnn if isinstance(rcnn, list) else [rcnn]:
            stage.sampler.num = 32
    torch.manual_seed(0)
    model = revert_sync_batchnorm(models.build(model_cfg))
    model.init_weights()
    return cfg, model


def det_batch(model, with_mask, h=64, w=64):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    boxes = torch.tensor([[6., 4., 40., 60.], [30., 20., 62., 56.]])
    samples = []
    for _ in range(2):
        s = DetDataSample(metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
            scale_factor=(1., 1.), batch_input_shape=(h, w)))
        gt = InstanceData(bboxes=boxes, labels=torch.tensor([0, 3]))
        if with_mask:
            masks = np.zeros((2, h, w), np.uint8)
            for i, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
                masks[i, y1:y2, x1:x2] = 1
            gt.masks = BitmapMasks(masks, h, w)
        s.gt_instances = gt
        samples.append(s)
    return model.data_preprocessor(
        dict(inputs=[photo(h, w), photo(h, w, 'chelsea')],
             data_samples=samples), training=True)


def seg_batch(model, h=64, w=64):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    label = torch.zeros(1, h, w, dtype=torch.long)
    label[:, h // 4:3 * h // 4, w // 4:3 * w // 4] = 12
    label[:, :, :w // 8] = 2
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                        pad_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    model.data_preprocessor.size = (h, w)
    return model.data_preprocessor(
        dict(inputs=[photo(h, w), photo(h, w, 'chelsea')],
             data_samples=samples), training=True)


def check_dense_config(name):
    cfg, model = build_config_model(name)
    if cfg.default_scope == 'mmdet':
        data = det_batch(model, with_mask='mask_rcnn' in name)
    else:
        data = seg_batch(model)
    def loss_fn():
        losses = model(**data, mode='loss')
        return model.parse_losses(losses)[0], None

    model.train()
    loss32, g32, _ = fp32_step(model, loss_fn)
    dtypes = low_precision_dtypes(model.backbone)
    loss16, g16, _, skipped, scale = fp16_step(model, loss_fn)
    assert dtypes and set(dtypes) == {torch.float16}
    assert torch.isfinite(loss16) and abs(loss16 - loss32) <= 1e-2 * loss32
    # one group per top-level module: backbone, neck, each head
    return compare_grads(g32, g16, DENSE_GRAD_RTOL, 0.99,
                         key=lambda n: n.split('.')[0]), skipped, scale


@pytest.mark.parametrize('name', [
    n if n in DENSE_FAST else pytest.param(n, marks=pytest.mark.slow)
    for n in DENSE
])
def test_dense_config_fp16_step(name):
    check_dense_config(name)


# --- the wrapper, the mmcv ops, setup_amp -----------------------------------


def test_fp16_wrapper_skips_overflowing_steps_and_saves_its_scale():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    wrapper = CPUAutocastOptimWrapper(
        dtype='float16', loss_scale=dict(init_scale=2.**20,
                                         growth_interval=1),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    x = torch.randn(1, 4) * 0.1  # one row: the bias gradient is scale / 16

    def step(factor):
        with wrapper.optim_context(model):
            out = model(x)
        assert out.dtype == torch.float16
        before = model.weight.detach().clone()
        # the fp16 gradient of ``out`` is scale * factor / 16
        wrapper.update_params((out.float() * factor).sum() / 16)
        return not torch.equal(before, model.weight)

    # 2**20 * 1 / 16 = 65536 > fp16's 65504: inf, skipped, scale halved
    assert not step(1.)
    assert wrapper.loss_scaler.get_scale() == 2.**19
    assert step(1.)  # 32768: fits, steps, and grows back (interval 1)
    assert wrapper.loss_scaler.get_scale() == 2.**20
    state = wrapper.state_dict()
    assert state['loss_scaler']['scale'] == 2.**20
    other = CPUAutocastOptimWrapper(
        dtype='float16',
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    other.load_state_dict(state)
    assert other.loss_scaler.get_scale() == 2.**20
    # bf16 keeps no scaler and ignores a saved one
    bf16 = CPUAutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert bf16.loss_scaler is None and 'loss_scaler' not in bf16.state_dict()
    bf16.load_state_dict(wrapper.state_dict())
    with pytest.raises(ValueError, match="'fast'"):
        CPUAutocastOptimWrapper(
            dtype='float16', loss_scale='fast',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def test_fp16_small_gradients_survive_through_the_scaler():
    """Gradients below fp16's smallest subnormal (6e-8) flush to zero in an
    fp16 backward; the loss scale lifts them into range. (Before this
    wrapper scaled, fp16 on a CPU gave zero gradients here.)"""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    x = torch.randn(3, 4)

    def grads(wrapper):
        model.zero_grad(set_to_none=True)
        with wrapper.optim_context(model):
            out = model(x)
        wrapper.backward(out.float().sum() * 1e-8)
        return model.weight.grad / (wrapper.loss_scaler.get_scale()
                                    if wrapper.loss_scaler else 1.)

    ref = x.sum(0).expand(2, 4) * 1e-8
    fp16 = CPUAutocastOptimWrapper(
        dtype='float16', optimizer=torch.optim.SGD(model.parameters(), 0.1))
    assert fp16.loss_scaler.get_scale() == 2.**16
    assert torch.allclose(grads(fp16), ref, rtol=1e-2, atol=0)
    unscaled = CPUAutocastOptimWrapper(
        dtype='float16', loss_scale=None,
        optimizer=torch.optim.SGD(model.parameters(), 0.1))
    assert not grads(unscaled).any()  # what fp16 without a scaler does


def test_fp16_wrapper_static_scale_stays():
    model = torch.nn.Linear(4, 2)
    wrapper = CPUAutocastOptimWrapper(
        dtype=torch.float16, loss_scale=512.,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    for _ in range(3):
        with wrapper.optim_context(model):
            loss = model(torch.randn(2, 4)).float().sum()
        wrapper.update_params(loss)
    assert wrapper.loss_scaler.get_scale() == 512.


# fp32_mmcv_ops with float16 inputs: test_cpu_autocast_bf16.py tests it
# for both low-precision dtypes


def test_setup_amp_float16_on_cpu():
    from mmengine.config import Config
    cfg = Config(dict(optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))))
    setup_amp(cfg, 'float16')
    assert cfg.optim_wrapper.type == 'mmcrossformer.CPUAutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'float16'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    # a config's own AMP settings: its loss_scale is kept for fp16 ...
    cfg = Config(dict(optim_wrapper=dict(
        type='AmpOptimWrapper', loss_scale=512.,
        optimizer=dict(type='SGD', lr=0.1))))
    setup_amp(cfg, 'float16')
    assert cfg.optim_wrapper.loss_scale == 512.
    # ... and dropped for bf16, the default (today's --amp)
    setup_amp(cfg)
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert 'loss_scale' not in cfg.optim_wrapper
    with pytest.raises(ValueError, match="'half'"):
        setup_amp(cfg, 'half')


# --- end to end through tools/train.py --------------------------------------


@pytest.mark.slow  # minutes on 2 cores; the scaler is tested above
def test_train_tool_fp16_on_cpu(demo_coco, tmp_path):
    work_dir = tmp_path / 'work'
    config = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')
    data = [f'{k}.data_root={demo_coco}' for k in
            ('train_dataloader.dataset', 'val_dataloader.dataset',
             'test_dataloader.dataset')]
    out = run_tool(
        'train.py', config,
        '--amp-dtype', 'float16', '--work-dir', str(work_dir),
        '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=2',
        'train_dataloader.batch_size=4', 'default_hooks.logger.interval=1',
        # the first step overflows at 2**30 and is skipped: the scale
        # halves; the next one grows it back (interval 1) or halves it
        'optim_wrapper.loss_scale.init_scale=1073741824.0',
        'optim_wrapper.loss_scale.growth_interval=1',
        *data, 'train_dataloader.dataset.pipeline.2.scale=(160,128)',
        'val_evaluator.ann_file=' + demo_coco +
        'annotations/instances_val2017.json')
    assert 'CPUAutocastOptimWrapper' in out and "dtype='float16'" in out
    scales = [float(x) for x in re.findall(r'grad_scale: ([0-9.e+]+)', out)]
    losses = [float(x) for x in re.findall(r' loss: ([0-9.]+)', out)]
    assert len(scales) == len(losses) == 2, out[-3000:]  # 8 images
    assert all(0 < v < 100 for v in losses), losses
    assert scales[0] == 2.**29, scales  # the skipped first step
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu',
                      weights_only=False)
    saved = ckpt['optimizer']['loss_scaler']['scale']
    assert saved == scales[-1], (saved, scales)
