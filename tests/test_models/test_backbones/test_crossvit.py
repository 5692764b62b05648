import copy
import math

import pytest
import torch
import torch.nn.functional as F

from mmcrossformer.models import CrossViT

ARCHS = ['tiny', 'small', 'base', '9', '15', '18', '9-dagger', '15-dagger',
         '18-dagger']
# parameters of timm's crossvit_<arch>_240 (backbone + both classifiers),
# measured with timm 1.0.31
TIMM_PARAMS = {
    'tiny': 7014800, 'small': 26856272, 'base': 105025232, '9': 8553296,
    '15': 27528464, '18': 43271408, '9-dagger': 8776592,
    '15-dagger': 28209008, '18-dagger': 44266976
}
SMALL = dict(
    embed_dims=(16, 32), depths=(1, 2), num_heads=(2, 4), mlp_ratios=(2, 2),
    num_encoders=2)


def small(**kwargs):
    kwargs.setdefault('arch', copy.deepcopy(SMALL))
    model = CrossViT(**kwargs)
    model.init_weights()
    return model


def test_arch_zoo_is_table_1():
    # Table 1: patch 12 / 16, K = 3, N = 1, heads equal in both branches
    table = {
        'tiny': ((96, 192), 3, 4, 4), 'small': ((192, 384), 6, 4, 4),
        'base': ((384, 768), 12, 4, 4), '9': ((128, 256), 4, 3, 3),
        '15': ((192, 384), 6, 5, 3), '18': ((224, 448), 7, 6, 3)
    }
    for name, (dims, heads, m, r) in table.items():
        for arch in (name, name + '-dagger'):
            if arch not in CrossViT.arch_zoo:
                assert name in ('tiny', 'small', 'base')
                continue
            model = CrossViT(arch=arch)
            assert model.embed_dims == dims
            assert model.patch_sizes == (12, 16)
            assert model.num_encoders == 3
            enc = model.encoders[0]
            assert [len(b) for b in enc.branches] == [1, m]
            assert [b[0].attn.num_heads for b in enc.branches] == [heads] * 2
            assert enc.branches[1][0].ffn.feedforward_channels == r * dims[1]
            assert len(enc.fusions) == 2  # L = 1 per branch
            dagger = arch.endswith('dagger')
            assert model.patch_embeds[0].multi_conv == dagger
    assert CrossViT.arch_zoo['ti'] == CrossViT.arch_zoo['tiny']


@pytest.mark.parametrize('arch', ARCHS)
def test_param_count_equals_timm(arch):
    model = CrossViT(arch=arch)
    head = sum(c * 1000 + 1000 for c in model.embed_dims)
    count = sum(p.numel() for p in model.parameters()) + head
    assert count == TIMM_PARAMS[arch]


def test_unknown_and_custom_arch():
    with pytest.raises(ValueError, match=r"'20'.*'15-dagger'.*'tiny'"):
        CrossViT(arch='20')
    assert small().embed_dims == (16, 32)
    bad = dict(SMALL)
    del bad['mlp_ratios']
    with pytest.raises(ValueError, match='mlp_ratios'):
        CrossViT(arch=bad)
    with pytest.raises(ValueError, match='unknown keys'):
        CrossViT(arch=dict(SMALL, depth=(1, 1)))
    with pytest.raises(ValueError, match='num_heads=3 of branch 0'):
        CrossViT(arch=dict(SMALL, num_heads=(3, 4)))
    with pytest.raises(ValueError, match='one per branch'):
        CrossViT(arch=dict(SMALL, depths=(1, 1, 1)))
    with pytest.raises(ValueError, match='two branches'):
        CrossViT(arch=dict(SMALL, embed_dims=(16, ), depths=(1, ),
                           num_heads=(2, ), mlp_ratios=(2, ),
                           patch_sizes=(16, )), branch_img_sizes=(224, ))
    with pytest.raises(ValueError, match='patch sizes'):
        CrossViT(arch=dict(SMALL, multi_conv=True, patch_sizes=(8, 16)))
    with pytest.raises(ValueError, match='branch_img_sizes'):
        CrossViT(arch='9', branch_img_sizes=(240, ))
    with pytest.raises(ValueError, match='out_type'):
        CrossViT(arch='9', out_type='raw')


def test_three_branches():
    arch = dict(embed_dims=(8, 16, 32), depths=(1, 1, 2), num_heads=(1, 2, 4),
                mlp_ratios=(1, 1, 1), patch_sizes=(8, 12, 16),
                num_encoders=1)
    model = CrossViT(arch=arch, branch_img_sizes=(224, 240, 224),
                     out_type='featmap').eval()
    with torch.no_grad():
        (a, b, c), = model(torch.rand(1, 3, 64, 64))
    assert a.shape == (1, 8, 8, 8) and b.shape == (1, 16, 6, 6)
    assert c.shape == (1, 32, 4, 4)


def test_branch_views_at_default_resolution():
    model = CrossViT(arch='9')
    # the paper / official code: small branch at 240, large at 224
    assert model.branch_input_sizes(224, 224) == [(240, 240), (224, 224)]
    assert model.token_grids(224, 224) == [(20, 20), (14, 14)]
    assert model.pos_grids == ((20, 20), (14, 14))
    # ratio 240 / 224 in general, rounded half up
    assert model.branch_input_sizes(800, 1216) == [(857, 1303), (800, 1216)]
    assert model.branch_input_sizes(333, 517) == [(357, 554), (333, 517)]
    assert model.token_grids(333, 517) == [(30, 47), (21, 33)]


@pytest.mark.parametrize('size', [(224, 224), (800, 1216), (333, 517)])
def test_featmap_shapes(size):
    # any input size; the grids follow token_grids() (documented rule)
    model = small(out_type='featmap', out_indices=(0, 1)).eval()
    if size == (800, 1216):
        model = small(arch=dict(SMALL, num_encoders=1, depths=(1, 1)),
                      out_type='featmap').eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, *size))
    grids = model.token_grids(*size)
    for out in outs:
        assert len(out) == 2
        for b, feat in enumerate(out):
            assert feat.shape == (1, model.embed_dims[b], *grids[b])
            assert torch.isfinite(feat).all()
    grids_large = grids[1]
    assert grids_large == (math.ceil(size[0] / 16), math.ceil(size[1] / 16))


def test_real_arch_featmap_at_224():
    model = CrossViT(arch='15-dagger', out_type='featmap',
                     out_indices=(0, 1, 2)).eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, 224, 224))
    assert [tuple(o.shape) for out in outs for o in out] == [
        (2, 192, 20, 20), (2, 384, 14, 14)
    ] * 3


def test_cls_token_output_is_normed_last_token():
    model = small().eval()
    x = torch.rand(2, 3, 64, 80)
    with torch.no_grad():
        (cls_s, cls_l), = model(x)
        xs, _ = model._embed(x)
        for enc in model.encoders:
            xs = enc(xs)
    assert cls_s.shape == (2, 16) and cls_l.shape == (2, 32)
    torch.testing.assert_close(cls_s, model.norms[0](xs[0])[:, 0])
    torch.testing.assert_close(cls_l, model.norms[1](xs[1])[:, 0])


def test_image_resized_only_for_small_branch():
    """At 224 the large branch embeds the input as it is and the small one
    the bicubic 240 resize (what the official code and timm do)."""
    model = small(arch=dict(SMALL, num_encoders=1)).eval()
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        tokens, grids = model._embed(x)
        big = F.interpolate(x, size=(240, 240), mode='bicubic',
                            align_corners=False)
        ref_s = model.patch_embeds[0].projection(big).flatten(2).transpose(
            1, 2)
        ref_l = model.patch_embeds[1].projection(x).flatten(2).transpose(1, 2)
    torch.testing.assert_close(tokens[0][:, 1:],
                               ref_s + model.pos_embeds[0][:, 1:])
    torch.testing.assert_close(tokens[1][:, 1:],
                               ref_l + model.pos_embeds[1][:, 1:])
    assert grids == [(20, 20), (14, 14)]


def test_pos_embed_resized_in_forward():
    # resize_pos_embed itself: tests/test_models/test_layers
    model = small(arch=dict(SMALL, num_encoders=1)).eval()
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        tokens, grids = model._embed(x)
    assert grids == model.token_grids(96, 128) == [(9, 12), (6, 8)]
    assert tokens[1].shape == (1, 1 + 48, 32)


def test_load_resizes_pos_embed_of_other_grid():
    model = small()
    state = copy.deepcopy(model.state_dict())
    # a 384-pixel checkpoint: grids 34 x 34 and 24 x 24
    state['pos_embeds.0'] = torch.randn(1, 1 + 34 * 34, 16)
    state['pos_embeds.1'] = torch.randn(1, 1 + 24 * 24, 32)
    model.load_state_dict(state, strict=True)
    # timm's resample_abs_pos_embed: CLS kept, the grid resized bicubically
    pos = state['pos_embeds.1']
    grid = pos[:, 1:].reshape(1, 24, 24, 32).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(14, 14), mode='bicubic',
                         align_corners=False).flatten(2).transpose(1, 2)
    torch.testing.assert_close(model.pos_embeds[1].data,
                               torch.cat([pos[:, :1], grid], 1))
    state['pos_embeds.0'] = torch.randn(1, 1 + 33, 16)  # not square
    with pytest.raises(RuntimeError, match='pos_embeds.0'):
        model.load_state_dict(state)


def test_out_indices():
    model = small(out_indices=(-1, 0), out_type='featmap').eval()
    assert model.out_indices == (0, 1)
    assert small(out_indices=1).out_indices == (1, )
    for bad in [2, -3]:
        with pytest.raises(ValueError, match=f'{bad}'):
            small(out_indices=(0, bad))
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 48, 48))
    assert len(outs) == 2 and all(len(o) == 2 for o in outs)


def test_frozen_stages_and_train_returns_self():
    with pytest.raises(ValueError, match='frozen_stages'):
        small(frozen_stages=3)
    model = small(frozen_stages=1)
    assert model.train() is model and model.eval() is model
    model.train()
    assert not model.patch_embeds.training
    for p in [*model.cls_tokens, *model.pos_embeds,
              *model.patch_embeds.parameters()]:
        assert not p.requires_grad
    assert all(not m.training for m in model.encoders[0].modules())
    assert all(not p.requires_grad for p in model.encoders[0].parameters())
    assert all(m.training for m in model.encoders[1].modules())
    assert all(p.requires_grad for p in model.encoders[1].parameters())
    assert all(p.requires_grad for p in model.norms.parameters())
    model = small(frozen_stages=2)
    assert not any(p.requires_grad for p in model.parameters())
    model = small(frozen_stages=-1)
    assert all(p.requires_grad for p in model.parameters())


def test_with_cp_same_outputs_and_grads():
    torch.manual_seed(0)
    ref = small(drop_path_rate=0., out_type='featmap').train()
    cp = small(drop_path_rate=0., out_type='featmap', with_cp=True).train()
    cp.load_state_dict(ref.state_dict())
    x = torch.rand(2, 3, 48, 64)
    grads = []
    for model in (ref, cp):
        (small_map, large_map), = model(x)
        (small_map.square().mean() + large_map.mean()).backward()
        grads.append(model.encoders[0].fusions[0].attn.q.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0


def test_drop_path_schedule():
    model = CrossViT(arch='15', drop_path_rate=0.3)

    def rate(module):  # DropPath, or Identity for 0
        return getattr(module.drop_path, 'drop_prob', 0.)

    rates = []
    for enc in model.encoders:
        large = [rate(layer) for layer in enc.branches[1]]
        assert rate(enc.branches[0][0]) == large[0]
        assert [rate(f) for f in enc.fusions] == [large[-1]] * 2
        rates += large
    expected = torch.linspace(0, 0.3, 15).tolist()
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.3)
    assert rates[1:] == pytest.approx(expected[1:])


def test_init_weights(tmp_path):
    model = CrossViT(arch=copy.deepcopy(SMALL))
    assert torch.all(model.pos_embeds[0] == 0)
    model.init_weights()
    assert model.pos_embeds[0].std() > 0.01
    assert model.encoders[0].branches[0][0].attn.qkv.bias.abs().sum() == 0
    w = model.encoders[0].fusions[0].attn.q.weight
    assert 0.015 < w.std() < 0.025  # trunc-normal(0.02)
    # Pretrained without a checkpoint: trains from scratch with the same init
    scratch = CrossViT(
        arch=copy.deepcopy(SMALL),
        init_cfg=dict(type='Pretrained', checkpoint=None))
    scratch.init_weights()
    assert scratch.pos_embeds[1].std() > 0.01
    # Pretrained with a checkpoint (prefix 'backbone.')
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'state_dict': {
        f'backbone.{k}': v for k, v in model.state_dict().items()}}, path)
    loaded = CrossViT(
        arch=copy.deepcopy(SMALL),
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='backbone.'))
    loaded.init_weights()
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_rejects_bad_input():
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        small()(torch.rand(1, 1, 32, 32))


@pytest.mark.parametrize('out_type', ['cls_token', 'featmap'])
def test_no_graph_breaks_under_torch_compile(out_type):
    """torch.compile captures the backbone forward in one graph."""
    import torch._dynamo as dynamo
    model = CrossViT(
        arch='tiny', img_size=64, branch_img_sizes=(72, 64),
        out_type=out_type).eval()
    dynamo.reset()
    explained = dynamo.explain(model)(torch.randn(2, 3, 64, 64))
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


def test_featmap_mode_has_no_dead_fusions():
    """Feature maps do not read the last encoder's CLS tokens, so that
    encoder has no fusions; every other parameter gets a gradient (DDP with
    find_unused_parameters=False needs it)."""
    cls_model = small(out_type='cls_token')
    model = small(out_type='featmap')
    assert cls_model.encoders[-1].fusions is not None
    assert model.encoders[-1].fusions is None
    assert model.encoders[0].fusions is not None
    x = torch.rand(2, 3, 48, 64)
    model.train()
    sum(o.sum() for o in model(x)[-1]).backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused, unused
    # the patch tokens are what the classification model computes: loading
    # its weights (last fusions dropped) gives the same maps
    state = cls_model.state_dict()
    dead = [k for k in state if k.startswith('encoders.1.fusions.')]
    assert dead
    model.load_state_dict(state, strict=True)
    model.eval()
    cls_model.eval()
    cls_model.out_type = 'featmap'  # same weights, maps after the fusions
    with torch.no_grad():
        for a, b in zip(model(x)[-1], cls_model(x)[-1]):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
