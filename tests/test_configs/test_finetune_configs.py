"""The fine-tuning configs of configs/finetune/ as shipped (docs/en/
finetune.md): the user's variables at the top, everything derived from
them, the released weights as the backbone's init_cfg, and the freezing and
layer-wise lr decay options the page gives."""
import importlib
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmcrossformer.testing import CONFIGS

CROSSFORMERPP_S = 'checkpoints/crossformerpp-s.pth'
CROSSVIT_15_DAGGER = ('https://github.com/IBM/CrossViT/releases/download/'
                      'weights-0.1/crossvit_15_dagger_224.pth')
CUSTOM = {
    'retinanet_crossformerpp_s_custom_coco.py': CROSSFORMERPP_S,
    'mask_rcnn_crossformerpp_s_custom_coco.py': CROSSFORMERPP_S,
    'crossformerpp_s_custom_folder.py': CROSSFORMERPP_S,
    'crossvit_15_dagger_custom_folder.py': CROSSVIT_15_DAGGER,
    'upernet_crossformerpp_s_custom_seg.py': CROSSFORMERPP_S,
}


def load(name):
    return Config.fromfile(osp.join(CONFIGS, 'finetune', name))


def build_model(cfg):
    init_default_scope(cfg.default_scope)
    import mmcrossformer  # noqa: F401
    models = importlib.import_module(f'{cfg.default_scope}.registry').MODELS
    return models.build(cfg.model)


def class_counts(cfg):
    """Every class count the config's model and data preprocessor set."""
    model = cfg.model
    if cfg.default_scope == 'mmdet':
        if 'roi_head' in model:
            return [model.roi_head.bbox_head.num_classes,
                    model.roi_head.mask_head.num_classes]
        return [model.bbox_head.num_classes]
    if cfg.default_scope == 'mmseg':
        return [model.decode_head.num_classes,
                model.auxiliary_head.num_classes]
    return [model.head.num_classes, cfg.data_preprocessor.num_classes]


@pytest.mark.parametrize('name', sorted(CUSTOM))
def test_user_variables_reach_every_place(name):
    cfg = load(name)
    n = len(cfg.classes)
    assert cfg.data_root.startswith('data/my_')
    assert class_counts(cfg) == [n] * len(class_counts(cfg))
    for loader in ('train', 'val', 'test'):
        dataset = cfg[f'{loader}_dataloader'].dataset
        assert dataset.data_root == cfg.data_root, loader
        assert tuple(dataset.metainfo.classes) == tuple(cfg.classes)
        if cfg.default_scope == 'mmseg':
            assert dataset.metainfo.palette == cfg.palette
            assert len(cfg.palette) == n
            assert dataset.reduce_zero_label == cfg.reduce_zero_label
    if cfg.default_scope == 'mmdet':
        assert cfg.val_evaluator.ann_file.startswith(cfg.data_root)
        assert cfg.test_evaluator.classwise
    if cfg.default_scope == 'mmpretrain':
        assert max(cfg.val_evaluator.topk) <= n
    # the released file as the backbone's initialisation, no prefix
    init = cfg.model.backbone.init_cfg
    assert init == dict(type='Pretrained', checkpoint=CUSTOM[name])


@pytest.mark.parametrize('name,options,stem_ratio,frozen', [
    ('retinanet_crossformerpp_s_custom_coco.py', {
        'optim_wrapper.constructor':
        'mmcrossformer.LayerDecayOptimWrapperConstructor',
        'optim_wrapper.paramwise_cfg.layer_decay_rate': 0.9
    }, 0.9**25, False),
    ('upernet_crossformerpp_s_custom_seg.py', {
        'optim_wrapper.constructor':
        'mmcrossformer.LayerDecayOptimWrapperConstructor',
        'optim_wrapper.paramwise_cfg.layer_decay_rate': 0.9
    }, 0.9**25, False),
    ('crossformerpp_s_custom_folder.py', {
        'optim_wrapper.constructor':
        'LearningRateDecayOptimWrapperConstructor',
        'optim_wrapper.paramwise_cfg.layer_decay_rate': 0.9
    }, 0.9**25, False),
    ('crossvit_15_dagger_custom_folder.py', {
        'model.backbone.frozen_stages': 1
    }, 1.0, True),
    ('mask_rcnn_crossformerpp_s_custom_coco.py', {
        'model.backbone.frozen_stages': 1
    }, 1.0, True),
])
def test_freezing_and_layer_decay_options(name, options, stem_ratio, frozen):
    """The --cfg-options of docs/en/finetune.md build: with layer-wise
    decay 0.9 the CrossFormer++-S stem (depth 0 of 26) trains at 0.9 ** 25
    of the head's lr; frozen_stages=1 leaves the stem and the first stage
    without gradients."""
    cfg = load(name)
    cfg.merge_from_dict(options)
    model = build_model(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base_lr = cfg.optim_wrapper.optimizer.lr
    lr_of = {id(p): g['lr'] for g in wrapper.optimizer.param_groups
             for p in g['params']}
    stem = (model.backbone.patch_embed if hasattr(model.backbone,
                                                  'patch_embed') else
            model.backbone.patch_embeds)
    stem_params = list(stem.parameters())
    if frozen:
        assert not any(p.requires_grad for p in stem_params)
        first = (model.backbone.stages[0] if hasattr(
            model.backbone, 'stages') else model.backbone.encoders[0])
        assert not any(p.requires_grad for p in first.parameters())
    else:
        ratios = {round(lr_of[id(p)] / base_lr, 6) for p in stem_params}
        assert ratios == {round(stem_ratio, 6)}
        head = [p for n, p in model.named_parameters()
                if not n.startswith('backbone.')]
        assert {lr_of[id(p)] for p in head} == {base_lr}
