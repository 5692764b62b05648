"""The CrossViT configs: recipes, and every config builds under its scope
and runs forward + loss at a small size."""
import importlib
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from mmcrossformer.testing import CONFIGS

CLS = {
    'tiny': ('tiny', (96, 192)), 'small': ('small', (192, 384)),
    'base': ('base', (384, 768)), '9': ('9', (128, 256)),
    '15': ('15', (192, 384)), '18': ('18', (224, 448)),
    '9_dagger': ('9-dagger', (128, 256)),
    '15_dagger': ('15-dagger', (192, 384)),
    '18_dagger': ('18-dagger', (224, 448))
}
DENSE = [
    f'{family}_crossvit_{v}_dagger_{data}.py'
    for family, data in [('retinanet', 'coco'), ('mask_rcnn', 'coco'),
                         ('fpn', 'ade20k'), ('upernet', 'ade20k')]
    for v in ('15', '18')
]
REGISTRIES = {
    'mmdet': 'mmdet.registry',
    'mmseg': 'mmseg.registry',
    'mmpretrain': 'mmpretrain.registry'
}


def load(name):
    return Config.fromfile(osp.join(CONFIGS, name))


def build(cfg):
    init_default_scope(cfg.default_scope)
    import mmcrossformer  # noqa: F401 (custom_imports does this in Runner)
    models = importlib.import_module(REGISTRIES[cfg.default_scope]).MODELS
    model_cfg = cfg.model
    if cfg.get('data_preprocessor') is not None:  # as mmengine's Runner
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = revert_sync_batchnorm(models.build(model_cfg))
    model.init_weights()
    return model.train()


def images(n, h, w):
    torch.manual_seed(0)
    return [torch.randint(0, 255, (3, h, w), dtype=torch.uint8)
            for _ in range(n)]


def loss_and_backward(model, data):
    losses = model(**data, mode='loss')
    total, log_vars = model.parse_losses(losses)
    assert torch.isfinite(total) and total > 0, log_vars
    total.backward()
    grad = model.backbone.encoders[0].fusions[0].attn.q.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    return log_vars


def test_in1k_recipe():
    cfg = load('crossvit_tiny_in1k.py')
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(
        imports=['mmcrossformer'], allow_failed_imports=False)
    # 300 epochs, 4096 images per batch (32 GPUs x 128), lr 0.004 for 4096
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.train_dataloader.batch_size * 32 == 4096
    assert cfg.auto_scale_lr.base_batch_size == 4096
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.lr == 0.004
    assert opt.weight_decay == 0.05
    pw = cfg.optim_wrapper.paramwise_cfg
    assert pw.norm_decay_mult == pw.bias_decay_mult == 0.0
    # the official run decays CLS tokens and position embeddings
    assert 'custom_keys' not in pw
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 30
    assert warmup.start_factor * opt.lr == pytest.approx(1e-6)
    assert cosine.type == 'CosineAnnealingLR' and cosine.begin == 30
    assert cosine.end == 300
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.head.loss == dict(
        type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')
    assert cfg.model.train_cfg.augments == [
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]
    steps = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandAugment'].magnitude_level == 9
    assert steps['RandAugment'].num_policies == 2
    assert steps['RandomErasing'].erase_prob == 0.25
    assert steps['RandomResizedCrop'].scale == 240
    test = {t.type: t for t in cfg.test_dataloader.dataset.pipeline}
    assert test['ResizeEdge'].scale == 274
    assert test['CenterCrop'].crop_size == 240
    assert cfg.model.backbone.img_size == 240
    assert cfg.model.backbone.branch_img_sizes == (240, 224)


@pytest.mark.parametrize('variant', ['15_dagger', '18_dagger'])
def test_in1k_384_recipe(variant):
    """The 384 models: the official geometry (IBM/CrossViT
    crossvit_*_dagger_384: img_size=[408, 384]), the official evaluation at
    --input-size 408 (short side int(408 * 256 / 224) = 466, center crop
    408, bicubic), a 30-epoch fine-tune of the 224 model (paper Sec. 4.1),
    everything else as the 224 config."""
    cfg = load(f'crossvit_{variant}_384_in1k.py')
    base = load(f'crossvit_{variant}_in1k.py')
    assert cfg.model.backbone.img_size == 408
    assert cfg.model.backbone.branch_img_sizes == (408, 384)
    assert cfg.model.backbone.arch == base.model.backbone.arch
    assert cfg.model.head == base.model.head
    steps = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandomResizedCrop'].scale == 408
    base_steps = {t.type: t for t in base.train_dataloader.dataset.pipeline}
    assert set(steps) == set(base_steps)
    assert steps['RandAugment'] == base_steps['RandAugment']
    test = {t.type: t for t in cfg.test_dataloader.dataset.pipeline}
    assert test['ResizeEdge'].scale == int(408 * 256 / 224) == 466
    assert test['ResizeEdge'].interpolation == 'bicubic'
    assert test['CenterCrop'].crop_size == 408
    assert cfg.val_dataloader.dataset.pipeline == \
        cfg.test_dataloader.dataset.pipeline
    assert cfg.train_cfg.max_epochs == 30
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == cosine.begin == 5 and cosine.end == 30
    assert cosine.eta_min == 1e-5
    assert cfg.optim_wrapper == base.optim_wrapper
    assert cfg.train_dataloader.sampler == base.train_dataloader.sampler
    assert cfg.load_from is None


@pytest.mark.parametrize('variant', list(CLS))
def test_in1k_config(variant):
    arch, dims = CLS[variant]
    cfg = load(f'crossvit_{variant}_in1k.py')
    assert cfg.model.backbone.type == 'mmcrossformer.CrossViT'
    assert cfg.model.backbone.arch == arch
    assert cfg.model.head.type == 'mmcrossformer.CrossViTClsHead'
    sampler = cfg.train_dataloader.sampler.type
    # repeated augmentation for CrossViT-18 only
    assert sampler == ('RepeatAugSampler'
                       if variant.startswith('18') else 'DefaultSampler')
    model = build(cfg)
    assert model.backbone.embed_dims == dims == tuple(model.head.in_channels)
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(i) for i in (3, 805)]
    data = model.data_preprocessor(
        dict(inputs=images(2, 48, 64), data_samples=samples), training=True)
    assert 'gt_score' in data['data_samples'][0]  # mixup / cutmix applied
    loss_and_backward(model, data)
    model.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(
            dict(inputs=images(1, 48, 64)), False), mode='predict')
    assert preds[0].pred_score.shape == (1000, )


def test_dense_recipes():
    retina = load('retinanet_crossvit_15_dagger_coco.py')
    assert retina.default_scope == 'mmdet'
    assert retina.pretrained is None
    assert retina.model.data_preprocessor.type == \
        'mmcrossformer.ValidSizeDetDataPreprocessor'
    assert retina.model.data_preprocessor.pad_size_divisor == 32
    bb = retina.model.backbone
    assert bb.out_type == 'featmap' and bb.arch == '15-dagger'
    # stride 8 (small branch at 1.5x) and 16; position table over 1344 px
    assert bb.dense_strides == (8, 16) and bb.dense_pos_size == 1344
    assert bb.init_cfg == dict(
        type='Pretrained', checkpoint=None, prefix='backbone.')
    pyramid = retina.model.neck
    assert pyramid.type == 'mmcrossformer.CrossViTPyramid'
    assert pyramid.in_channels == (192, 384)
    # RetinaNet reads P3-P7 from the pyramid: no stride-4 level, no FPN
    assert pyramid.out_strides == (8, 16, 32, 64, 128)
    assert retina.model.bbox_head.anchor_generator.strides == [
        8, 16, 32, 64, 128]
    assert retina.train_cfg.max_epochs == 12
    assert retina.param_scheduler[1].milestones == [8, 11]
    assert retina.optim_wrapper.optimizer.lr == 1e-4
    assert retina.train_dataloader.batch_size * 8 == 16
    mask = load('mask_rcnn_crossvit_18_dagger_coco.py')
    assert mask.model.backbone.arch == '18-dagger'
    assert mask.model.backbone.dense_strides == (8, 16)
    assert mask.model.neck.in_channels == (224, 448)
    assert mask.model.neck.out_strides == (4, 8, 16, 32, 64)
    assert mask.model.rpn_head.anchor_generator.strides == [4, 8, 16, 32, 64]
    assert mask.model.data_preprocessor.type == \
        'mmcrossformer.ValidSizeDetDataPreprocessor'
    assert mask.model.backbone.init_cfg.prefix == 'backbone.'
    assert mask.optim_wrapper.optimizer.weight_decay == 1e-4
    fpn_seg = load('fpn_crossvit_18_dagger_ade20k.py')
    assert fpn_seg.default_scope == 'mmseg'
    assert fpn_seg.train_cfg.max_iters == 80000
    assert fpn_seg.model.neck[0].in_channels == (224, 448)
    assert fpn_seg.model.neck[1].num_outs == 4
    assert fpn_seg.model.data_preprocessor.type == \
        'mmcrossformer.ValidSizeSegDataPreprocessor'
    uper = load('upernet_crossvit_18_dagger_ade20k.py')
    assert uper.train_cfg.max_iters == 160000
    assert uper.model.backbone.dense_pos_size == 512  # the crop
    assert uper.model.neck.in_channels == (224, 448)
    assert uper.model.neck.out_strides == (4, 8, 16, 32)
    assert uper.model.decode_head.in_channels == [256] * 4
    assert uper.model.auxiliary_head.in_channels == 256
    assert uper.model.pretrained is None


@pytest.mark.parametrize('name', DENSE)
def test_dense_config(name):
    cfg = load(name)
    model = build(cfg)
    assert type(model.backbone).__name__ == 'CrossViT'
    neck = model.neck[0] if isinstance(model.neck,
                                       torch.nn.Sequential) else model.neck
    assert type(neck).__name__ == 'CrossViTPyramid'
    assert tuple(neck.in_channels) == model.backbone.embed_dims
    assert model.backbone.dense_strides == (8, 16)
    h, w = 64, 96
    if cfg.default_scope == 'mmdet':
        from mmdet.structures import DetDataSample
        from mmdet.structures.mask import BitmapMasks
        from mmengine.structures import InstanceData
        samples = []
        for _ in range(2):
            s = DetDataSample(metainfo=dict(
                img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                scale_factor=(1., 1.), batch_input_shape=(h, w)))
            s.gt_instances = InstanceData(
                bboxes=torch.tensor([[8., 10., 60., 50.]]),
                labels=torch.tensor([2]))
            mask = torch.zeros(1, h, w, dtype=torch.uint8)
            mask[:, 10:50, 8:60] = 1
            s.gt_instances.masks = BitmapMasks(mask.numpy(), h, w)
            samples.append(s)
    else:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = []
        for _ in range(2):
            s = SegDataSample(metainfo=dict(
                img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
            s.gt_sem_seg = PixelData(
                data=torch.randint(0, 150, (1, h, w), dtype=torch.long))
            samples.append(s)
        model.data_preprocessor.size = (h, w)
    data = model.data_preprocessor(
        dict(inputs=images(2, h, w), data_samples=samples), training=True)
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
    expected = {'retinanet': [8, 16, 32, 64, 128],
                'mask_rcnn': [4, 8, 16, 32, 64],
                'fpn': [4, 8, 16, 32], 'upernet': [4, 8, 16, 32]}
    family = next(k for k in expected if name.startswith(k))
    assert [tuple(f.shape[2:]) for f in feats] == [
        (math.ceil(h / s), math.ceil(w / s)) for s in expected[family]
    ]
    loss_and_backward(model, data)


def det_samples(shapes):
    from mmdet.structures import DetDataSample
    return [DetDataSample(metainfo=dict(img_shape=s, ori_shape=s,
                                        scale_factor=(1., 1.)))
            for s in shapes]


def seg_samples(shapes):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    out = []
    for s in shapes:
        sample = SegDataSample(metainfo=dict(img_shape=s, ori_shape=s))
        sample.gt_sem_seg = PixelData(data=torch.zeros(1, *s,
                                                       dtype=torch.long))
        out.append(sample)
    return out


@pytest.mark.parametrize('size', [(96, 128), (104, 136)])
@pytest.mark.parametrize('name', ['retinanet_crossvit_15_dagger_coco.py',
                                  'upernet_crossvit_15_dagger_ade20k.py'])
def test_features_do_not_depend_on_batch_padding(name, size):
    """Through the config's data preprocessor and ``extract_feat``: image A
    alone and A batched with a larger image B (A zero-padded to B's size)
    give the same pyramid over A's own region (max |diff| <= 1e-4, fp32).
    A is 96 x 128 (even stride-8 grid) or 104 x 136 (odd 13 x 17 grid: its
    last stride-16 token also covers padding, which the pyramid's exchange
    must leave at zero). A copy of the batch tensor (which loses the
    recorded sizes, so attention sees the padding) differs: the test can
    fail."""
    cfg = load(name)
    model = build(cfg).eval()
    ha, wa = size
    a, b = images(1, ha, wa)[0], images(2, 160, 192)[1]
    pre = model.data_preprocessor
    if cfg.default_scope == 'mmdet':
        alone = pre(dict(inputs=[a], data_samples=det_samples([size])))
        pair = pre(dict(inputs=[a, b],
                        data_samples=det_samples([size, (160, 192)])))
        canvas = (math.ceil(ha / 32) * 32, math.ceil(wa / 32) * 32)
    else:  # mmseg pads while training (to the crop size), never in tests
        alone = pre(dict(inputs=[a], data_samples=seg_samples([size])))
        pre.size = (160, 192)
        pair = pre(dict(inputs=[a, b],
                        data_samples=seg_samples([size, (160, 192)])),
                   training=True)
        canvas = size
    assert tuple(alone['inputs'].shape[2:]) == canvas
    assert tuple(pair['inputs'].shape[2:]) == (160, 192)
    with torch.no_grad():
        feats_alone = model.extract_feat(alone['inputs'])
        feats_pair = model.extract_feat(pair['inputs'])
        feats_leaky = model.extract_feat(pair['inputs'].clone())
    leaks = []
    strides = model.neck.out_strides  # the pyramid is extract_feat's neck
    assert len(feats_alone) == len(strides)
    for fa, fp, fl, stride in zip(feats_alone, feats_pair, feats_leaky,
                                  strides):
        assert tuple(fa.shape[2:]) == tuple(
            math.ceil(c / stride) for c in canvas)
        h, w = math.ceil(ha / stride), math.ceil(wa / stride)
        diff = (fa[0, :, :h, :w] - fp[0, :, :h, :w]).abs().max().item()
        assert diff <= 1e-4, (stride, diff)
        leaks.append((fa[0, :, :h, :w] - fl[0, :, :h, :w]).abs().max().item())
    assert max(leaks) > 1e-3, leaks
