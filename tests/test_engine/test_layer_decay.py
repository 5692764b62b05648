"""Layer-wise learning-rate decay: CrossFormer.get_layer_depth, the CrossViT
depth rule and mmcrossformer.LayerDecayOptimWrapperConstructor, built
through mmengine's real optimizer-wrapper builder from the configs.

The expected depths are computed here from the built modules (object
identity, in the order the blocks run), not by parsing parameter names as
the implementation does, and the expected learning rates from the decay rule
``lr * rate ** (num_layers - 1 - depth)``.
"""
import os.path as osp

import pytest
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmcrossformer.testing import CONFIGS

FINETUNE = osp.join(CONFIGS, 'finetune',
                    'crossformerpp_s_in1k_finetune_llrd.py')
LAYER_DECAY = 'mmcrossformer.LayerDecayOptimWrapperConstructor'


def build(config, **model_overrides):
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    import importlib

    import mmcrossformer  # noqa: F401
    models = importlib.import_module(f'{cfg.default_scope}.registry').MODELS
    cfg.model.backbone.update(model_overrides)
    return cfg, models.build(cfg.model)


def crossformer_depths(model):
    """{id(param): depth} for the backbone, by walking its modules."""
    backbone = model.backbone
    depths = {id(p): 0 for p in backbone.patch_embed.parameters()}
    depth = 0
    for stage in backbone.stages:
        if stage.downsample is not None:  # merging: the previous block's
            depths.update({id(p): depth for p in
                           stage.downsample.parameters()})
        for block in stage.blocks:
            depth += 1
            depths.update({id(p): depth for p in block.parameters()})
    return depths, depth + 2


def crossvit_depths(model):
    backbone = model.backbone
    depths = {}
    for p in [*backbone.patch_embeds.parameters(), *backbone.cls_tokens,
              *backbone.pos_embeds]:
        depths[id(p)] = 0
    span = max(len(layers) for layers in backbone.encoders[0].branches)
    for k, encoder in enumerate(backbone.encoders):
        for layers in encoder.branches:
            for pos, layer in enumerate(layers):
                depths.update({id(p): k * span + pos + 1
                               for p in layer.parameters()})
        if encoder.fusions is not None:  # with the encoder's last layers
            depths.update({id(p): (k + 1) * span
                           for p in encoder.fusions.parameters()})
    return depths, len(backbone.encoders) * span + 2


def check_lrs(model, wrapper, expected_depths, num_layers, base_lr, rate,
              first_depth=0):
    """Every trainable parameter is in one group whose lr follows the decay
    rule, and depths ``first_depth .. num_layers - 1`` all occur; returns
    {depth: lr}."""
    groups = {id(p): g for g in wrapper.optimizer.param_groups
              for p in g['params']}
    lr_of_depth = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            assert id(param) not in groups, name
            continue
        depth = expected_depths.get(id(param), num_layers - 1)
        want = base_lr * rate**(num_layers - 1 - depth)
        got = groups[id(param)]['lr']
        assert got == pytest.approx(want, rel=1e-9), (name, depth, got, want)
        lr_of_depth[depth] = got
    assert sorted(lr_of_depth) == list(range(first_depth, num_layers))
    lrs = [lr_of_depth[d] for d in sorted(lr_of_depth)]
    assert lrs == sorted(lrs) and lrs[-1] == pytest.approx(base_lr)
    return lr_of_depth


def test_classifier_config_with_mmpretrain_constructor():
    """The fine-tuning config: mmpretrain's own constructor on CrossFormer."""
    cfg, model = build(FINETUNE)
    assert cfg.optim_wrapper.constructor == \
        'LearningRateDecayOptimWrapperConstructor'
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    depths, num_layers = crossformer_depths(model)
    assert num_layers == 2 + 2 + 18 + 2 + 2
    lrs = check_lrs(model, wrapper, depths, num_layers, 2.5e-3, 0.9)
    assert lrs[0] == pytest.approx(2.5e-3 * 0.9**25)
    # weight decay: the base recipe's rules survive (norms, biases: none)
    groups = {g['param_name']: g for g in wrapper.optimizer.param_groups}
    assert groups['backbone.stages.2.blocks.3.attn.qkv.weight'][
        'weight_decay'] == 0.05
    assert groups['backbone.stages.2.blocks.3.norm1.weight'][
        'weight_decay'] == 0.
    assert groups['backbone.stages.2.blocks.3.attn.qkv.bias'][
        'weight_decay'] == 0.


def test_detector_config_needs_and_gets_the_backbone_rule():
    cfg, model = build(
        osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco.py'))
    optim = dict(
        optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        constructor='LearningRateDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.8))
    # mmpretrain's constructor asks the detector itself, which cannot answer
    init_default_scope('mmpretrain')
    with pytest.raises(NotImplementedError, match='get_layer_depth'):
        build_optim_wrapper(model, ConfigDict(optim))
    init_default_scope('mmdet')
    optim['constructor'] = LAYER_DECAY
    wrapper = build_optim_wrapper(model, ConfigDict(optim))
    depths, num_layers = crossformer_depths(model)
    check_lrs(model, wrapper, depths, num_layers, 1e-4, 0.8)
    # neck and head at the base lr
    groups = {g['param_name']: g for g in wrapper.optimizer.param_groups}
    assert groups['neck.fpn_convs.0.conv.weight']['lr'] == 1e-4
    assert groups['bbox_head.retina_cls.weight']['lr'] == 1e-4


def test_frozen_stages_are_left_out():
    cfg, model = build(FINETUNE, frozen_stages=1)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {g['param_name'] for g in wrapper.optimizer.param_groups}
    assert not any(n.startswith('backbone.stages.0.') for n in names)
    depths, num_layers = crossformer_depths(model)
    # stem (0) and stage 1's two blocks frozen; stage 2's merging layer
    # (depth 2, the frozen block before it) trains
    check_lrs(model, wrapper, depths, num_layers, 2.5e-3, 0.9,
              first_depth=2)


def test_crossvit_classifier_through_the_function_rule():
    cfg, model = build(osp.join(CONFIGS, 'crossvit_15_dagger_in1k.py'))
    optim = dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        constructor=LAYER_DECAY,
        paramwise_cfg=dict(layer_decay_rate=0.75))
    wrapper = build_optim_wrapper(model, ConfigDict(optim))
    depths, num_layers = crossvit_depths(model)
    assert num_layers == 3 * 5 + 2
    check_lrs(model, wrapper, depths, num_layers, 1e-3, 0.75)


def test_crossvit_rule_names_and_errors():
    from mmcrossformer.models import CrossViT
    from mmcrossformer.models.utils import crossvit_layer_depth
    backbone = CrossViT(arch='9', out_type='featmap')  # no last fusions
    rule = dict(num_encoders=3, depths=(1, 3))
    assert crossvit_layer_depth('cls_tokens.1', **rule) == (0, 11)
    assert crossvit_layer_depth('encoders.0.branches.1.2.attn.qkv.weight',
                                **rule) == (3, 11)
    assert crossvit_layer_depth('encoders.2.branches.0.0.norm1.weight',
                                **rule) == (7, 11)
    assert crossvit_layer_depth('encoders.1.fusions.0.attn.q.weight',
                                **rule) == (6, 11)
    assert crossvit_layer_depth('norms.0.weight', **rule) == (10, 11)
    assert crossvit_layer_depth('head.layers.0.fc.weight', prefix='backbone.',
                                **rule) == (10, 11)
    for name, _ in backbone.named_parameters():
        depth, n = crossvit_layer_depth(name, **rule)
        assert 0 <= depth < n
    for bad, match in [('encoders.3.branches.0.0.x', 'encoder index 3'),
                       ('encoders.0.branches.0.1.x', 'layer index 1'),
                       ('encoders.0.branches.2.0.x', 'branch index 2'),
                       ('encoders.x.fusions', 'encoder index'),
                       ('pos_embed', "'pos_embed' is not a CrossViT")]:
        with pytest.raises(ValueError, match=match):
            crossvit_layer_depth(bad, **rule)


def test_crossformer_method_errors_name_the_parameter():
    from mmcrossformer.models import CrossFormer
    model = CrossFormer(arch='t')  # depths 1-1-8-6
    assert model.get_layer_depth('stages.3.blocks.5.attn.proj.bias') == \
        (16, 18)
    assert model.get_layer_depth('stages.2.downsample.projs.1.weight') == \
        (2, 18)
    with pytest.raises(ValueError, match='block index 1 is out of range'):
        model.get_layer_depth('backbone.stages.0.blocks.1.norm1.weight',
                              'backbone.')
    with pytest.raises(ValueError, match="'backbone.absolute_pos_embed'"):
        model.get_layer_depth('backbone.absolute_pos_embed', 'backbone.')


@pytest.mark.parametrize('paramwise,match', [
    (dict(), 'layer_decay_rate must be a number in \\(0, 1\\].*None'),
    (dict(layer_decay_rate=1.5), 'got 1.5'),
    (dict(layer_decay_rate='0.9'), "got '0.9'"),
    (dict(layer_decay_rate=0.9,
          custom_keys={'.pos_embeds': dict(lr_mult=0.1)}),
     "custom_keys\\['.pos_embeds'\\] sets lr_mult=0.1"),
])
def test_constructor_rejects_bad_settings(paramwise, match):
    model = nn.Linear(2, 2)
    optim = dict(
        optimizer=dict(type='SGD', lr=0.1),
        constructor=LAYER_DECAY,
        paramwise_cfg=paramwise)
    init_default_scope('mmpretrain')
    import mmcrossformer  # noqa: F401
    with pytest.raises(ValueError, match=match):
        build_optim_wrapper(model, ConfigDict(optim))


def test_model_without_a_rule_is_named():
    from mmcrossformer.engine import find_layer_depth

    class Detector(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = nn.Conv2d(3, 4, 3)

    with pytest.raises(NotImplementedError, match='backbone Conv2d'):
        find_layer_depth(Detector())
